#include "tls/connection_facts.h"

#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>

#include <string>

namespace sluice::tls {
namespace {

TEST(ConnectionFacts, VerifyResultsMapToAlbsFailedCodes) {
  EXPECT_EQ(VerifyFailureCode(X509_V_OK), nullptr);
  EXPECT_STREQ(VerifyFailureCode(X509_V_ERR_CERT_HAS_EXPIRED), "Failed:ClientCertExpired");
  EXPECT_STREQ(VerifyFailureCode(X509_V_ERR_CERT_NOT_YET_VALID), "Failed:ClientCertNotYetValid");
  EXPECT_STREQ(VerifyFailureCode(X509_V_ERR_CERT_REVOKED), "Failed:ClientCertCrlHit");
  EXPECT_STREQ(VerifyFailureCode(X509_V_ERR_UNABLE_TO_GET_CRL),
               "Failed:ClientCertCrlProcessingError");
  EXPECT_STREQ(VerifyFailureCode(X509_V_ERR_CERT_CHAIN_TOO_LONG),
               "Failed:ClientCertMaxChainDepthExceeded");
  EXPECT_STREQ(VerifyFailureCode(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
               "Failed:ClientCertUntrusted");
  EXPECT_STREQ(VerifyFailureCode(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT),
               "Failed:ClientCertUntrusted");
  EXPECT_STREQ(VerifyFailureCode(X509_V_ERR_INVALID_PURPOSE), "Failed:ClientCertPurposeInvalid");
  EXPECT_STREQ(VerifyFailureCode(X509_V_ERR_INVALID_CA), "Failed:ClientCertInvalid");
}

TEST(ConnectionFacts, NoSessionSaysSuccessAndNothingElse) {
  ConnectionFacts f = DescribeConnection(nullptr, true);
  EXPECT_STREQ(f.verify_status, "Success");
  EXPECT_TRUE(f.cert_subject.empty());
  EXPECT_STREQ(f.key_exchange, "");
}

}  // namespace
}  // namespace sluice::tls
