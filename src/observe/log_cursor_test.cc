#include "observe/log_cursor.h"

#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <vector>

#include "observe/access_log_format.h"

namespace sluice::observe {
namespace {

// The escaping rule, byte by byte, as the file comment of access_log_format.h states it.
bool Plain(unsigned char c, Escaping how) {
  if (c == ' ') return how != Escaping::kToken;
  if (c == '\\') return how == Escaping::kDistinguishedName;
  return c > 0x20 && c < 0x7f && c != '"';
}

TEST(LogCursor, EveryByteEscapedByTheRuleOfItsMode) {
  for (Escaping how : {Escaping::kQuoted, Escaping::kToken, Escaping::kDistinguishedName}) {
    for (int b = 0; b < 256; ++b) {
      const char in[3] = {'a', static_cast<char>(b), 'z'};
      char out[16];
      LogCursor c(out);
      c.Escaped(std::string_view(in, 3), how);
      const std::string got(out, c.position());
      char want[16];
      if (Plain(static_cast<unsigned char>(b), how)) {
        std::snprintf(want, sizeof(want), "a%cz", b);
      } else {
        std::snprintf(want, sizeof(want), "a\\x%02Xz", b);
      }
      EXPECT_EQ(got, want) << "byte " << b << " mode " << static_cast<int>(how);
    }
  }
}

TEST(LogCursor, IntsAndSecondsAtTheirWidest) {
  char out[64];
  LogCursor c(out);
  c.Int(INT64_MIN);
  c.Put(' ');
  c.Seconds(INT64_MAX);
  c.Put(' ');
  c.Seconds(-5);
  EXPECT_EQ(std::string(out, c.position()), "-9223372036854775808 9223372036854775.807 -1");
}

TEST(LogCursor, SecondTimeInTheSameSecondReusesItsTextOnly) {
  char out[128];
  LogCursor c(out);
  c.IsoTime(1530570180186641);  // 2018-07-02T22:23:00.186641Z
  c.Put(' ');
  c.IsoTime(1530570180000007);  // same second
  c.Put(' ');
  c.IsoTime(1530570179999999);  // the second before
  c.Put(' ');
  c.IsoTime(1530570179000000);  // same as the last
  EXPECT_EQ(std::string(out, c.position()),
            "2018-07-02T22:23:00.186641Z 2018-07-02T22:23:00.000007Z "
            "2018-07-02T22:22:59.999999Z 2018-07-02T22:22:59.000000Z");
}

// The worst line: every view as long as the others and escaped whole, the widest addresses
// and numbers. WriteAccessLogLine must stay inside AccessLogLineBound: the worker's buffer is
// sized by it and nothing else checks.
TEST(LogCursor, AccessLogLineStaysInsideItsBound) {
  const std::string bad(300, '\x01');
  AccessLogEntry e;
  for (std::string_view* v : {&e.type,
                              &e.elb,
                              &e.method,
                              &e.scheme,
                              &e.host,
                              &e.request_target,
                              &e.version,
                              &e.user_agent,
                              &e.ssl_cipher,
                              &e.ssl_protocol,
                              &e.target_group_arn,
                              &e.trace_id,
                              &e.domain_name,
                              &e.chosen_cert_arn,
                              &e.actions_executed,
                              &e.redirect_url,
                              &e.error_reason,
                              &e.classification,
                              &e.classification_reason,
                              &e.transformed_host,
                              &e.transformed_uri,
                              &e.request_transform_status}) {
    *v = bad;
  }
  e.type = "https";  // written as they are, not escaped: short so the bound stays close
  e.elb = "app/a/0";
  const std::string origin_form = "/" + bad;  // scheme://host:port is written too
  e.request_target = origin_form;
  const SocketAddress wide =
      *SocketAddress::Parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
  e.client = wide;
  e.has_target = true;
  e.target = wide;
  e.response_unix_us = INT64_MAX;
  e.request_unix_us = INT64_MIN + 1;
  e.request_processing_ms = e.target_processing_ms = e.response_processing_ms = INT64_MAX;
  e.elb_status = e.target_status = INT_MAX;
  e.received_bytes = e.sent_bytes = INT64_MAX;  // 19 digits (UINT64_MAX would print -1)
  e.port = INT_MIN;
  e.matched_rule_priority = INT_MAX;
  e.conn_trace_id[0] = e.conn_trace_id[1] = UINT64_MAX;
  const size_t bound = AccessLogLineBound(e);
  std::vector<char> buf(bound + 64, '#');
  const size_t n = WriteAccessLogLine(e, buf.data());
  EXPECT_LE(n, bound);
  EXPECT_GT(n + 512, bound);  // close to the bound: this line is (nearly) the worst case
  EXPECT_EQ(std::string(buf.data() + bound, 64), std::string(64, '#'));
  std::string appended = "prefix ";
  AppendAccessLogLine(e, &appended);
  EXPECT_EQ(appended, "prefix " + std::string(buf.data(), n));
}

}  // namespace
}  // namespace sluice::observe
