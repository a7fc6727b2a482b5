// The trust-store operations (reference §7.4, §9.6): CreateTrustStore and ModifyTrustStore
// read the CA bundle through the fetch hook (the S3-compatible store, app/s3_get.h) and keep
// it in the model, DeleteTrustStore refuses a store a listener verifies against, and the
// stored bundle survives the export and reload every mutation goes through.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "api/service.h"
#include "api/service_test_util.h"
#include "config/arn.h"

namespace sluice::api {
namespace {

// Two self-signed CA certificates (EC P-256, basicConstraints CA:TRUE, valid until 2126),
// made with `openssl req -x509 -newkey ec ... -addext basicConstraints=critical,CA:TRUE`.
constexpr const char* kCaA = R"(
-----BEGIN CERTIFICATE-----
MIIBujCCAWGgAwIBAgIUXkx6240fYV9dfMVaSZNqKr/F7iYwCgYIKoZIzj0EAwIw
KjEUMBIGA1UECgwLU2x1aWNlIFRlc3QxEjAQBgNVBAMMCVRlc3QgQ0EgYTAgFw0y
NjEyMDcxMzMwMzZaGA8yMTI2MTExMzEzMzAzNlowKjEUMBIGA1UECgwLU2x1aWNl
IFRlc3QxEjAQBgNVBAMMCVRlc3QgQ0EgYTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABFK2RlE8m78SaJThOmQhy6vm3evOX6DuV7ZsnkQEfx+Hf6Xlwd9166mzsbJ/
MrGqBvroC9BskheZsJmGe7h8IWGjYzBhMB0GA1UdDgQWBBQ6CH+R4mkmzmF/35zl
Svdw0/sVkTAfBgNVHSMEGDAWgBQ6CH+R4mkmzmF/35zlSvdw0/sVkTAPBgNVHRMB
Af8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQDAgNHADBEAiAEtiwW
Rg1zHyY1rl1kBdPiCKyjaKPUjduQZheZK/5CtAIgE+5pmH/LwgaezjymSoT8FJEA
l+L0ClRynPwFVVDeen8=
-----END CERTIFICATE-----
)";
constexpr const char* kCaB = R"(
-----BEGIN CERTIFICATE-----
MIIBuzCCAWGgAwIBAgIUblFEkIaKm7Pt1Kfp3ufuWmGyXqIwCgYIKoZIzj0EAwIw
KjEUMBIGA1UECgwLU2x1aWNlIFRlc3QxEjAQBgNVBAMMCVRlc3QgQ0EgYjAgFw0y
NjEyMDcxMzMwMzZaGA8yMTI2MTExMzEzMzAzNlowKjEUMBIGA1UECgwLU2x1aWNl
IFRlc3QxEjAQBgNVBAMMCVRlc3QgQ0EgYjBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABOpji5t1KTAeeyGZcMINQAAndjLCSXOYxigD+COKujgtBRtKMCL51rhXslg3
WW+wlfXwJsq0oJtcjM67SGStkDSjYzBhMB0GA1UdDgQWBBR/KI4SrT8kLnECM+QO
151pvoPm2jAfBgNVHSMEGDAWgBR/KI4SrT8kLnECM+QO151pvoPm2jAPBgNVHRMB
Af8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQDAgNIADBFAiAhlbcU
LItWhIbxscipFrL/ynzIJS6feGFAb3RS4EW2TQIhAN3+43CmpyNefT7QYgPhbqvO
d+LCks48C4sEM0RZJuvX
-----END CERTIFICATE-----
)";

// CRLs (valid until 2126) signed by the key of kCaA (serials 0x52, 0x53 revoked) and of kCaB
// (serial 7), made with python3-cryptography's CertificateRevocationListBuilder.
constexpr const char* kCrlA = R"(
-----BEGIN X509 CRL-----
MIHfMIGFAgEBMAoGCCqGSM49BAMCMCoxFDASBgNVBAoMC1NsdWljZSBUZXN0MRIw
EAYDVQQDDAlUZXN0IENBIGEXDTI2MTIwMTAwMDAwMFoYDzIxMjYwMTAxMDAwMDAw
WjAoMBICAVIXDTI2MTIwMTAwMDAwMFowEgIBUxcNMjYxMjAxMDAwMDAwWjAKBggq
hkjOPQQDAgNJADBGAiEAqS7Cn//qitQolhNwoDoTqU/Y/+2INqbMIcx7lxNq30MC
IQDHbZ603TsMeRFpDazT72gE3XOhHxoDbVG/GCQ5AkS1Tw==
-----END X509 CRL-----
)";
constexpr const char* kCrlB = R"(
-----BEGIN X509 CRL-----
MIHIMHECAQEwCgYIKoZIzj0EAwIwKjEUMBIGA1UECgwLU2x1aWNlIFRlc3QxEjAQ
BgNVBAMMCVRlc3QgQ0EgYhcNMjYxMjAxMDAwMDAwWhgPMjEyNjAxMDEwMDAwMDBa
MBQwEgIBBxcNMjYxMjAxMDAwMDAwWjAKBggqhkjOPQQDAgNHADBEAiBARFYqwglL
z9wJoErw0rRRzcnKVzo/3IdGki/7Trj4mwIgTtf8bajBoulteYrPLaJenNhMqybs
4r6R+bz7K7M8zpY=
-----END X509 CRL-----
)";

constexpr const char* kYaml = R"(
Account: {Id: "123456789012", Region: eu-west-3}
Certificates:
  - {Name: site, CertificateFile: /c/site.pem, PrivateKeyFile: /c/site.key}
TrustStores:
  - {Name: from-file, CaCertificatesBundleFile: /nonexistent/ca.pem}
LoadBalancers:
  - Name: web
    BindAddress: 127.0.0.1
    Listeners:
      - {Protocol: HTTPS, Port: 8443, Certificates: [site],
         MutualAuthentication: {Mode: verify, TrustStoreArn: from-file},
         DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]}
)";

class TrustStoreOpsTest : public ::testing::Test {
 protected:
  TrustStoreOpsTest() : service_(service_test::LoadModel(kYaml), Hooks()) {}

  ServiceHooks Hooks() {
    ServiceHooks h = recorder_.Hooks();
    h.fetch_s3_object = [this](const config::Config& where, const std::string& bucket,
                               const std::string& key,
                               const std::string& version) -> ApiResult<std::string> {
      fetched_.push_back(bucket + "/" + key + "@" + version + " in " + where.account.region);
      if (objects_.count(key) == 0) {
        return SenderError("CaCertificatesBundleNotFound", "no such object " + key);
      }
      return objects_[key];
    };
    h.presign = [this](std::string_view caller, std::string_view region, std::string_view origin,
                       std::string_view path) {
      presigned_.push_back(std::string(caller) + " " + std::string(region) + " " +
                           std::string(origin) + std::string(path));
      return sign_ ? std::string(origin) + std::string(path) + "&X-Amz-Signature=s" : "";
    };
    return h;
  }
  // A GET of the content URL, as ApiServer hands it over: the query of `location`.
  Service::Answer Fetch(std::string location) {
    const size_t q = location.find('?');
    auto p = QueryParams::Parse(location.substr(q + 1));
    EXPECT_TRUE(p.ok());
    return service_.Content(p.value(), "rid");
  }
  static std::string LocationOf(const Service::Answer& a) {
    const size_t at = a.body.find("<Location>");
    const size_t end = a.body.find("</Location>");
    if (at == std::string::npos || end == std::string::npos) return "";
    std::string xml = a.body.substr(at + 10, end - at - 10);
    for (size_t k; (k = xml.find("&amp;")) != std::string::npos;) xml.replace(k, 5, "&");
    return xml;
  }

  Service::Answer Call(const std::string& form) { return service_test::CallForm(service_, form); }
  std::string Arn(const std::string& name) {
    return config::TrustStoreArn(service_.CurrentConfig().account, name);
  }
  static bool Has(const Service::Answer& a, const std::string& s) {
    return a.body.find(s) != std::string::npos;
  }
  Service::Answer Create(const std::string& name, const std::string& key) {
    return Call("Action=CreateTrustStore&Name=" + name +
                "&CaCertificatesBundleS3Bucket=cas&CaCertificatesBundleS3Key=" + key);
  }

  std::vector<std::string> presigned_;
  bool sign_ = true;
  std::map<std::string, std::string> objects_ = {
      {"two.pem", std::string(kCaA + 1) + (kCaB + 1)},
      {"a.pem", kCaA + 1},
      {"b.pem", kCaB + 1},
      {"junk.pem", "not a certificate\n"},
      {"crl-a.pem", kCrlA + 1},
      {"crl-b.pem", kCrlB + 1},
      {"chatty.pem", std::string("issued by ops\xff\n") + (kCaA + 1) + "-- and more --\n"}};
  std::vector<std::string> fetched_;
  service_test::ApplyRecorder recorder_;  // before service_, which holds its hooks
  Service service_;
};

TEST_F(TrustStoreOpsTest, CreateReadsTheBundleAndKeepsItInTheModel) {
  auto a = Call(
      "Action=CreateTrustStore&Name=partners&CaCertificatesBundleS3Bucket=cas"
      "&CaCertificatesBundleS3Key=two.pem&CaCertificatesBundleS3ObjectVersion=v7"
      "&Tags.member.1.Key=team&Tags.member.1.Value=edge");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(fetched_, std::vector<std::string>{"cas/two.pem@v7 in eu-west-3"});
  EXPECT_TRUE(Has(a, "<Name>partners</Name><TrustStoreArn>" + Arn("partners") +
                         "</TrustStoreArn><Status>ACTIVE</Status><NumberOfCaCertificates>2<"
                         "/NumberOfCaCertificates><TotalRevokedEntries>0</TotalRevokedEntries>"))
      << a.body;
  ASSERT_EQ(recorder_.applied.size(), 1u);
  EXPECT_TRUE(recorder_.scopes.back().outside_rules);
  const config::Config& applied = recorder_.applied.back();
  ASSERT_EQ(applied.trust_stores.size(), 2u);
  EXPECT_EQ(applied.trust_stores[1].ca_bundle_pem, objects_["two.pem"]);
  EXPECT_TRUE(applied.trust_stores[1].ca_bundle_file.empty());
  service_test::ExpectLoaderAgrees(applied);  // the PEM survives export and reload

  auto tags = Call("Action=DescribeTags&ResourceArns.member.1=" + Arn("partners"));
  EXPECT_TRUE(Has(tags, "<Key>team</Key><Value>edge</Value>")) << tags.body;
  auto listed = Call("Action=DescribeTrustStores");
  ASSERT_EQ(listed.status, 200);
  EXPECT_TRUE(Has(listed, "<Name>from-file</Name>")) << listed.body;
  EXPECT_TRUE(Has(listed, "<Name>partners</Name>")) << listed.body;
}

// A call on a store that is not there reads no object from S3 (each read can take seconds).
TEST_F(TrustStoreOpsTest, AnUnknownStoreIsNotFoundBeforeAnyRead) {
  const std::string unknown = "&TrustStoreArn=" + Arn("nowhere");
  EXPECT_EQ(Call("Action=ModifyTrustStore" + unknown +
                 "&CaCertificatesBundleS3Bucket=cas&CaCertificatesBundleS3Key=a.pem")
                .error_code,
            "TrustStoreNotFound");
  EXPECT_EQ(Call("Action=AddTrustStoreRevocations" + unknown +
                 "&RevocationContents.member.1.S3Bucket=cas"
                 "&RevocationContents.member.1.S3Key=crl-a.pem"
                 "&RevocationContents.member.2.S3Bucket=cas"
                 "&RevocationContents.member.2.S3Key=crl-b.pem")
                .error_code,
            "TrustStoreNotFound");
  EXPECT_TRUE(fetched_.empty()) << fetched_.front();
}

TEST_F(TrustStoreOpsTest, CreateRefusesWhatCannotBeATrustStore) {
  EXPECT_EQ(Create("bad-", "a.pem").error_code, "ValidationError");
  fetched_.clear();  // the bundle is read before the call takes the lock, so before this check
  EXPECT_EQ(Call("Action=CreateTrustStore&Name=x&CaCertificatesBundleS3Bucket=cas").error_code,
            "ValidationError");
  EXPECT_TRUE(fetched_.empty()) << "no fetch without a key";
  auto junk = Create("junk", "junk.pem");
  EXPECT_EQ(junk.error_code, "InvalidCaCertificatesBundle") << junk.body;
  auto missing = Create("gone", "missing.pem");
  EXPECT_EQ(missing.error_code, "CaCertificatesBundleNotFound");
  EXPECT_TRUE(Has(missing, "no such object missing.pem")) << missing.body;
  EXPECT_TRUE(recorder_.applied.empty());
}

// Only the certificates are kept, re-encoded: text around them (a byte YAML would refuse or
// change included) never reaches the state, and the same certificates compare equal.
TEST_F(TrustStoreOpsTest, TheBundleIsKeptAsItsCertificatesOnly) {
  ASSERT_EQ(Create("chatty", "chatty.pem").status, 200);
  ASSERT_EQ(recorder_.applied.size(), 1u);
  const config::TrustStoreDefinition& s = recorder_.applied.back().trust_stores.back();
  EXPECT_EQ(s.ca_bundle_pem, std::string(kCaA + 1));
  EXPECT_EQ(s.path, "TrustStores[1]");
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
  EXPECT_EQ(Create("chatty", "a.pem").status, 200) << "the same certificate";
  EXPECT_EQ(recorder_.applied.size(), 1u);
}

TEST_F(TrustStoreOpsTest, CreateAgainIsIdempotentOnlyForTheSameBundle) {
  ASSERT_EQ(Create("partners", "a.pem").status, 200);
  ASSERT_EQ(Create("partners", "a.pem").status, 200);
  EXPECT_EQ(recorder_.applied.size(), 1u);
  EXPECT_EQ(Create("partners", "b.pem").error_code, "DuplicateTrustStoreName");
  EXPECT_EQ(Create("from-file", "a.pem").error_code, "DuplicateTrustStoreName");
}

TEST_F(TrustStoreOpsTest, TwentyTrustStoresAtMost) {
  for (int i = 1; i < 20; ++i) ASSERT_EQ(Create("s" + std::to_string(i), "a.pem").status, 200);
  EXPECT_EQ(Create("one-more", "a.pem").error_code, "TooManyTrustStores");
}

TEST_F(TrustStoreOpsTest, ModifyReplacesTheBundleOfAFileStore) {
  auto a = Call("Action=ModifyTrustStore&TrustStoreArn=" + Arn("from-file") +
                "&CaCertificatesBundleS3Bucket=cas&CaCertificatesBundleS3Key=b.pem");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(Has(a, "<NumberOfCaCertificates>1</NumberOfCaCertificates>")) << a.body;
  const config::TrustStoreDefinition s = service_.CurrentConfig().trust_stores[0];
  EXPECT_EQ(s.ca_bundle_pem, objects_["b.pem"]);
  EXPECT_TRUE(s.ca_bundle_file.empty());
  EXPECT_EQ(Call("Action=ModifyTrustStore&TrustStoreArn=" + Arn("nope") +
                 "&CaCertificatesBundleS3Bucket=cas&CaCertificatesBundleS3Key=b.pem")
                .error_code,
            "TrustStoreNotFound");
}

TEST_F(TrustStoreOpsTest, DeleteRefusesAStoreInUseAndListsItsListeners) {
  const config::Config c = service_.CurrentConfig();
  const config::LoadBalancer& lb = c.load_balancers[0];
  const std::string listener = config::ListenerArn(
      c.account, lb.name, config::ListenerId(lb.name, lb.listeners[0]), lb.type);
  auto assoc = Call("Action=DescribeTrustStoreAssociations&TrustStoreArn=" + Arn("from-file"));
  EXPECT_TRUE(Has(assoc, "<TrustStoreAssociations><member><ResourceArn>" + listener +
                             "</ResourceArn></member></TrustStoreAssociations>"))
      << assoc.body;
  EXPECT_EQ(Call("Action=DeleteTrustStore&TrustStoreArn=" + Arn("from-file")).error_code,
            "TrustStoreInUse");
  ASSERT_EQ(Call("Action=ModifyListener&ListenerArn=" + listener + "&MutualAuthentication.Mode=off")
                .status,
            200);
  auto none = Call("Action=DescribeTrustStoreAssociations&TrustStoreArn=" + Arn("from-file"));
  EXPECT_TRUE(Has(none, "<TrustStoreAssociations/>") || Has(none, "<TrustStoreAssociations></"))
      << none.body;
  ASSERT_EQ(Call("Action=DeleteTrustStore&TrustStoreArn=" + Arn("from-file")).status, 200);
  EXPECT_TRUE(service_.CurrentConfig().trust_stores.empty());
  EXPECT_EQ(Call("Action=DeleteTrustStore&TrustStoreArn=" + Arn("from-file")).error_code,
            "TrustStoreNotFound");
}

// AddTrustStoreRevocations reads CRLs signed by the store's CAs, keeps them (ids from 1) so
// that a reload keeps them too; Describe lists them with their entries; Remove drops them.
TEST_F(TrustStoreOpsTest, RevocationListsComeFromS3AndAreKept) {
  ASSERT_EQ(Create("partners", "a.pem").status, 200);
  const std::string add = "Action=AddTrustStoreRevocations&TrustStoreArn=" + Arn("partners");
  auto wrong = Call(add +
                    "&RevocationContents.member.1.S3Bucket=cas"
                    "&RevocationContents.member.1.S3Key=crl-b.pem");
  EXPECT_EQ(wrong.error_code, "InvalidRevocationContent") << wrong.body;
  EXPECT_EQ(Call(add + "&RevocationContents.member.1.S3Bucket=cas"
                       "&RevocationContents.member.1.S3Key=none.pem")
                .error_code,
            "RevocationContentNotFound");
  EXPECT_EQ(Call(add + "&RevocationContents.member.1.S3Bucket=cas"
                       "&RevocationContents.member.1.S3Key=crl-a.pem"
                       "&RevocationContents.member.1.RevocationType=OCSP")
                .error_code,
            "ValidationError");
  ASSERT_EQ(recorder_.applied.size(), 1u);

  auto added = Call(add +
                    "&RevocationContents.member.1.S3Bucket=cas"
                    "&RevocationContents.member.1.S3Key=crl-a.pem");
  ASSERT_EQ(added.status, 200) << added.body;
  EXPECT_TRUE(Has(added,
                  "<RevocationId>1</RevocationId><RevocationType>CRL</RevocationType>"
                  "<NumberOfRevokedEntries>2</NumberOfRevokedEntries>"))
      << added.body;
  ASSERT_EQ(recorder_.applied.size(), 2u);
  EXPECT_TRUE(recorder_.scopes.back().outside_rules);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
  const config::TrustStoreDefinition s = service_.CurrentConfig().trust_stores[1];
  ASSERT_EQ(s.revocations.size(), 1u);
  EXPECT_EQ(s.revocations[0].crl_pem, std::string(kCrlA + 1));

  auto listed = Call("Action=DescribeTrustStores&Names.member.1=partners");
  EXPECT_TRUE(Has(listed, "<TotalRevokedEntries>2</TotalRevokedEntries>")) << listed.body;
  auto described = Call("Action=DescribeTrustStoreRevocations&TrustStoreArn=" + Arn("partners"));
  EXPECT_TRUE(Has(described, "<RevocationId>1</RevocationId>")) << described.body;
  EXPECT_EQ(Call("Action=DescribeTrustStoreRevocations&TrustStoreArn=" + Arn("partners") +
                 "&RevocationIds.member.1=9")
                .error_code,
            "RevocationIdNotFound");
  EXPECT_EQ(Call("Action=RemoveTrustStoreRevocations&TrustStoreArn=" + Arn("partners") +
                 "&RevocationIds.member.1=2")
                .error_code,
            "RevocationIdNotFound");
  ASSERT_EQ(Call("Action=RemoveTrustStoreRevocations&TrustStoreArn=" + Arn("partners") +
                 "&RevocationIds.member.1=1")
                .status,
            200);
  EXPECT_TRUE(service_.CurrentConfig().trust_stores[1].revocations.empty());

  // An id is never given twice: after removing 1, two lists added in one call get 2 and 3.
  auto again = Call(add +
                    "&RevocationContents.member.1.S3Bucket=cas"
                    "&RevocationContents.member.1.S3Key=crl-a.pem"
                    "&RevocationContents.member.2.S3Bucket=cas"
                    "&RevocationContents.member.2.S3Key=crl-a.pem");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(Has(again, "<RevocationId>2</RevocationId>")) << again.body;
  EXPECT_TRUE(Has(again, "<RevocationId>3</RevocationId>")) << again.body;
  EXPECT_FALSE(Has(again, "<RevocationId>1</RevocationId>")) << again.body;
  EXPECT_EQ(service_.CurrentConfig().trust_stores[1].next_revocation_id, 4);
  service_test::ExpectLoaderAgrees(recorder_.applied.back());
}

// The Get* calls answer a URL of the API endpoint itself, presigned for the caller (the
// hook), that gives the bundle or the list as the config holds it when it is read.
TEST_F(TrustStoreOpsTest, ContentUrlsGiveTheBundleAndTheRevocationList) {
  ASSERT_EQ(Create("partners", "a.pem").status, 200);
  ASSERT_EQ(Call("Action=AddTrustStoreRevocations&TrustStoreArn=" + Arn("partners") +
                 "&RevocationContents.member.1.S3Bucket=cas"
                 "&RevocationContents.member.1.S3Key=crl-a.pem")
                .status,
            200);
  auto bundle = Call("Action=GetTrustStoreCaCertificatesBundle&TrustStoreArn=" + Arn("partners"));
  ASSERT_EQ(bundle.status, 200) << bundle.body;
  ASSERT_EQ(presigned_.size(), 1u);
  EXPECT_EQ(presigned_[0].rfind("AKIATEST eu-west-3 http://localhost/trust-store-content?"
                                "Action=GetTrustStoreCaCertificatesBundle&TrustStoreArn=arn%3Aaws",
                                0),
            0u)
      << presigned_[0];
  const std::string url = LocationOf(bundle);
  EXPECT_EQ(url, presigned_[0].substr(presigned_[0].find("http://")) + "&X-Amz-Signature=s");
  auto pem = Fetch(url);
  EXPECT_EQ(pem.status, 200);
  EXPECT_EQ(pem.content_type, "application/x-pem-file");
  EXPECT_EQ(pem.body, std::string(kCaA + 1));

  const std::string get_crl =
      "Action=GetTrustStoreRevocationContent&TrustStoreArn=" + Arn("partners");
  auto crl = Call(get_crl + "&RevocationId=1");
  ASSERT_EQ(crl.status, 200) << crl.body;
  EXPECT_EQ(Fetch(LocationOf(crl)).body, std::string(kCrlA + 1));
  EXPECT_EQ(Call(get_crl + "&RevocationId=2").error_code, "RevocationIdNotFound");
  EXPECT_EQ(Call(get_crl + "&RevocationId=x").error_code, "ValidationError");
  EXPECT_EQ(Call(get_crl).error_code, "ValidationError");
  EXPECT_EQ(
      Call("Action=GetTrustStoreCaCertificatesBundle&TrustStoreArn=" + Arn("none")).error_code,
      "TrustStoreNotFound");

  // Read when fetched: after ModifyTrustStore the same URL gives the new bundle; after the
  // list is removed, its URL answers RevocationIdNotFound.
  ASSERT_EQ(Call("Action=ModifyTrustStore&TrustStoreArn=" + Arn("partners") +
                 "&CaCertificatesBundleS3Bucket=cas&CaCertificatesBundleS3Key=two.pem")
                .status,
            200);
  EXPECT_EQ(Fetch(url).body, std::string(kCaA + 1) + (kCaB + 1));
  ASSERT_EQ(Call("Action=RemoveTrustStoreRevocations&TrustStoreArn=" + Arn("partners") +
                 "&RevocationIds.member.1=1")
                .status,
            200);
  auto gone = Fetch(LocationOf(crl));
  EXPECT_EQ(gone.error_code, "RevocationIdNotFound");
  EXPECT_EQ(gone.content_type, "text/xml");

  // A store read from a file gives the file as it is then; unreadable, a server fault.
  auto file = Fetch(LocationOf(
      Call("Action=GetTrustStoreCaCertificatesBundle&TrustStoreArn=" + Arn("from-file"))));
  EXPECT_EQ(file.status, 500);
  EXPECT_EQ(file.error_code, "InternalFailure");
  // The content path answers trust store content only, as the elbv2 action it names.
  EXPECT_EQ(Fetch("x?Action=DescribeTrustStores&Version=2015-12-01").status, 404);
  EXPECT_EQ(Fetch(url).status, 200);
  const std::string as_cloudwatch = url.substr(0, url.find("&Version=")) + "&Version=2010-08-01";
  EXPECT_EQ(Fetch(as_cloudwatch).status, 404);
  // No URL without a signature.
  sign_ = false;
  EXPECT_EQ(
      Call("Action=GetTrustStoreCaCertificatesBundle&TrustStoreArn=" + Arn("partners")).error_code,
      "InternalFailure");
}

// A config file's bundle is read when fetched, and only its certificates leave the API:
// notes around them, and any other kind of PEM block, stay in the file.
TEST(TrustStoreContentTest, AFilesBundleGivesItsCertificatesOnly) {
  const std::string path = ::testing::TempDir() + "/content-bundle.pem";
  auto write = [&](const std::string& text) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(text.data(), 1, text.size(), f), text.size());
    std::fclose(f);
  };
  config::Config c =
      service_test::LoadModel("TrustStores: [{Name: f, CaCertificatesBundleFile: " + path + "}]\n");
  const std::string query =
      "Action=GetTrustStoreCaCertificatesBundle&Version=2015-12-01"
      "&TrustStoreArn=" +
      config::TrustStoreArn(c.account, "f");
  auto params = QueryParams::Parse(query);
  ASSERT_TRUE(params.ok());
  write(std::string("issued by ops\n") + (kCaA + 1) + "-- the end --\n");
  auto pem = TrustStoreContent(c, params.value());
  ASSERT_TRUE(pem.ok()) << pem.error().message;
  EXPECT_EQ(pem.value(), std::string(kCaA + 1));
  write(std::string(kCaA + 1) + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  pem = TrustStoreContent(c, params.value());
  EXPECT_EQ((pem.ok() ? pem.value() : pem.error().message).find("PRIVATE KEY"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace sluice::api
