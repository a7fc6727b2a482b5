#include "observe/access_log_format.h"

#include <gtest/gtest.h>

namespace sluice::observe {
namespace {

SocketAddress Addr(const char* ip, uint16_t port) { return *SocketAddress::Parse(ip, port); }

// The first documented example of reference §5.4 (2018 format, 29 fields), rebuilt from its
// values; Sluice writes the 33-field form, so the trailing four are compared apart.
TEST(AccessLogFormat, DocumentedHttpExample) {
  AccessLogEntry e;
  e.type = "http";
  e.response_unix_us = 1530570180186641;  // 2018-07-02T22:23:00.186641Z
  e.request_unix_us = 1530570168364000;   // 2018-07-02T22:22:48.364000Z
  e.elb = "app/my-loadbalancer/50dc6c495c0c9188";
  e.client = Addr("192.168.131.39", 2817);
  e.has_target = true;
  e.target = Addr("10.0.0.1", 80);
  e.request_processing_ms = 0;
  e.target_processing_ms = 1;
  e.response_processing_ms = 0;
  e.elb_status = 200;
  e.target_status = 200;
  e.received_bytes = 34;
  e.sent_bytes = 366;
  e.method = "GET";
  e.scheme = "http";
  e.host = "www.example.com";
  e.port = 80;
  e.request_target = "/";
  e.version = "HTTP/1.1";
  e.user_agent = "curl/7.46.0";
  e.target_group_arn =
      "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/"
      "73e2d6bc24d8a067";
  e.trace_id = "Root=1-58337262-36d228ad5d99923122bbe354";
  e.matched_rule_priority = 0;
  e.actions_executed = "forward";
  e.error_reason = "-";
  e.conn_trace_id[0] = 0x0123456789abcdefull;
  e.conn_trace_id[1] = 0x0123456789abcdefull;
  std::string line;
  AppendAccessLogLine(e, &line);
  EXPECT_EQ(line,
            "http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 "
            "192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 \"GET "
            "http://www.example.com:80/ HTTP/1.1\" \"curl/7.46.0\" - - "
            "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/"
            "73e2d6bc24d8a067 \"Root=1-58337262-36d228ad5d99923122bbe354\" \"-\" \"-\" 0 "
            "2018-07-02T22:22:48.364000Z \"forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" "
            "\"-\" TID_0123456789abcdef0123456789abcdef \"-\" \"-\" \"-\"\n");
}

TEST(AccessLogFormat, MalformedRequestHasDashesAndMinusOnes) {
  AccessLogEntry e;
  e.type = "https";
  e.elb = "app/a/0000000000000000";
  e.client = Addr("10.1.2.3", 5);
  e.elb_status = 400;
  e.received_bytes = 17;
  e.sent_bytes = 200;
  e.ssl_cipher = "TLS_AES_128_GCM_SHA256";
  e.ssl_protocol = "TLSv1.3";
  e.classification = "Severe";
  e.classification_reason = "BadHeader";
  std::string line;
  AppendAccessLogLine(e, &line);
  EXPECT_NE(line.find(" 10.1.2.3:5 - -1 -1 -1 400 - 17 200 \"- - - \" \"-\" "
                      "TLS_AES_128_GCM_SHA256 TLSv1.3 - \"-\" \"-\" \"-\" - "),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("\"-\" \"-\" \"-\" \"-\" \"-\" \"Severe\" \"BadHeader\" TID_"),
            std::string::npos)
      << line;
}

TEST(AccessLogFormat, ClientBytesCannotForgeFieldsOrLines) {
  AccessLogEntry e;
  e.type = "http";
  e.elb = "app/a/0000000000000000";
  e.method = "GET";
  e.scheme = "http";
  e.host = "h\"x";
  e.port = 80;
  e.request_target = "/a b\"c\r\nd\\e\xff";
  e.version = "HTTP/1.1";
  e.user_agent = "Mozilla \"quoted\"\n\x01\xc3\xa9";
  e.trace_id = "Root=\"x";
  e.domain_name = "evil\" \"x";
  std::string line;
  AppendAccessLogLine(e, &line);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_NE(line.find("\"GET http://h\\x22x:80/a\\x20b\\x22c\\x0D\\x0Ad\\x5Ce\\xFF HTTP/1.1\""),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("\"Mozilla \\x22quoted\\x22\\x0A\\x01\\xC3\\xA9\""), std::string::npos)
      << line;
  EXPECT_NE(line.find("\"Root=\\x22x\" \"evil\\x22 \\x22x\""), std::string::npos) << line;
  // Every double quote left is a field delimiter: 2 per quoted field (15 of them).
  EXPECT_EQ(std::count(line.begin(), line.end(), '"'), 2 * 15);
}

TEST(AccessLogFormat, AbsoluteFormTargetIsLoggedAsReceived) {
  AccessLogEntry e;
  e.method = "GET";
  e.scheme = "http";
  e.host = "ignored";
  e.port = 80;
  e.request_target = "http://example.com:8080/x?y=1";
  e.version = "HTTP/1.1";
  std::string line;
  AppendAccessLogLine(e, &line);
  EXPECT_NE(line.find("\"GET http://example.com:8080/x?y=1 HTTP/1.1\""), std::string::npos);
}

TEST(AccessLogFormat, DurationsAndPriorities) {
  AccessLogEntry e;
  e.request_processing_ms = 12345;
  e.target_processing_ms = 7;
  e.response_processing_ms = -1;
  e.matched_rule_priority = 50000;
  std::string line;
  AppendAccessLogLine(e, &line);
  EXPECT_NE(line.find(" 12.345 0.007 -1 "), std::string::npos) << line;
  EXPECT_NE(line.find(" 50000 1970-01-01T00:00:00.000000Z "), std::string::npos) << line;
  e.matched_rule_priority = -1;  // a rule-evaluation error
  line.clear();
  AppendAccessLogLine(e, &line);
  EXPECT_NE(line.find(" -1 1970-01-01T00:00:00.000000Z "), std::string::npos) << line;
}

TEST(AccessLogFormat, IsoTimesAcrossLeapYearsAndCenturies) {
  std::string s;
  AppendIsoTime(951782400000000 - 1, &s);  // 2000-02-29T00:00:00Z minus 1 µs
  EXPECT_EQ(s, "2000-02-28T23:59:59.999999Z");
  s.clear();
  AppendIsoTime(951782400000000, &s);
  EXPECT_EQ(s, "2000-02-29T00:00:00.000000Z");
  s.clear();
  AppendIsoTime(4107542400000000, &s);  // 2100-03-01 (2100 is not a leap year)
  EXPECT_EQ(s, "2100-03-01T00:00:00.000000Z");
  s.clear();
  AppendIsoTime(1798761599000001, &s);
  EXPECT_EQ(s, "2026-12-31T23:59:59.000001Z");
}

TEST(AccessLogFormat, Ipv6AddressesAreNotBracketed) {
  AccessLogEntry e;
  e.client = Addr("2001:db8::1", 443);
  std::string line;
  AppendAccessLogLine(e, &line);
  EXPECT_NE(line.find(" 2001:db8::1:443 - "), std::string::npos) << line;
}

}  // namespace
}  // namespace sluice::observe
