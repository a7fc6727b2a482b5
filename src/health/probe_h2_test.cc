// The HTTP/2 health check (probe_h2.h): what it sends and how it judges answers, against an
// in-memory nghttp2 server session (no sockets), and the verdict rules as a pure function.
#include "health/probe_h2.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <map>
#include <string>
#include <vector>

namespace sluice::health {
namespace {

// A server session that records the one request it gets and answers what a test submits.
class H2Server {
 public:
  H2Server() {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, OnFrame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, OnData);
    nghttp2_session_server_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~H2Server() { nghttp2_session_del(session_); }

  bool Feed(const std::string& bytes) {
    ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()),
                                         bytes.size());
    return n == static_cast<ssize_t>(bytes.size());
  }
  std::string Output() {
    std::string out;
    const uint8_t* data = nullptr;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
      out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    return out;
  }
  // A head (END_STREAM when `end`) on the request's stream.
  void Head(const std::vector<std::pair<std::string, std::string>>& fields, bool end) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [name, value] : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                     value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_submit_headers(session_, end ? NGHTTP2_FLAG_END_STREAM : NGHTTP2_FLAG_NONE, stream_,
                           nullptr, nva.data(), nva.size(), nullptr);
  }
  void Reset() { nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_, 2); }
  void GoAway() { nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, 0, 0, nullptr, 0); }

  std::map<std::string, std::string> headers;
  std::string body;
  bool request_ended = false;
  int32_t stream_ = 0;

 private:
  static H2Server* Self(void* p) { return static_cast<H2Server*>(p); }
  static int OnHeader(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t nl,
                      const uint8_t* value, size_t vl, uint8_t, void* p) {
    Self(p)->stream_ = f->hd.stream_id;
    Self(p)->headers[std::string(reinterpret_cast<const char*>(name), nl)] =
        std::string(reinterpret_cast<const char*>(value), vl);
    return 0;
  }
  static int OnFrame(nghttp2_session*, const nghttp2_frame* f, void* p) {
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
      Self(p)->request_ended = true;
    }
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t, const uint8_t* data, size_t len, void* p) {
    Self(p)->body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  nghttp2_session* session_ = nullptr;
};

// Moves bytes both ways until neither side has anything to say.
void Pump(H2ProbeIo& probe, H2Server& server) {
  for (int round = 0; round < 16; ++round) {
    std::optional<std::string> out = probe.TakeOutput();
    ASSERT_TRUE(out.has_value());
    if (!out->empty()) ASSERT_TRUE(server.Feed(*out));
    std::string in = server.Output();
    // False once a GOAWAY ended the session: what arrived before is still judged.
    if (!in.empty()) (void)probe.Receive(reinterpret_cast<const uint8_t*>(in.data()), in.size());
    if (out->empty() && in.empty()) return;
  }
}

H2ProbeIo::Request Req(H2CheckKind kind, std::string_view path) {
  H2ProbeIo::Request r;
  r.kind = kind;
  r.path = path;
  r.authority = "10.0.0.1:8080";
  return r;
}

class ProbeH2Test : public ::testing::Test {
 protected:
  std::optional<CheckResult> Judge() {
    return JudgeH2Answer(probe_.answer(), kind_, &*http_, &*grpc_);
  }
  void Start(H2CheckKind kind, std::string_view path) {
    kind_ = kind;
    ASSERT_TRUE(probe_.Start(Req(kind, path)));
    ASSERT_TRUE(probe_.active());
    Pump(probe_, server_);
  }

  H2CheckKind kind_ = H2CheckKind::kHttp2;
  std::optional<StatusMatcher> http_ = StatusMatcher::Parse("200");
  std::optional<StatusMatcher> grpc_ = StatusMatcher::Parse("12", 0, 99);
  H2ProbeIo probe_;
  H2Server server_;
};

TEST_F(ProbeH2Test, Http2ChecksGetThePathAndJudgeTheStatus) {
  Start(H2CheckKind::kHttp2, "/health?deep=1");
  EXPECT_EQ(server_.headers[":method"], "GET");
  EXPECT_EQ(server_.headers[":scheme"], "http");
  EXPECT_EQ(server_.headers[":path"], "/health?deep=1");
  EXPECT_EQ(server_.headers[":authority"], "10.0.0.1:8080");
  EXPECT_EQ(server_.headers["user-agent"], "ELB-HealthChecker/2.0");
  EXPECT_EQ(server_.headers.count("content-type"), 0u);
  EXPECT_TRUE(server_.request_ended);
  EXPECT_EQ(server_.body, "");
  EXPECT_EQ(Judge(), std::nullopt);  // nothing answered yet
  server_.Head({{":status", "200"}}, false);
  Pump(probe_, server_);
  ASSERT_TRUE(Judge().has_value());  // the head decides; the body is not awaited
  EXPECT_EQ(Judge()->outcome, CheckOutcome::kSuccess);
  EXPECT_EQ(Judge()->status_code, 200);
}

TEST_F(ProbeH2Test, Http2StatusOutsideTheMatcherIsAMismatch) {
  Start(H2CheckKind::kHttp2, "/");
  server_.Head({{":status", "100"}}, false);  // informational: skipped
  Pump(probe_, server_);
  EXPECT_EQ(Judge(), std::nullopt);
  server_.Head({{":status", "503"}}, true);
  Pump(probe_, server_);
  ASSERT_TRUE(Judge().has_value());
  EXPECT_EQ(Judge()->outcome, CheckOutcome::kCodeMismatch);
  EXPECT_EQ(Judge()->status_code, 503);
  EXPECT_EQ(Describe(Reason::kTargetResponseCodeMismatch, Judge()->status_code),
            "Health checks failed with these codes: [503]");
}

TEST_F(ProbeH2Test, GrpcChecksPostOneEmptyMessageAndJudgeTheTrailer) {
  Start(H2CheckKind::kGrpc, "/AWS.ALB/healthcheck");
  EXPECT_EQ(server_.headers[":method"], "POST");
  EXPECT_EQ(server_.headers[":path"], "/AWS.ALB/healthcheck");
  EXPECT_EQ(server_.headers["content-type"], "application/grpc");
  EXPECT_EQ(server_.headers["te"], "trailers");
  EXPECT_EQ(server_.headers["user-agent"], "ELB-HealthChecker/2.0");
  EXPECT_EQ(server_.body, std::string(5, '\0'));
  EXPECT_TRUE(server_.request_ended);
  server_.Head({{":status", "200"}, {"content-type", "application/grpc"}}, false);
  Pump(probe_, server_);
  EXPECT_EQ(Judge(), std::nullopt);  // the trailers decide
  server_.Head({{"grpc-status", "12"}, {"grpc-message", "unimplemented"}}, true);
  Pump(probe_, server_);
  ASSERT_TRUE(Judge().has_value());
  EXPECT_EQ(Judge()->outcome, CheckOutcome::kSuccess);
  grpc_ = StatusMatcher::Parse("0", 0, 99);
  EXPECT_EQ(Judge()->outcome, CheckOutcome::kCodeMismatch);
  EXPECT_EQ(Judge()->status_code, kGrpcStatusBase + 12);
  EXPECT_EQ(Describe(Reason::kTargetResponseCodeMismatch, Judge()->status_code),
            "Health checks failed with these gRPC codes: [12]");
}

TEST_F(ProbeH2Test, GrpcTrailersOnlyAnswer) {
  grpc_ = StatusMatcher::Parse("0-2", 0, 99);
  Start(H2CheckKind::kGrpc, "/pkg.Service/Check");
  server_.Head({{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "0"}},
               true);
  Pump(probe_, server_);
  ASSERT_TRUE(Judge().has_value());
  EXPECT_EQ(Judge()->outcome, CheckOutcome::kSuccess);
}

TEST_F(ProbeH2Test, GrpcHttpErrorStatusIsAMismatchOfThatStatus) {
  Start(H2CheckKind::kGrpc, "/AWS.ALB/healthcheck");
  server_.Head({{":status", "503"}}, false);
  Pump(probe_, server_);
  ASSERT_TRUE(Judge().has_value());  // at once, without waiting for the end
  EXPECT_EQ(Judge()->outcome, CheckOutcome::kCodeMismatch);
  EXPECT_EQ(Judge()->status_code, 503);
}

TEST_F(ProbeH2Test, GrpcAnswerWithoutGrpcStatusIsAMismatch) {
  Start(H2CheckKind::kGrpc, "/AWS.ALB/healthcheck");
  server_.Head({{":status", "200"}}, true);
  Pump(probe_, server_);
  ASSERT_TRUE(Judge().has_value());
  EXPECT_EQ(Judge()->outcome, CheckOutcome::kCodeMismatch);
  EXPECT_EQ(Judge()->status_code, kGrpcStatusMissing);
  EXPECT_EQ(Describe(Reason::kTargetResponseCodeMismatch, kGrpcStatusMissing),
            "Health checks failed: the gRPC answer had no grpc-status");
}

TEST_F(ProbeH2Test, ResetStreamOrGoAwayFails) {
  Start(H2CheckKind::kGrpc, "/AWS.ALB/healthcheck");
  server_.Reset();
  Pump(probe_, server_);
  ASSERT_TRUE(Judge().has_value());
  EXPECT_EQ(Judge()->outcome, CheckOutcome::kFailed);

  H2Server other;
  ASSERT_TRUE(probe_.Start(Req(H2CheckKind::kHttp2, "/")));  // a fresh session
  EXPECT_EQ(probe_.answer().status, 0);
  other.GoAway();
  Pump(probe_, other);
  ASSERT_TRUE(Judge().has_value());
  EXPECT_EQ(Judge()->outcome, CheckOutcome::kFailed);
}

TEST_F(ProbeH2Test, Http1AnswerIsNotHttp2) {
  ASSERT_TRUE(probe_.Start(Req(H2CheckKind::kHttp2, "/")));
  ASSERT_TRUE(probe_.TakeOutput().has_value());
  const std::string h1 = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  (void)probe_.Receive(reinterpret_cast<const uint8_t*>(h1.data()), h1.size());
  ASSERT_TRUE(probe_.TakeOutput().has_value());  // the GOAWAY of a protocol error
  EXPECT_TRUE(probe_.answer().failed);
  ASSERT_TRUE(Judge().has_value());
  EXPECT_EQ(Judge()->outcome, CheckOutcome::kFailed);
  probe_.Close();
  EXPECT_FALSE(probe_.active());
  EXPECT_FALSE(probe_.TakeOutput().has_value());
}

TEST(ProbeH2Judge, Rules) {
  auto http = StatusMatcher::Parse("200-299");
  auto grpc = StatusMatcher::Parse("0", 0, 99);
  auto judge = [&](H2Answer a, H2CheckKind k) { return JudgeH2Answer(a, k, &*http, &*grpc); };
  H2Answer a;
  EXPECT_EQ(judge(a, H2CheckKind::kHttp2), std::nullopt);
  a.failed = true;
  EXPECT_EQ(judge(a, H2CheckKind::kHttp2)->outcome, CheckOutcome::kFailed);
  EXPECT_EQ(judge(a, H2CheckKind::kGrpc)->outcome, CheckOutcome::kFailed);
  a = H2Answer{204, -1, false, true};  // a status arrived before the connection failed
  EXPECT_EQ(judge(a, H2CheckKind::kHttp2)->outcome, CheckOutcome::kSuccess);
  a = H2Answer{200, 0, false, true};  // gRPC: failed before the end: no verdict from trailers
  EXPECT_EQ(judge(a, H2CheckKind::kGrpc)->outcome, CheckOutcome::kFailed);
  a = H2Answer{200, 0, true, false};
  EXPECT_EQ(judge(a, H2CheckKind::kGrpc)->outcome, CheckOutcome::kSuccess);
  EXPECT_EQ(judge(a, H2CheckKind::kHttp2)->outcome, CheckOutcome::kSuccess);
  a = H2Answer{0, -1, true, false};  // ended without any status: malformed
  EXPECT_EQ(judge(a, H2CheckKind::kGrpc)->outcome, CheckOutcome::kFailed);
  // No matcher matches nothing.
  EXPECT_EQ(
      JudgeH2Answer(H2Answer{200, 0, true, false}, H2CheckKind::kGrpc, nullptr, nullptr)->outcome,
      CheckOutcome::kCodeMismatch);
}

TEST(ProbeH2Judge, Codes) {
  EXPECT_EQ(ParseH2Code("0"), 0);
  EXPECT_EQ(ParseH2Code("12"), 12);
  EXPECT_EQ(ParseH2Code("503"), 503);
  for (const char* bad : {"", "012", "1000", "-1", "1 ", "x", "00"}) {
    EXPECT_EQ(ParseH2Code(bad), -1) << bad;
  }
}

}  // namespace
}  // namespace sluice::health
