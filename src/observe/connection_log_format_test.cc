#include "observe/connection_log_format.h"

#include <gtest/gtest.h>

namespace sluice::observe {
namespace {

// The first documented example of reference §5.5, rebuilt from its values (plus the 13th
// field, tls_keyexchange, which the 2023 example predates).
TEST(ConnectionLogFormat, DocumentedMutualTlsExample) {
  ConnectionLogEntry e;
  e.unix_us = 1696439115514108;  // 2023-10-04T17:05:15.514108Z
  e.client = *SocketAddress::Parse("203.0.113.1", 36280);
  e.listener_port = 443;
  e.tls_protocol = "TLSv1.2";
  e.tls_cipher = "ECDHE-RSA-AES128-GCM-SHA256";
  e.handshake_ms = 4036;
  e.cert_subject = "CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US";
  e.cert_validity = "NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z";
  e.cert_serial = "FEF257372D5C14D4";
  e.tls_verify_status = "Success";
  e.conn_trace_id[0] = 0x3180a73013c8ca4bull;
  e.conn_trace_id[1] = 0xac2f731159d4b0feull;
  e.tls_keyexchange = "secp256r1";
  std::string line;
  AppendConnectionLogLine(e, &line);
  EXPECT_EQ(line,
            "2023-10-04T17:05:15.514108Z 203.0.113.1 36280 443 TLSv1.2 "
            "ECDHE-RSA-AES128-GCM-SHA256 4.036 "
            "\"CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US\" "
            "NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z FEF257372D5C14D4 "
            "Success TID_3180a73013c8ca4bac2f731159d4b0fe secp256r1\n");
}

TEST(ConnectionLogFormat, PlainHttpIsAllDashes) {
  ConnectionLogEntry e;
  e.unix_us = 1790000000000000;
  e.client = *SocketAddress::Parse("147.185.132.159", 61814);
  e.listener_port = 80;
  e.conn_trace_id[1] = 1;
  std::string line;
  AppendConnectionLogLine(e, &line);
  EXPECT_EQ(line.substr(27),
            " 147.185.132.159 61814 80 - - - \"-\" - - - "
            "TID_00000000000000000000000000000001 -\n");
}

TEST(ConnectionLogFormat, AClientChosenSubjectCannotBreakTheLine) {
  ConnectionLogEntry e;
  e.cert_subject = "CN=a\" b\nc,O=x\\, y";
  std::string line;
  AppendConnectionLogLine(e, &line);
  EXPECT_NE(line.find("\"CN=a\\x22 b\\x0Ac,O=x\\, y\""), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

}  // namespace
}  // namespace sluice::observe
