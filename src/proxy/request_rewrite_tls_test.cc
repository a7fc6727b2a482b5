// Tests for the TLS facts the upstream request rewrite adds: X-Amzn-Tls-Version /
// X-Amzn-Tls-Cipher-Suite and the mutual-TLS client-certificate headers, with the listener
// attributes that rename them (reference §3.3, §4.5), and client copies always dropped.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/request_rewrite.h"
#include "proxy/request_rewrite_test_support.h"

namespace sluice::proxy {
namespace {

using namespace rewrite_test;  // NOLINT(build/namespaces): the fixture

TEST_F(RewriteTest, TlsVersionAndCipherHeadersReplaceTheClients) {
  const std::string request =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Amzn-Tls-Version: SSLv2\r\n"
      "x-amzn-tls-cipher-suite: NULL\r\n\r\n";
  https_ = true;
  listener_port_ = "443";
  // Attribute off (no TLS facts given): the client's fields pass as any other.
  EXPECT_EQ(ForwardedValues(request, "X-Amzn-Tls-Version"), (std::vector<std::string>{"SSLv2"}));
  EXPECT_EQ(ForwardedValues(request, "x-amzn-tls-cipher-suite"),
            (std::vector<std::string>{"NULL"}));
  // On: the connection's own values, once, in place of the client's.
  tls_version_ = "TLSv1.3";
  tls_cipher_ = "TLS_AES_128_GCM_SHA256";
  EXPECT_EQ(ForwardedValues(request, "X-Amzn-Tls-Version"), (std::vector<std::string>{"TLSv1.3"}));
  EXPECT_TRUE(ForwardedValues(request, "x-amzn-tls-cipher-suite").empty());
  EXPECT_EQ(ForwardedValues(request, "X-Amzn-Tls-Cipher-Suite"),
            (std::vector<std::string>{"TLS_AES_128_GCM_SHA256"}));
  EXPECT_EQ(ForwardedValues(request, "X-Forwarded-Proto"), (std::vector<std::string>{"https"}));
  EXPECT_EQ(ForwardedValues(request, "X-Forwarded-Port"), (std::vector<std::string>{"443"}));
}

// routing.http.request.x_amzn_tls_version.header_name / ..._cipher_suite.header_name: Sluice's
// values under the new names, and the client's copies dropped under both the new and ALB's
// default names (a target may sit behind listeners with and without renames).
TEST_F(RewriteTest, RenamedTlsHeadersReplaceTheClientsUnderEveryName) {
  const std::string request =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Amzn-Tls-Version: SSLv2\r\nx-tls-proto: SSLv3\r\n"
      "X-Amzn-Tls-Cipher-Suite: NULL\r\nX-Tls-Cipher: RC4\r\nX-Other: kept\r\n\r\n";
  https_ = true;
  tls_version_ = "TLSv1.2";
  tls_cipher_ = "ECDHE-ECDSA-AES128-GCM-SHA256";
  tls_names_.tls_version = "X-Tls-Proto";
  tls_names_.tls_cipher_suite = "X-Tls-Cipher";
  Result r = Forward(request);
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(Values(r.out, "X-Tls-Proto"), (std::vector<std::string>{"TLSv1.2"}));
  EXPECT_EQ(Values(r.out, "X-Tls-Cipher"),
            (std::vector<std::string>{"ECDHE-ECDSA-AES128-GCM-SHA256"}));
  EXPECT_TRUE(Values(r.out, "x-tls-proto").empty());
  EXPECT_TRUE(Values(r.out, "X-Amzn-Tls-Version").empty());
  EXPECT_TRUE(Values(r.out, "X-Amzn-Tls-Cipher-Suite").empty());
  EXPECT_EQ(Values(r.out, "X-Other"), (std::vector<std::string>{"kept"}));
  EXPECT_TRUE(IsCleanHead(r.out));
  // Attribute off: nothing is Sluice's to replace, every client field passes.
  tls_version_.clear();
  tls_cipher_.clear();
  Result off = Forward(request);
  EXPECT_EQ(Values(off.out, "x-tls-proto"), (std::vector<std::string>{"SSLv3"}));
  EXPECT_EQ(Values(off.out, "X-Amzn-Tls-Version"), (std::vector<std::string>{"SSLv2"}));
}

TEST_F(RewriteTest, MutualTlsHeadersReplaceTheClientsUnderEveryName) {
  const std::string request =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Amzn-Mtls-Clientcert-Subject: CN=spoofed\r\n"
      "x-client-subject: CN=spoofed too\r\nX-Amzn-Mtls-Clientcert: spoofed\r\n\r\n";
  https_ = true;
  // No mTLS on the listener: the client's fields pass as any other.
  EXPECT_EQ(ForwardedValues(request, "X-Amzn-Mtls-Clientcert-Subject"),
            (std::vector<std::string>{"CN=spoofed"}));
  // Verify mode with the subject header renamed: Sluice's lines only, and the client's copies
  // are dropped under the new name and under ALB's default names alike (a target may sit
  // behind listeners with and without renames).
  config::ListenerAttributes names;
  names.mtls_subject = "X-Client-Subject";
  mtls_names_ = &names;
  mtls_headers_ = "X-Client-Subject: CN=client\r\nX-Amzn-Mtls-Clientcert-Serial-Number: 0A\r\n";
  Result r = Forward(request);
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(Values(r.out, "X-Client-Subject"), (std::vector<std::string>{"CN=client"}));
  EXPECT_TRUE(Values(r.out, "X-Amzn-Mtls-Clientcert-Subject").empty()) << r.out;
  EXPECT_TRUE(Values(r.out, "X-Amzn-Mtls-Clientcert").empty()) << r.out;
  EXPECT_EQ(Values(r.out, "X-Amzn-Mtls-Clientcert-Serial-Number"),
            (std::vector<std::string>{"0A"}));
  EXPECT_NE(r.out.find("\r\n\r\n"), std::string::npos);
  // A client without a certificate (passthrough): no lines, the copies still dropped.
  mtls_headers_.clear();
  r = Forward(request);
  EXPECT_TRUE(Values(r.out, "X-Client-Subject").empty()) << r.out;
  EXPECT_TRUE(Values(r.out, "X-Amzn-Mtls-Clientcert").empty()) << r.out;
}

}  // namespace
}  // namespace sluice::proxy
