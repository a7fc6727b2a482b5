// Every way an exchange ends, driven through a whole worker over memory streams on a fake
// clock (MemoryHarness): what the client gets (ALB's status) and the Cause the exchange
// record carries, with its table entry (outcome.h). No sockets, no sleeping.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "proxy/memory_harness.h"

namespace sluice::proxy {
namespace {

constexpr char kConfig[] = R"(LoadBalancers:
  - Name: lb
    Attributes: {idle_timeout.timeout_seconds: "30"}
    Listeners:
      - Protocol: HTTP
        Port: 80
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: forward
            TargetGroupName: app
        Rules:
          - Priority: 10
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/fixed"]}}]
            Actions:
              - Type: fixed-response
                FixedResponseConfig: {StatusCode: "418", MessageBody: "teapot"}
          - Priority: 20
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/redir"]}}]
            Actions:
              - Type: redirect
                RedirectConfig: {Protocol: HTTPS, StatusCode: HTTP_301}
          - Priority: 30
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/none"]}}]
            Actions: [{Type: forward, TargetGroupName: empty}]
          - Priority: 40
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/bad/*"]}}]
            Actions: [{Type: forward, TargetGroupName: app}]
            Transforms:
              - Type: url-rewrite
                UrlRewriteConfig: {Rewrites: [{Regex: "^/bad/(.*)$", Replace: "$1"}]}
TargetGroups:
  - Name: app
    Port: 8080
    HealthCheckEnabled: false
    Targets: [{Id: 10.0.0.1}]
  - Name: empty
    Port: 8080
    HealthCheckEnabled: false
)";

// What the target does once it has read the request.
enum class Target { kNone, kAnswer, kClose, kHoldConnect, kSilent };

struct Case {
  const char* name;
  std::string request;
  Target target = Target::kNone;
  std::string answer;          // kAnswer: written by the target
  bool close_after = false;    // kAnswer: the target closes after answering
  bool client_leaves = false;  // the client closes after sending
  int64_t advance_ms = 0;      // then the clock moves this far
  std::string status;          // what the client's answer starts with ("" : nothing)
  Cause cause;
};

std::string Get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: a\r\n" + extra + "\r\n";
}

std::vector<Case> Cases() {
  std::string many_xff = "X-Forwarded-For: 10.0.0.1";
  for (int i = 2; i <= 31; ++i) many_xff += ", 10.0.0." + std::to_string(i);
  return {
      {"TargetResponse", Get("/"), Target::kAnswer,
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, false, 0, "HTTP/1.1 200 ",
       Cause::kTargetResponse},
      {"FixedResponse", Get("/fixed"), Target::kNone, "", false, false, 0, "HTTP/1.1 418 ",
       Cause::kFixedResponse},
      {"Redirect", Get("/redir"), Target::kNone, "", false, false, 0, "HTTP/1.1 301 ",
       Cause::kRedirect},
      {"MalformedRequest", "GET\x01 / HTTP/1.1\r\nHost: a\r\n\r\n", Target::kNone, "", false, false,
       0, "HTTP/1.1 400 ", Cause::kMalformedRequest},
      // An unparseable Content-Length is Severe to the classifier: defensive mode refuses it
      // before framing is read.
      {"DesyncRefused", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", Target::kNone,
       "", false, false, 0, "HTTP/1.1 400 ", Cause::kDesyncRefused},
      {"InvalidHost", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", Target::kNone, "", false, false, 0,
       "HTTP/1.1 400 ", Cause::kInvalidHost},
      {"RequestLineTooLong", "GET /" + std::string(17 * 1024, 'a') + " HTTP/1.1\r\n\r\n",
       Target::kNone, "", false, false, 0, "HTTP/1.1 414 ", Cause::kRequestLineTooLong},
      {"RequestHeadTooLarge", Get("/", "X-Big: " + std::string(17 * 1024, 'a') + "\r\n"),
       Target::kNone, "", false, false, 0, "HTTP/1.1 400 ", Cause::kRequestHeadTooLarge},
      {"UnsupportedVersion", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", Target::kNone, "", false, false,
       0, "HTTP/1.1 505 ", Cause::kUnsupportedVersion},
      {"UnsupportedTransferCoding", Get("/", "Transfer-Encoding: gzip\r\n"), Target::kNone, "",
       false, false, 0, "HTTP/1.1 501 ", Cause::kUnsupportedTransferCoding},
      {"MethodNotAllowed", "TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", Target::kNone, "", false, false,
       0, "HTTP/1.1 405 ", Cause::kMethodNotAllowed},
      {"MalformedRequestBody",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Target::kSilent,
       "", false, false, 0, "HTTP/1.1 400 ", Cause::kMalformedRequestBody},
      {"ClientHeadTimeout", "GET / HTTP/1.1\r\nHo", Target::kNone, "", false, false, 10500,
       "HTTP/1.1 408 ", Cause::kClientHeadTimeout},
      {"ClientBodyTimeout", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
       Target::kSilent, "", false, false, 31000, "HTTP/1.1 408 ", Cause::kClientBodyTimeout},
      {"ClientClosed", Get("/"), Target::kSilent, "", false, true, 0, "", Cause::kClientClosed},
      {"TooManyForwardedFor", Get("/", many_xff + "\r\n"), Target::kNone, "", false, false, 0,
       "HTTP/1.1 463 ", Cause::kTooManyForwardedFor},
      {"TargetConnectTimeout", Get("/"), Target::kHoldConnect, "", false, false, 10500,
       "HTTP/1.1 504 ", Cause::kTargetConnectTimeout},
      {"TargetClosed", Get("/"), Target::kClose, "", false, false, 0, "HTTP/1.1 502 ",
       Cause::kTargetClosed},
      {"TargetTimeout", Get("/"), Target::kSilent, "", false, false, 31000, "HTTP/1.1 504 ",
       Cause::kTargetTimeout},
      {"MalformedResponse", Get("/"), Target::kAnswer, "SSH-2.0-OpenSSH\r\n\r\n", false, false, 0,
       "HTTP/1.1 502 ", Cause::kMalformedResponse},
      {"ResponseHeadTooLarge", Get("/"), Target::kAnswer,
       "HTTP/1.1 200 OK\r\nX-Big: " + std::string(33 * 1024, 'a') + "\r\n\r\n", false, false, 0,
       "HTTP/1.1 502 ", Cause::kResponseHeadTooLarge},
      {"UpgradeNotSupported", Get("/"), Target::kAnswer,
       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", false, false, 0,
       "HTTP/1.1 502 ", Cause::kUpgradeNotSupported},
      {"ResponseTruncated", Get("/"), Target::kAnswer,
       "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true, false, 0, "HTTP/1.1 200 ",
       Cause::kResponseTruncated},
      {"NoTargets", Get("/none"), Target::kNone, "", false, false, 0, "HTTP/1.1 503 ",
       Cause::kNoTargets},
      {"TransformFailed", Get("/bad/x"), Target::kNone, "", false, false, 0, "HTTP/1.1 500 ",
       Cause::kTransformFailed},
  };
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class OutcomeCauseTest : public ::testing::TestWithParam<Case> {};

TEST_P(OutcomeCauseTest, ClientGetsAlbsStatusAndTheRecordItsCause) {
  const Case& c = GetParam();
  auto created = MemoryHarness::Create(kConfig);
  ASSERT_TRUE(created.ok()) << created.error().message;
  MemoryHarness& h = *created.value();
  if (c.target == Target::kHoldConnect) {
    h.Hold(h.snapshot().target_groups[0].targets[0].address);
  }
  net::MemoryTransport* client = h.Connect();
  ASSERT_TRUE(client->Write(c.request.data(), c.request.size()).ok());
  h.Run();
  if (c.client_leaves) client->Close();
  for (auto& u : h.upstreams()) {
    u.target->ReadAll();
    if (c.target == Target::kAnswer) {
      ASSERT_EQ(u.target->Write(c.answer.data(), c.answer.size()).bytes(), c.answer.size());
      if (c.close_after) u.target->Close();
    } else if (c.target == Target::kClose) {
      u.target->Close();
    }
  }
  h.Run();
  if (c.advance_ms > 0) h.Advance(c.advance_ms);
  if (!c.client_leaves) {
    std::string got = client->ReadAll();
    EXPECT_EQ(got.rfind(c.status, 0), 0u) << got.substr(0, 200);
  }
  ASSERT_EQ(h.records().size(), 1u);
  const ExchangeRecord& r = h.records()[0].record;
  EXPECT_EQ(r.cause, c.cause) << Describe(r.cause).name;
  const CauseInfo& info = Describe(c.cause);
  if (info.status != 0) {
    EXPECT_EQ(r.elb_status, info.status);
    EXPECT_EQ(c.status, c.client_leaves ? "" : "HTTP/1.1 " + std::to_string(info.status) + " ");
  }
  EXPECT_EQ(info.error_reason, "-");  // ALB logs no error_reason for these (reference §5.3)
}

INSTANTIATE_TEST_SUITE_P(Causes, OutcomeCauseTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace sluice::proxy
