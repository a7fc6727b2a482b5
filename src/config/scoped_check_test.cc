// CheckListenerRulesChange must find exactly what a load of the whole exported model finds
// for a change to one listener's rules (the API's fast path for rule mutations), name the
// same fields, and hand back the model it was given.
#include "config/scoped_check.h"

#include <gtest/gtest.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <variant>

#include "config/export.h"
#include "config/export_test_util.h"
#include "config/loader.h"

namespace sluice::config {
namespace {

constexpr const char* kYaml = R"(
TargetGroups:
  - Name: blue
    Protocol: HTTP
    Port: 8001
    Targets: [{Id: 127.0.0.1}, {Id: 127.0.0.2}]
  - Name: other
    Protocol: HTTP
    Port: 8002
    Targets: [{Id: 127.0.0.3}]
  - Name: grpc
    Protocol: HTTP
    ProtocolVersion: HTTP2
    Port: 8003
  - Name: tcp
    Protocol: TCP
    Port: 8004
LoadBalancers:
  - Name: web
    Listeners:
      - Protocol: HTTP
        Port: 8080
        DefaultActions: [{Type: forward, TargetGroupName: blue}]
        Rules:
          - Priority: 10
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/a/*"]}}]
            Actions: [{Type: forward, TargetGroupName: blue}]
          - Priority: 20
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/b/*"]}}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
          - Priority: 30
            Conditions: [{Field: host-header, HostHeaderConfig: {Values: ["c.example.com"]}}]
            Actions: [{Type: forward, TargetGroupName: blue}]
      - Protocol: HTTP
        Port: 8081
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "404"}}]
  - Name: api
    Listeners:
      - Protocol: HTTP
        Port: 9080
        DefaultActions: [{Type: forward, TargetGroupName: other}]
)";

Action Forward(const std::string& group) {
  Action a;
  a.type = ActionType::kForward;
  a.forward.target_groups.push_back(TargetGroupTuple{group, 1, -1});
  return a;
}

Rule PathRule(int priority, std::vector<std::string> paths, Action action) {
  Rule r;
  r.priority = priority;
  Condition c;
  c.field = ConditionField::kPathPattern;
  c.values = std::move(paths);
  r.conditions.push_back(std::move(c));
  r.actions.push_back(std::move(action));
  return r;
}

Listener& Web(Config& m) { return m.load_balancers[0].listeners[0]; }
const Listener& Web(const Config& m) { return m.load_balancers[0].listeners[0]; }

// Adds `rule` to the first listener of "web" in priority order; the change names it.
ListenerRulesChange Add(Config& m, Rule rule) {
  auto& rules = Web(m).rules;
  size_t at = 0;
  while (at < rules.size() && rules[at].priority < rule.priority) ++at;
  rules.insert(rules.begin() + static_cast<std::ptrdiff_t>(at), std::move(rule));
  return ListenerRulesChange{0, 0, {at}};
}

// A message without its line numbers, and without the list of defined groups that follows
// "is not defined" (the reduced document holds only the groups it forwards to).
std::string WithoutLines(const std::string& message) {
  std::string out = std::regex_replace(message, std::regex(R"( \((first at )?line [0-9]+\))"), "");
  const size_t undefined = out.find(" is not defined");
  return undefined == std::string::npos ? out : out.substr(0, undefined + 15);
}

struct Case {
  const char* name;
  std::function<ListenerRulesChange(Config&)> change;
};

// `check` (a scoped check of the changed `model`) and a load of the whole export agree: both
// accept, or both refuse with the same first field and message (lines aside, which the
// scoped check leaves out); and the model comes back unchanged.
void ExpectSameAsWholeLoad(Config& model, const std::function<ConfigErrors(Config&)>& check) {
  const Config before = model;
  const LoadResult whole = LoadConfigFromString(ExportYaml(model), "t.yaml");
  const ConfigErrors scoped = check(model);
  std::string difference;
  EXPECT_TRUE(SameModel(before, model, &difference)) << difference;
  EXPECT_EQ(model.target_groups[0].targets.size(), 2u);
  const auto* errors = std::get_if<ConfigErrors>(&whole);
  ASSERT_EQ(errors != nullptr, !scoped.empty())
      << (errors ? errors->front().ToString() : scoped.front().ToString());
  if (errors == nullptr) return;
  EXPECT_EQ(scoped.front().field, errors->front().field);
  EXPECT_EQ(WithoutLines(scoped.front().message), WithoutLines(errors->front().message));
  EXPECT_EQ(scoped.front().line, 0);
  EXPECT_EQ(scoped.front().message.find("line "), std::string::npos) << scoped.front().message;
}

void ExpectAgreement(const Case& c) {
  SCOPED_TRACE(c.name);
  Config model = testing::LoadOrFail(kYaml, "t.yaml");
  const ListenerRulesChange change = c.change(model);
  const size_t rules = Web(model).rules.size();
  ExpectSameAsWholeLoad(
      model, [&change](Config& m) { return CheckListenerRulesChange(m, change, "t.yaml"); });
  EXPECT_EQ(Web(model).rules.size(), rules);
}

TEST(CheckListenerRulesChange, AgreesWithALoadOfTheWholeModel) {
  const Case cases[] = {
      {"a valid new rule", [](Config& m) { return Add(m, PathRule(15, {"/x"}, Forward("blue"))); }},
      {"a valid last rule",
       [](Config& m) { return Add(m, PathRule(99, {"/y"}, Forward("blue"))); }},
      {"an undefined group",
       [](Config& m) { return Add(m, PathRule(25, {"/x"}, Forward("nope"))); }},
      {"a group of another load balancer",
       [](Config& m) { return Add(m, PathRule(25, {"/x"}, Forward("other"))); }},
      {"an HTTP/2 group behind an HTTP listener",
       [](Config& m) { return Add(m, PathRule(25, {"/x"}, Forward("grpc"))); }},
      {"a TCP group", [](Config& m) { return Add(m, PathRule(5, {"/x"}, Forward("tcp"))); }},
      {"too many values",
       [](Config& m) {
         return Add(m, PathRule(25, {"/1", "/2", "/3", "/4"}, Forward("blue")));
       }},
      {"a bad path pattern",
       [](Config& m) { return Add(m, PathRule(25, {"/a b"}, Forward("blue"))); }},
      {"no action",
       [](Config& m) {
         Rule r = PathRule(25, {"/x"}, Forward("blue"));
         r.actions.clear();
         return Add(m, std::move(r));
       }},
      {"a group listed twice in one forward",
       [](Config& m) {
         Action a = Forward("blue");
         a.forward.target_groups.push_back(TargetGroupTuple{"blue", 1, -1});
         return Add(m, PathRule(25, {"/x"}, std::move(a)));
       }},
      {"a changed middle rule",
       [](Config& m) {
         Web(m).rules[1].conditions[0].values = {"/bad path"};
         return ListenerRulesChange{0, 0, {1}};
       }},
      {"a changed last rule",
       [](Config& m) {
         Web(m).rules[2].actions = {Forward("nope")};
         return ListenerRulesChange{0, 0, {2}};
       }},
      {"a priority taken twice",
       [](Config& m) {
         Web(m).rules[2].priority = 20;
         return ListenerRulesChange{0, 0, {}};
       }},
      {"a deleted rule",
       [](Config& m) {
         Web(m).rules.erase(Web(m).rules.begin());
         return ListenerRulesChange{0, 0, {}};
       }},
      {"default actions to an undefined group",
       [](Config& m) {
         Web(m).default_actions = {Forward("nope")};
         return ListenerRulesChange{0, 0, {}};
       }},
      {"a new protocol (HTTPS without a certificate), every rule listed",
       [](Config& m) {
         Web(m).protocol = "HTTPS";
         Web(m).ssl_policy = "ELBSecurityPolicy-2016-08";
         return ListenerRulesChange{0, 0, {0, 1, 2}};
       }},
      {"a new protocol (HTTP) under a rule forwarding to an HTTP/2 group, every rule listed",
       [](Config& m) {
         Web(m).rules[1].actions = {Forward("grpc")};
         return ListenerRulesChange{0, 0, {0, 1, 2}};
       }},
      {"a rule on the second listener",
       [](Config& m) {
         m.load_balancers[0].listeners[1].rules.push_back(PathRule(1, {"/z"}, Forward("grpc")));
         return ListenerRulesChange{0, 1, {0}};
       }},
  };
  for (const Case& c : cases) ExpectAgreement(c);
}

struct GroupCase {
  const char* name;
  std::function<size_t(Config&)> change;  // changes the model; returns the group's index
};

// A scoped check (of the changed group, or of nothing rules read) and a load of the whole
// export agree, as for rules above.
void ExpectGroupAgreement(const GroupCase& c,
                          const std::function<ConfigErrors(Config&, size_t)>& check) {
  SCOPED_TRACE(c.name);
  Config model = testing::LoadOrFail(kYaml, "t.yaml");
  const size_t group = c.change(model);
  ExpectSameAsWholeLoad(model, [&](Config& m) { return check(m, group); });
}

TargetGroup Group(const std::string& name) {
  TargetGroup g;
  g.name = name;
  g.port = 7000;
  return g;
}

TEST(CheckTargetGroupChange, AgreesWithALoadOfTheWholeModel) {
  const GroupCase cases[] = {
      {"a valid health check path",
       [](Config& m) {
         m.target_groups[0].health_check.path = "/ready";
         return size_t{0};
       }},
      {"a bad health check path on an unused group",
       [](Config& m) {
         m.target_groups[3].health_check.path = "no-slash";
         return size_t{3};  // the reduced document holds it as its third group
       }},
      {"a bad interval",
       [](Config& m) {
         m.target_groups[1].health_check.interval_seconds = 1;
         return size_t{1};
       }},
      {"a timeout not below the interval",
       [](Config& m) {
         m.target_groups[0].health_check.timeout_seconds = 40;
         return size_t{0};
       }},
      {"a bad app cookie",
       [](Config& m) {
         m.target_groups[0].attributes.stickiness_enabled = true;
         m.target_groups[0].attributes.stickiness_type = "app_cookie";
         m.target_groups[0].attributes.stickiness_app_cookie_name = "AWSALBX";
         return size_t{0};
       }},
      {"a new group",
       [](Config& m) {
         m.target_groups.push_back(Group("red"));
         return m.target_groups.size() - 1;
       }},
      {"a new group with a taken name",
       [](Config& m) {
         m.target_groups.push_back(Group("tcp"));
         return m.target_groups.size() - 1;
       }},
      {"a new group with a reserved tag",
       [](Config& m) {
         m.target_groups.push_back(Group("red"));
         m.target_groups.back().tags.push_back(Tag{"aws:x", "y"});
         return m.target_groups.size() - 1;
       }},
      {"a group only a later rule forwards to, now HTTP/2",
       [](Config& m) {
         m.target_groups.push_back(Group("third"));
         Web(m).rules[2].actions = {Forward("third")};
         m.target_groups.back().protocol_version = "HTTP2";
         return m.target_groups.size() - 1;
       }},
  };
  for (const GroupCase& c : cases) {
    ExpectGroupAgreement(
        c, [](Config& m, size_t g) { return CheckTargetGroupChange(m, g, "t.yaml"); });
  }
}

TEST(CheckOutsideRules, AgreesWithALoadOfTheWholeModel) {
  // The same comparison, with a change no rule check reads (the index is not used).
  const GroupCase cases[] = {
      {"a valid idle timeout",
       [](Config& m) {
         m.load_balancers[1].attributes.idle_timeout_seconds = 120;
         return size_t{0};
       }},
      {"an idle timeout out of range",
       [](Config& m) {
         m.load_balancers[1].attributes.idle_timeout_seconds = 5000;
         return size_t{0};
       }},
      {"a listener's mTLS header name that is not a token",
       [](Config& m) {
         m.load_balancers[0].listeners[1].attributes.mtls_leaf = "bad header";
         return size_t{0};
       }},
      {"max connections below zero",
       [](Config& m) {
         Web(m).attributes.max_connections = -1;
         return size_t{0};
       }},
      {"a deleted listener",
       [](Config& m) {
         m.load_balancers[0].listeners.erase(m.load_balancers[0].listeners.begin());
         return size_t{0};
       }},
      {"a deleted load balancer",
       [](Config& m) {
         m.load_balancers.erase(m.load_balancers.begin() + 1);
         return size_t{0};
       }},
      {"a load balancer's last listener deleted",
       [](Config& m) {
         m.load_balancers[1].listeners.clear();
         return size_t{0};
       }},
      {"a certificate on an HTTP listener",
       [](Config& m) {
         Web(m).certificates.push_back(ListenerCertificate{"nope"});
         return size_t{0};
       }},
  };
  for (const GroupCase& c : cases) {
    ExpectGroupAgreement(c, [](Config& m, size_t) { return CheckOutsideRules(m, "t.yaml"); });
  }
}

Listener NewListener(int port, std::vector<Action> defaults) {
  Listener l;
  l.protocol = "HTTP";
  l.port = port;
  l.default_actions = std::move(defaults);
  return l;
}

TEST(CheckListenerAdded, AgreesWithALoadOfTheWholeModel) {
  // The index is of the load balancer the listener was added to (its last listener).
  const GroupCase cases[] = {
      {"a valid listener",
       [](Config& m) {
         m.load_balancers[0].listeners.push_back(NewListener(8090, {Forward("blue")}));
         return size_t{0};
       }},
      {"a port taken",
       [](Config& m) {
         m.load_balancers[1].listeners.push_back(NewListener(8080, {Forward("other")}));
         return size_t{1};
       }},
      {"a group another load balancer's rule forwards to",
       [](Config& m) {
         m.target_groups.push_back(Group("third"));
         Web(m).rules[2].actions = {Forward("third")};  // web's rule: third serves web
         m.load_balancers[1].listeners.push_back(NewListener(9090, {Forward("third")}));
         return size_t{1};
       }},
      {"an HTTP/2 group behind HTTP",
       [](Config& m) {
         m.load_balancers[0].listeners.push_back(NewListener(8091, {Forward("grpc")}));
         return size_t{0};
       }},
      {"an undefined group",
       [](Config& m) {
         m.load_balancers[0].listeners.push_back(NewListener(8092, {Forward("nope")}));
         return size_t{0};
       }},
      {"a clash reported at another load balancer's second rule",
       [](Config& m) {
         m.target_groups.push_back(Group("third"));
         Listener& api = m.load_balancers[1].listeners[0];
         api.rules.push_back(PathRule(1, {"/x"}, Forward("other")));
         api.rules.push_back(PathRule(2, {"/y"}, Forward("third")));  // third serves api
         m.load_balancers[0].listeners.push_back(NewListener(8093, {Forward("third")}));
         return size_t{0};  // reported at api's rule, which comes later in the document
       }},
      {"a weighted forward with a group of another load balancer",
       [](Config& m) {
         Action a = Forward("blue");
         a.forward.target_groups.push_back(TargetGroupTuple{"other", 1, -1});
         m.load_balancers[0].listeners.push_back(NewListener(8094, {std::move(a)}));
         return size_t{0};
       }},
      {"a redirect",
       [](Config& m) {
         Action a;
         a.type = ActionType::kRedirect;
         a.redirect.protocol = "HTTPS";
         m.load_balancers[1].listeners.push_back(NewListener(9095, {std::move(a)}));
         return size_t{1};
       }},
  };
  for (const GroupCase& c : cases) {
    ExpectGroupAgreement(c, [](Config& m, size_t lb) {
      return CheckListenerAdded(m, lb, m.load_balancers[lb].listeners.size() - 1, "t.yaml");
    });
  }
}

TEST(CheckTargetGroupChange, AnIndexOutOfRangeIsAnError) {
  Config model = testing::LoadOrFail(kYaml, "t.yaml");
  EXPECT_FALSE(CheckTargetGroupChange(model, 4, "t").empty());
  EXPECT_EQ(model.target_groups.size(), 4u);
}

TEST(CheckListenerRulesChange, AnIndexOutOfRangeIsAnError) {
  Config model = testing::LoadOrFail(kYaml, "t.yaml");
  EXPECT_FALSE(CheckListenerRulesChange(model, {0, 0, {3}}, "t").empty());
  EXPECT_FALSE(CheckListenerRulesChange(model, {0, 2, {}}, "t").empty());
  EXPECT_FALSE(CheckListenerRulesChange(model, {2, 0, {}}, "t").empty());
  EXPECT_EQ(Web(model).rules.size(), 3u);
}

// The nodes yaml-cpp's parser reports for a document (what the loader's probe counts).
class NodeCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { ++nodes; }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { ++nodes; }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {
    ++nodes;
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    ++nodes;
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    ++nodes;
  }
  void OnMapEnd() override {}
  size_t nodes = 0;
};

size_t CountNodes(const std::string& yaml) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  NodeCounter counter;
  parser.HandleNextDocument(counter);
  return counter.nodes;
}

// Colons, dashes, commas and brackets inside values, IPv6 addresses, flow lists of mappings,
// empty lists: the bound never falls below the parser's count.
constexpr const char* kTricky = R"(
Account: {Id: "123456789012", Region: eu-west-3}
TargetGroups:
  - Name: v6
    Protocol: HTTP
    Port: 8001
    Tags: [{Key: "a:b, [c]", Value: "- d: e"}]
    Targets: [{Id: "::1"}, {Id: "fd00::2", Port: 8002}, {Id: 10.0.0.1}]
  - Name: empty
    Protocol: HTTP
    Port: 8003
LoadBalancers:
  - Name: web
    Listeners:
      - Protocol: HTTP
        Port: 8080
        DefaultActions: [{Type: forward, TargetGroupName: v6}]
        Rules:
          - Priority: 1
            Conditions:
              - Field: query-string
                QueryStringConfig: {Values: [{Key: "k:1", Value: "v, w"}, {Value: "-x"}]}
              - Field: source-ip
                SourceIpConfig: {Values: ["::/0", "10.0.0.0/8"]}
              - Field: http-header
                HttpHeaderConfig: {HttpHeaderName: X-A, Values: ["a: b, - c"]}
            Actions:
              - Type: redirect
                RedirectConfig: {Host: "#{host}", Port: "443", Protocol: HTTPS, Query: "a=b:c", StatusCode: HTTP_302}
          - Priority: 2
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/a:b/*", "/c-d"]}}]
            Actions:
              - Type: fixed-response
                FixedResponseConfig: {StatusCode: "200", ContentType: text/plain, MessageBody: "line1\nline2: \"x\""}
)";

TEST(YamlNodeBound, NeverBelowTheParsersCountOfAnExport) {
  for (const char* yaml : {kYaml, kTricky}) {
    const std::string exported = ExportYaml(testing::LoadOrFail(yaml, "t.yaml"));
    const size_t real = CountNodes(exported);
    EXPECT_GE(YamlNodeBound(exported), real) << exported;
    EXPECT_LE(YamlNodeBound(exported), real + real / 4) << exported;
  }
}

// Targets and rules as the API writes them at scale: the bound is within 10 % of the count
// (a forward action's flow mappings hold commas, which count as nodes).
TEST(YamlNodeBound, CloseForTargetsAndRules) {
  Config model = testing::LoadOrFail(kYaml, "t.yaml");
  for (int i = 0; i < 2000; ++i) {
    Target t;
    t.id = "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
    t.port = 8001 + (i % 2);
    model.target_groups[1].targets.push_back(t);
  }
  for (int i = 0; i < 500; ++i)
    Add(model, PathRule(100 + i, {"/p" + std::to_string(i)}, Forward("blue")));
  const std::string exported = ExportYaml(model);
  const size_t real = CountNodes(exported);
  EXPECT_GE(YamlNodeBound(exported), real);
  EXPECT_LE(YamlNodeBound(exported), real + real / 10);
  EXPECT_TRUE(WithinLoaderLimits(exported));
}

// The bound as first written, a byte at a time: the specification the skipping scan must
// match on any input.
size_t ByteAtATimeBound(std::string_view s) {
  size_t nodes = 1;
  bool quoted = false;
  bool line_start = true;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    const char next = i + 1 < s.size() ? s[i + 1] : '\n';
    if (c == '\n') {
      line_start = true;
      continue;
    }
    if (c == ' ') continue;
    if (c == '"') quoted = true;
    if (c == ':' && (next == ' ' || next == '\n')) nodes += 2;
    if (c == '-' && line_start && (next == ' ' || next == '\n')) ++nodes;
    if (c == '[' || c == ',') ++nodes;
    line_start = false;
  }
  return nodes;
}

TEST(YamlNodeBound, SameAsAByteAtATimeScanOnAnyInput) {
  const std::string alphabet = "\"\\:-[, \na\t";
  uint64_t x = 88172645463325252ULL;  // xorshift64: the same strings every run
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int round = 0; round < 200000; ++round) {
    std::string s(next() % 40, ' ');
    for (char& c : s) c = alphabet[next() % alphabet.size()];
    ASSERT_EQ(YamlNodeBound(s), ByteAtATimeBound(s)) << ::testing::PrintToString(s);
  }
  const std::string exported = ExportYaml(testing::LoadOrFail(kTricky, "t.yaml"));
  EXPECT_EQ(YamlNodeBound(exported), ByteAtATimeBound(exported));
}

TEST(YamlNodeBound, OverTheLimitIsOutsideTheLoadersLimits) {
  std::string yaml = "Targets:\n";
  for (size_t i = 0; i < kMaxDocumentNodes / 3 + 1; ++i) yaml += "  - {Id: \"10.0.0.1\"}\n";
  EXPECT_GT(YamlNodeBound(yaml), kMaxDocumentNodes);
  EXPECT_FALSE(WithinLoaderLimits(yaml));
}

}  // namespace
}  // namespace sluice::config
