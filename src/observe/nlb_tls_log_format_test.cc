#include "observe/nlb_tls_log_format.h"

#include <gtest/gtest.h>

namespace sluice::observe {
namespace {

SocketAddress Addr(const char* ip, uint16_t port) {
  return SocketAddress{*IpAddress::Parse(ip), port};
}

TEST(NlbTlsLog, TheDocumentedFieldsInOrder) {
  NlbTlsLogEntry e;
  e.end_unix_ms = 1545274780123;  // 2018-12-20T02:59:40.123Z
  e.created_unix_ms = 1545274780118;
  e.elb = "net/my-network-loadbalancer/c6e77e28c25b2234";
  e.listener_id = "g3d4b5e8bb8464cd";
  e.client = Addr("72.21.218.154", 51341);
  e.destination = Addr("172.100.100.185", 443);
  e.connection_ms = 5;
  e.handshake_ms = 2;
  e.received_bytes = 98;
  e.sent_bytes = 246;
  e.chosen_cert_arn = "arn:aws:acm:us-east-2:671290407336:certificate/web";
  e.tls_cipher = "ECDHE-RSA-AES128-SHA";
  e.tls_protocol = "TLSv1.2";
  e.server_name = "my-nlb.example.com";
  e.alpn_front = "h2";
  e.alpn_back = "h2";
  std::string line;
  AppendNlbTlsLogLine(e, &line);
  EXPECT_EQ(line,
            "tls 2.0 2018-12-20T02:59:40 net/my-network-loadbalancer/c6e77e28c25b2234 "
            "g3d4b5e8bb8464cd 72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - "
            "arn:aws:acm:us-east-2:671290407336:certificate/web - ECDHE-RSA-AES128-SHA tlsv12 - "
            "my-nlb.example.com h2 h2 - 2018-12-20T02:59:40\n");
}

TEST(NlbTlsLog, AFailedHandshakeHasDashesAndTheNameIsUrlEncoded) {
  NlbTlsLogEntry e;
  e.end_unix_ms = 1000;
  e.created_unix_ms = 0;
  e.elb = "net/a/0123456789abcdef";
  e.listener_id = "fedcba9876543210";
  e.client = Addr("::1", 1);
  e.destination = Addr("127.0.0.1", 8443);
  e.server_name = "a b\"c";  // whatever a client sent
  std::string line;
  AppendNlbTlsLogLine(e, &line);
  EXPECT_EQ(line,
            "tls 2.0 1970-01-01T00:00:01 net/a/0123456789abcdef fedcba9876543210 ::1:1 "
            "127.0.0.1:8443 0 - 0 0 - - - - - - a%20b%22c - - - 1970-01-01T00:00:00\n");
}

TEST(NlbTlsLog, ProtocolNames) {
  EXPECT_EQ(NlbTlsProtocolName("TLSv1"), "tlsv10");
  EXPECT_EQ(NlbTlsProtocolName("TLSv1.3"), "tlsv13");
  EXPECT_EQ(NlbTlsProtocolName("SSLv3"), "");
}

}  // namespace
}  // namespace sluice::observe
