// libFuzzer target for the elbv2 API endpoint: the input is the bytes of one whole HTTP request,
// answered by ApiServer::Answer over a Service with a small fixed model (one load balancer with
// one HTTP listener and two rules, two target groups with targets). Authentication always
// names the same key, every call is authorized, and the apply hook accepts every next model, so
// that mutations run through the operation code (a fresh Service per input: runs do not depend
// on each other). Traps (abort) when an invariant fails:
//  * the answer is "HTTP/1.1 <status> ..." with a status the API sends (200, 400, 403, 404, 405,
//    411, 413, 500, 503), an x-amzn-RequestId header, and a Content-Length equal to the body's
//    length;
//  * the body is well-formed XML as far as a small checker goes: "<?xml" prolog, one root
//    element, tags balanced, only known entities, valid UTF-8 with no control characters but
//    tab and newline; an error is an <ErrorResponse> with a <Code>; the request id of the
//    header is the body's;
//  * each audit record (AuditJson) is one line that parses as JSON, holds no raw control
//    character, redacts secret-looking parameters, and agrees with the answer (status, id).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/api_server.h"
#include "api/service.h"
#include "config/loader.h"

namespace {

using sluice::api::ApiResult;

void Check(bool ok) {
  if (!ok) std::abort();
}

constexpr std::string_view kKeyId = "AKIAFUZZEXAMPLE00001";

// The model every input starts from; tests/fuzz/make_api_corpus.py computes the same ARNs.
constexpr const char* kYaml = R"(
Account: {Id: "123456789012", Region: eu-west-3}
TargetGroups:
  - Name: blue
    Protocol: HTTP
    Port: 8001
    HealthCheckPath: /health
    Targets: [{Id: 127.0.0.1}, {Id: 127.0.0.2, Port: 8002}]
  - Name: green
    Protocol: HTTP
    Port: 9001
    Targets: [{Id: 10.0.0.7}]
LoadBalancers:
  - Name: web
    Listeners:
      - Protocol: HTTP
        Port: 8080
        DefaultActions: [{Type: forward, TargetGroupName: blue}]
        Rules:
          - Priority: 10
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/api/*"]}}]
            Actions: [{Type: forward, TargetGroupName: green}]
          - Priority: 20
            Conditions: [{Field: host-header, HostHeaderConfig: {Values: [old.example.com]}}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "503"}}]
)";

const sluice::config::Config& BaseConfig() {
  static const sluice::config::Config* config = [] {
    auto loaded = sluice::config::LoadConfigFromString(kYaml, "fuzz.yaml");
    Check(std::holds_alternative<sluice::config::Config>(loaded));
    return new sluice::config::Config(std::get<sluice::config::Config>(std::move(loaded)));
  }();
  return *config;
}

std::vector<sluice::health::TargetGroupHealth> Health() {
  using sluice::health::Reason;
  using sluice::health::TargetState;
  sluice::health::TargetGroupHealth blue{"blue", {}};
  blue.targets.push_back({"127.0.0.1", 8001, 8001, TargetState::kHealthy, Reason::kNone, 0});
  blue.targets.push_back(
      {"127.0.0.2", 8002, 8002, TargetState::kUnhealthy, Reason::kTargetResponseCodeMismatch, 502});
  sluice::health::TargetGroupHealth green{"green", {}};
  green.targets.push_back({"10.0.0.7", 9001, 9001, TargetState::kInitial, Reason::kNone, 0});
  return {blue, green};
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// Valid UTF-8 of XML characters (no overlong forms, no surrogates, nothing above U+10FFFF,
// not U+FFFE or U+FFFF).
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':';
}

// A small XML checker: prolog, then one element with balanced tags; text holds only entity
// references, no '<'; attribute values are quoted. Not a full parser, but every unescaped
// value that could change the document's structure breaks one of these rules.
bool XmlShape(std::string_view x) {
  if (!StartsWith(x, "<?xml ")) return false;
  size_t i = x.find("?>");
  if (i == std::string_view::npos) return false;
  i += 2;
  std::vector<std::string_view> open;
  bool root_seen = false;
  while (i < x.size()) {
    char c = x[i];
    if (c == '<') {
      bool closing = i + 1 < x.size() && x[i + 1] == '/';
      size_t start = i + (closing ? 2 : 1);
      size_t end = start;
      while (end < x.size() && NameChar(x[end])) ++end;
      if (end == start || end >= x.size()) return false;
      std::string_view name = x.substr(start, end - start);
      if (closing) {
        if (x[end] != '>' || open.empty() || open.back() != name) return false;
        open.pop_back();
        i = end + 1;
        continue;
      }
      if (open.empty() && root_seen) return false;  // a second root element
      // Attributes: name="value" pairs until '>' or "/>".
      size_t j = end;
      while (j < x.size() && x[j] == ' ') {
        ++j;
        size_t a = j;
        while (j < x.size() && NameChar(x[j])) ++j;
        if (j == a || j + 1 >= x.size() || x[j] != '=' || x[j + 1] != '"') return false;
        size_t close = x.find('"', j + 2);
        if (close == std::string_view::npos) return false;
        std::string_view value = x.substr(j + 2, close - j - 2);
        if (value.find('<') != std::string_view::npos) return false;
        j = close + 1;
      }
      if (j < x.size() && x[j] == '>') {
        open.push_back(name);
        root_seen = true;
        i = j + 1;
      } else if (j + 1 < x.size() && x[j] == '/' && x[j + 1] == '>') {
        root_seen = true;
        i = j + 2;
      } else {
        return false;
      }
      continue;
    }
    if (open.empty() && c != '\n' && c != ' ') return false;  // text outside the root
    if (c == '&') {
      size_t semi = x.find(';', i);
      if (semi == std::string_view::npos) return false;
      std::string_view entity = x.substr(i + 1, semi - i - 1);
      bool known = entity == "amp" || entity == "lt" || entity == "gt" || entity == "quot" ||
                   entity == "apos" ||
                   (entity.size() > 1 && entity[0] == '#' &&
                    entity.find_first_not_of("0123456789", 1) == std::string_view::npos);
      if (!known) return false;
      i = semi + 1;
      continue;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t' && c != '\n') return false;  // XML 1.0 forbids these
    ++i;
  }
  return root_seen && open.empty();
}

// The value of <tag>...</tag>, the first one.
std::optional<std::string_view> Element(std::string_view x, std::string_view tag) {
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  size_t a = x.find(open);
  if (a == std::string_view::npos) return std::nullopt;
  a += open.size();
  size_t b = x.find(close, a);
  if (b == std::string_view::npos) return std::nullopt;
  return x.substr(a, b - a);
}

struct Audited {
  bool called = false;
  int status = 0;
  std::string request_id;
};
Audited last_audit;

void CheckAudit(const sluice::api::AuditRecord& record) {
  std::string line = sluice::api::AuditJson(record);
  Check(!line.empty() && line.back() == '\n');
  for (size_t i = 0; i + 1 < line.size(); ++i) {
    Check(static_cast<unsigned char>(line[i]) >= 0x20);  // one line, no raw control character
  }
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  Check(!j.is_discarded() && j.is_object());
  Check(j.value("httpStatus", -1) == record.http_status);
  Check(j.value("requestID", std::string()) == record.request_id);
  const nlohmann::json& params = j["requestParameters"];
  Check(params.is_object());
  for (const auto& [name, value] : params.items()) {
    std::string lower;
    for (char c : name) lower.push_back(Lower(c));
    bool secret = lower.find("secret") != std::string::npos ||
                  lower.find("password") != std::string::npos ||
                  lower.find("token") != std::string::npos;
    if (secret) Check(value == "HIDDEN_DUE_TO_SECURITY_REASONS");
  }
  last_audit = {true, record.http_status, record.request_id};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view request(reinterpret_cast<const char*>(data), size);
  sluice::api::ServiceHooks hooks;
  hooks.health = Health;
  hooks.apply = [](const sluice::config::Config&, const std::string&,
                   const sluice::api::ChangeScope&) -> ApiResult<bool> { return true; };
  sluice::api::Service service(BaseConfig(), std::move(hooks));
  sluice::api::ApiServer server(
      &service,
      [](const sluice::api::HttpCall&) -> ApiResult<std::string> { return std::string(kKeyId); },
      [](const std::string& caller, const sluice::api::QueryParams&,
         const sluice::api::HttpCall&) -> ApiResult<bool> {
        Check(caller == kKeyId);
        return true;
      },
      CheckAudit);
  last_audit = {};
  std::string answer = server.Answer(request, "203.0.113.7");

  // Status line.
  Check(StartsWith(answer, "HTTP/1.1 ") && answer.size() > 12);
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    Check(answer[i] >= '0' && answer[i] <= '9');
    status = status * 10 + (answer[i] - '0');
  }
  Check(answer[12] == ' ');
  static constexpr int kStatuses[] = {200, 400, 403, 404, 405, 411, 413, 500, 503};
  bool known = false;
  for (int s : kStatuses) known = known || s == status;
  Check(known);

  // Header fields.
  size_t head_end = answer.find("\r\n\r\n");
  Check(head_end != std::string::npos);
  std::string_view head = std::string_view(answer).substr(0, head_end);
  std::string_view body = std::string_view(answer).substr(head_end + 4);
  std::optional<std::string_view> request_id, content_length;
  size_t at = head.find("\r\n");
  Check(at != std::string_view::npos);
  while (at != std::string_view::npos) {
    at += 2;
    size_t next = head.find("\r\n", at);
    std::string_view field = head.substr(at, next == std::string_view::npos ? next : next - at);
    size_t colon = field.find(": ");
    Check(colon != std::string_view::npos && colon > 0);
    std::string_view name = field.substr(0, colon), value = field.substr(colon + 2);
    if (EqualsIgnoreCase(name, "x-amzn-RequestId")) request_id = value;
    if (EqualsIgnoreCase(name, "Content-Length")) content_length = value;
    at = next;
  }
  Check(request_id && !request_id->empty());
  Check(content_length && *content_length == std::to_string(body.size()));

  // Body.
  Check(ValidUtf8(body));
  Check(XmlShape(body));
  Check(body.find("<RequestId>" + std::string(*request_id) + "</RequestId>") !=
        std::string_view::npos);
  if (status == 200) {
    Check(body.find("Response xmlns=\"") != std::string_view::npos);
    Check(body.find("<ErrorResponse") == std::string_view::npos);
  } else {
    Check(body.find("<ErrorResponse") != std::string_view::npos);
    std::optional<std::string_view> code = Element(body, "Code");
    Check(code && !code->empty());
  }
  // A call that got as far as the operation was audited, with its answer's status and id.
  if (status == 200) Check(last_audit.called);
  if (last_audit.called) {
    Check(last_audit.status == status);
    Check(last_audit.request_id == *request_id);
  }
  return 0;
}
