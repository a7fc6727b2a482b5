// The loader's entry points: YAML parsing (with every yaml-cpp exception turned into a
// ConfigError), the top-level sections, and the checks that span resources.
#include "config/loader.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "config/file.h"
#include "config/parse.h"

namespace sluice::config {
namespace internal {
namespace {

constexpr size_t kMaxFileBytes = 16 * 1024 * 1024;
// yaml-cpp keeps roughly 600 bytes per node, so this bounds a parsed document to about
// 360 MB however the file's bytes are spent (16 MiB of "- 1" lines would be 4 million nodes).
// A target is 5 nodes ({Id: .., Port: ..}): 100 groups of 1,000 targets fit (issue 9's
// 100,000-target configs), with room for rules and listeners.
constexpr size_t kMaxNodes = kMaxDocumentNodes;
constexpr int kMaxNesting = 64;
constexpr size_t kMaxNamesListed = 20;

// yaml-cpp's parser recurses once per nesting level. Its own guard (2000 levels) is deeper
// than is safe on small stacks, so reject deep flow nesting ("[[[[...") up front. Block
// nesting is bounded by indentation and stays shallow in practice. Quoted scalars and
// comments are skipped. Returns the 0-based line of the offending bracket, or -1.
int FindExcessiveNesting(std::string_view text) {
  int depth = 0;
  int line = 0;
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      comment = false;
      continue;
    }
    if (comment) continue;
    if (quote != 0) {
      if (quote == '"' && c == '\\') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    switch (c) {
      case '"':
      case '\'':
        // Only an opening quote at a token start begins a quoted scalar.
        if (i == 0 || std::strchr(" \t\n[{,:-?", text[i - 1]) != nullptr) quote = c;
        break;
      case '#':
        if (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t') comment = true;
        break;
      case '[':
      case '{':
        if (++depth > kMaxNesting) return line;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return -1;
}

// Thrown by DocumentProbe when a document holds more than kMaxNodes nodes.
struct TooManyNodes {
  YAML::Mark mark;
};

// Sees the parser's events for one document: where it starts, and how many nodes it has
// (counted before yaml-cpp builds them, since building them is what costs memory).
class DocumentProbe : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Count(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Count(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Count(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Count(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Count(mark);
  }
  void OnMapEnd() override {}

  YAML::Mark start;

 private:
  void Count(const YAML::Mark& mark) {
    if (++nodes_ > kMaxNodes) throw TooManyNodes{mark};
  }
  size_t nodes_ = 0;
};

// Checks that `text` holds at most one YAML document. yaml-cpp 0.7 does not consume a stray
// ',' at document level: each call "parses" another empty document at the same place, so
// YAML::LoadAll never ends (and YAML::Load silently returns null). This probe asks the parser
// for at most two documents, so it always ends. Returns the mark and message of a problem.
// Throws YAML::Exception on syntax errors.
std::optional<std::pair<YAML::Mark, std::string>> CheckDocuments(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentProbe first;
  if (!parser.HandleNextDocument(first)) return std::nullopt;
  DocumentProbe second;
  if (!parser.HandleNextDocument(second)) return std::nullopt;
  const int pos = second.start.pos;
  if (pos >= 0 && static_cast<size_t>(pos) < text.size() && text[pos] == ',') {
    return std::make_pair(second.start, std::string("YAML syntax error: unexpected ','"));
  }
  return std::make_pair(second.start, std::string("only one YAML document is allowed per file"));
}

// HTTP2 and GRPC groups take only HTTP/2 requests, which ALB receives only on HTTPS listeners
// (reference §2.2); beyond ALB, an HTTP listener of a load balancer with cleartext HTTP/2
// (sluice.routing.http2.cleartext.enabled) receives them too.
void CheckHttp2Listener(LoadContext& ctx, const Config& config, const TargetGroupRef& ref,
                        const TargetGroup& g) {
  if (g.protocol_version == "HTTP1" || ref.listener_protocol != "HTTP") return;
  if (ref.load_balancer >= 0 &&
      static_cast<size_t>(ref.load_balancer) < config.load_balancers.size() &&
      config.load_balancers[static_cast<size_t>(ref.load_balancer)].attributes.http2_cleartext) {
    return;
  }
  ctx.reader.AddError(ref.mark, ref.path,
                      "an HTTP listener cannot forward to target group " + QuoteValue(g.name) +
                          " of protocol version " + g.protocol_version +
                          ": HTTP/2 requests arrive on HTTPS listeners (or set "
                          "sluice.routing.http2.cleartext.enabled on the load balancer)");
}

// The target-group protocols a listener protocol may forward to, as a message lists them
// (the supported rows of reference §8.1; nlb/protocols.h has the whole table).
std::string_view AllowedGroupProtocols(std::string_view listener) {
  if (listener == "TCP") return "TCP, TCP_UDP";
  if (listener == "TLS") return "TCP, TLS";
  if (listener == "UDP") return "UDP, TCP_UDP";
  if (listener == "TCP_UDP") return "TCP_UDP";
  return "HTTP, HTTPS";
}

// A listener forwards only to groups of a protocol it can carry (AWS's IncompatibleProtocols,
// reference §8.1): TCP listeners to TCP or TCP_UDP groups, TLS listeners to TCP or TLS groups,
// UDP listeners to UDP or TCP_UDP groups, TCP_UDP listeners to TCP_UDP groups, HTTP/HTTPS
// listeners to HTTP/HTTPS groups.
void CheckProtocols(LoadContext& ctx, const Config& config, const TargetGroupRef& ref) {
  for (const TargetGroup& g : config.target_groups) {
    if (g.name != ref.name) continue;
    const std::string_view allowed = AllowedGroupProtocols(ref.listener_protocol);
    bool ok = false;
    for (size_t at = 0; at <= allowed.size() && !ok;) {
      size_t end = allowed.find(", ", at);
      if (end == std::string_view::npos) end = allowed.size();
      ok = allowed.substr(at, end - at) == g.protocol;
      at = end + 2;
    }
    if (ok) {
      CheckHttp2Listener(ctx, config, ref, g);
      return;
    }
    ctx.reader.AddError(ref.mark, ref.path,
                        "IncompatibleProtocols: a " + ref.listener_protocol +
                            " listener cannot forward to target group " + QuoteValue(g.name) +
                            " of protocol " + g.protocol + "; allowed: " + std::string(allowed));
    return;
  }
}

// A target group serves the listeners of one load balancer (AWS's TargetGroupAssociationLimit,
// reference §9): a forward from a second one is refused where it is written.
void CheckOneLoadBalancer(LoadContext& ctx, const Config& config, const TargetGroupRef& ref,
                          std::map<std::string, const TargetGroupRef*>& first_user) {
  if (ref.load_balancer < 0 ||
      static_cast<size_t>(ref.load_balancer) >= config.load_balancers.size()) {
    return;
  }
  auto [it, first] = first_user.emplace(ref.name, &ref);
  if (first || it->second->load_balancer == ref.load_balancer) return;
  const LoadBalancer& owner = config.load_balancers[static_cast<size_t>(it->second->load_balancer)];
  ctx.reader.AddError(ref.mark, ref.path,
                      "TargetGroupAssociationLimit: target group " + QuoteValue(ref.name) +
                          " already serves load balancer " + QuoteValue(owner.name) + " (line " +
                          std::to_string(LocationOf(it->second->mark).line) +
                          "); a target group can be associated with only one load balancer");
}

// Reports forward actions that name target groups which do not exist.
void CheckReferences(LoadContext& ctx, const Config& config) {
  std::set<std::string> defined;
  std::string listed;
  size_t count = 0;
  for (const TargetGroup& g : config.target_groups) {
    if (g.name.empty() || !defined.insert(g.name).second) continue;
    if (count++ < kMaxNamesListed) listed += (listed.empty() ? "" : ", ") + g.name;
  }
  if (count > kMaxNamesListed) listed += ", ...";
  std::map<std::string, const TargetGroupRef*> first_user;  // by group: its first load balancer's
  for (const TargetGroupRef& ref : ctx.refs) {
    if (defined.count(ref.name) != 0) {
      if (!ref.listener_protocol.empty()) CheckProtocols(ctx, config, ref);
      CheckOneLoadBalancer(ctx, config, ref, first_user);
      continue;
    }
    ctx.reader.AddError(
        ref.mark, ref.path,
        "target group " + QuoteValue(ref.name) + " is not defined" +
            (defined.empty() ? std::string("; TargetGroups is empty") : "; defined: " + listed));
  }
}

std::string ShowEndpoint(const Endpoint& e) {
  return e.ip.is_v4 ? e.address + ":" + std::to_string(e.port)
                    : "[" + e.address + "]:" + std::to_string(e.port);
}

// Who binds a port of one transport so far.
struct PortUse {
  std::map<std::array<uint8_t, 16>, const Endpoint*> by_ip;
  const Endpoint* any[2] = {nullptr, nullptr};       // first endpoint, per family
  const Endpoint* wildcard[2] = {nullptr, nullptr};  // first wildcard, per family
};

// Adds `e` to `use`, or reports the endpoint it clashes with (false).
bool CheckEndpoint(LoadContext& ctx, const Endpoint& e, PortUse& use, const IpAddress& v4_any,
                   const IpAddress& v6_any) {
  const int family = e.ip.is_v4 ? 0 : 1;
  const bool is_wildcard = e.ip == (e.ip.is_v4 ? v4_any : v6_any);
  const Endpoint* clash = nullptr;
  auto same = use.by_ip.find(e.ip.bytes);
  if (same != use.by_ip.end()) {
    clash = same->second;
  } else if (is_wildcard && use.any[family] != nullptr) {
    clash = use.any[family];
  } else if (!is_wildcard && use.wildcard[family] != nullptr) {
    clash = use.wildcard[family];
  }
  if (clash != nullptr) {
    ctx.reader.AddError(e.mark, e.path,
                        ShowEndpoint(e) + " clashes with " + clash->owner + " on " +
                            ShowEndpoint(*clash) + " (line " +
                            std::to_string(LocationOf(clash->mark).line) + ")");
    return false;
  }
  use.by_ip.emplace(e.ip.bytes, &e);
  if (use.any[family] == nullptr) use.any[family] = &e;
  if (is_wildcard && use.wildcard[family] == nullptr) use.wildcard[family] = &e;
  return true;
}

// Reports listeners (and the admin endpoint) that would bind the same address and port of
// one transport, or a specific address next to the wildcard address of the same family. TCP
// and UDP ports are separate: a UDP listener may share its port number with a TCP one (a
// TCP_UDP listener binds both, and each clash is reported once).
void CheckEndpoints(LoadContext& ctx) {
  std::map<std::pair<uint8_t, int>, PortUse> ports;  // by (transport, port)
  std::set<const Endpoint*> reported;
  // One load balancer has one listener per port whatever the transport (AWS's
  // DuplicateListener): TCP and UDP on one port is a TCP_UDP listener (reference §8.1).
  std::map<std::pair<std::string, int>, const Endpoint*> per_lb;
  for (const Endpoint& e : ctx.endpoints) {
    const size_t at = e.owner.find(".Listeners");
    if (e.owner.rfind("LoadBalancers[", 0) != 0 || at == std::string::npos) continue;
    auto [it, added] = per_lb.emplace(std::make_pair(e.owner.substr(0, at), e.port), &e);
    if (added || it->second->transports == e.transports) continue;  // same: a clash below
    ctx.reader.AddError(e.mark, e.path,
                        "DuplicateListener: " + it->second->owner + " (line " +
                            std::to_string(LocationOf(it->second->mark).line) +
                            ") already listens on port " + std::to_string(e.port) +
                            "; for TCP and UDP on one port use one TCP_UDP listener");
    reported.insert(&e);
  }
  const IpAddress v4_any = *IpAddress::Parse("0.0.0.0");
  const IpAddress v6_any = *IpAddress::Parse("::");
  for (uint8_t transport : {kTcpEndpoint, kUdpEndpoint}) {
    for (const Endpoint& e : ctx.endpoints) {
      if ((e.transports & transport) == 0 || reported.count(&e) != 0) continue;
      if (!CheckEndpoint(ctx, e, ports[{transport, e.port}], v4_any, v6_any)) {
        reported.insert(&e);
      }
    }
  }
}

LoadResult Load(std::string_view yaml_text, std::string_view file_name) {
  Reader reader{std::string(file_name)};
  int deep_line = FindExcessiveNesting(yaml_text);
  if (deep_line >= 0) {
    YAML::Mark mark;
    mark.line = deep_line;
    reader.AddError(mark, "",
                    "YAML nesting is deeper than " + std::to_string(kMaxNesting) + " levels");
    return reader.TakeErrors();
  }
  const std::string text(yaml_text);
  YAML::Node document;
  try {
    if (auto problem = CheckDocuments(text)) {
      reader.AddError(problem->first, "", problem->second);
      return reader.TakeErrors();
    }
    document = YAML::Load(text);
  } catch (const TooManyNodes& e) {
    reader.AddError(e.mark, "",
                    "the document has more than " + std::to_string(kMaxNodes) +
                        " YAML nodes (values, lists and mappings); this is the limit");
    return reader.TakeErrors();
  } catch (const YAML::DeepRecursion& e) {
    reader.AddError(e.mark, "", "YAML nesting is too deep");
    return reader.TakeErrors();
  } catch (const YAML::Exception& e) {
    reader.AddError(e.mark, "", "YAML syntax error: " + e.msg);
    return reader.TakeErrors();
  }
  Config config;
  config.source_file = std::string(file_name);
  LoadContext ctx(reader);
  if (document.IsDefined() && !document.IsNull()) {
    Field root{document, document.Mark(), "", true};
    MapReader top(reader, root,
                  {"LoadBalancers", "TargetGroups", "Certificates", "TrustStores", "Admin", "Api",
                   "Account", "Alarms", "S3"});
    if (top.ok()) {
      ParseTargetGroups(ctx, top.Get("TargetGroups"), &config.target_groups);
      ParseCertificates(ctx, top.Get("Certificates"), &config.certificates);
      ParseTrustStores(ctx, top.Get("TrustStores"), &config.trust_stores);
      ParseLoadBalancers(ctx, top.Get("LoadBalancers"), &config.load_balancers);
      ParseAdmin(ctx, top.Get("Admin"), &config.admin);
      ParseApi(ctx, top.Get("Api"), config.certificates, &config.api);
      ParseAccount(ctx, top.Get("Account"), &config.account);
      ParseS3(ctx, top.Get("S3"), &config.s3);
      ParseAlarms(ctx, top.Get("Alarms"), config.admin.metrics_resolution_seconds, &config.alarms);
    }
  }
  if (!reader.aborted()) {
    CheckReferences(ctx, config);
    CheckEndpoints(ctx);
  }
  if (reader.error_count() > 0) return reader.TakeErrors();
  return config;
}

}  // namespace
}  // namespace internal

LoadResult LoadConfigFromString(std::string_view yaml_text, std::string_view file_name) {
  // Control-plane boundary: nothing may escape. yaml-cpp reports through exceptions, and
  // allocation can fail on hostile input.
  try {
    return internal::Load(yaml_text, file_name);
  } catch (const YAML::Exception& e) {
    internal::Reader reader{std::string(file_name)};
    reader.AddError(e.mark, "", "YAML error: " + e.msg);
    return reader.TakeErrors();
  } catch (const std::exception& e) {
    return ConfigErrors{ConfigError{std::string(file_name), 0, 0, "",
                                    std::string("internal error while loading: ") + e.what()}};
  }
}

LoadResult LoadConfigFromFile(const std::string& path) {
  std::string text;
  std::string problem = ReadBoundedFile(path, internal::kMaxFileBytes, &text);
  if (!problem.empty()) return ConfigErrors{ConfigError{path, 0, 0, "", std::move(problem)}};
  return LoadConfigFromString(text, path);
}

}  // namespace sluice::config
