// SigV4: the building blocks against AWS's published examples, and the verifier against
// requests signed by botocore (frozen vectors) and by our own signer.
#include "api/sigv4.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "api/sigv4_test_util.h"

namespace sluice::api {
namespace {

using namespace sigv4_test;  // NOLINT(google-build-using-namespace)

// ---- AWS's published examples ----

// The IAM ListUsers example of the SigV4 documentation ("Create a canonical request" ...
// "Calculate the signature"); the constants were also recomputed with botocore 1.29.27 by
// tests/tools/sigv4_vectors.py.
OwnedRequest IamListUsers() {
  OwnedRequest r;
  r.method = "GET";
  r.query = "Action=ListUsers&Version=2010-05-08";
  r.headers = {{"Content-Type", std::string(kForm)},
               {"Host", "iam.amazonaws.com"},
               {"X-Amz-Date", std::string(kDate)}};
  return r;
}

TEST(SigV4Test, IamListUsersCanonicalRequest) {
  OwnedRequest r = IamListUsers();
  ApiResult<std::string> cr =
      CanonicalRequest(r.View(), "content-type;host;x-amz-date", Sha256Hex(""), false);
  ASSERT_TRUE(cr.ok());
  EXPECT_EQ(cr.value(),
            "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
            "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
            "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "content-type;host;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex(cr.value()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
}

TEST(SigV4Test, IamListUsersKeyAndSignature) {
  EXPECT_EQ(SigningKeyHex(kSecret, "20150830", "us-east-1", "iam"),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
  std::string sts = StringToSign(
      kDate, "20150830/us-east-1/iam/aws4_request",
      CanonicalRequest(IamListUsers().View(), "content-type;host;x-amz-date", Sha256Hex(""), false)
          .value());
  EXPECT_EQ(sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  EXPECT_EQ(SignatureHex(kSecret, "20150830", "us-east-1", "iam", sts),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST(SigV4Test, IamListUsersSignedAndVerified) {
  OwnedRequest r = IamListUsers();
  r.Sign("us-east-1", "iam");
  EXPECT_EQ(*r.Header("Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
  ApiResult<SigV4Identity> id = VerifySigV4(r.View(), "iam", "us-east-1", Lookup(), kDateUnix);
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id.value().access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(id.value().region, "us-east-1");
  EXPECT_EQ(id.value().date, "20150830");
}

// aws-sig-v4-test-suite, get-vanilla (service "service").
TEST(SigV4Test, GetVanilla) {
  OwnedRequest r;
  r.method = "GET";
  r.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", std::string(kDate)}};
  r.Sign("us-east-1", "service");
  EXPECT_EQ(*r.Header("Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_TRUE(VerifySigV4(r.View(), "service", "us-east-1", Lookup(), kDateUnix).ok());
}

// ---- Canonical forms ----

TEST(SigV4Test, UriEncode) {
  EXPECT_EQ(SigV4UriEncode("AZaz09-_.~", false), "AZaz09-_.~");
  EXPECT_EQ(SigV4UriEncode("a b/c*+=&%", false), "a%20b%2Fc%2A%2B%3D%26%25");
  EXPECT_EQ(SigV4UriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(SigV4UriEncode("caf\xC3\xA9", false), "caf%C3%A9");
}

TEST(SigV4Test, CanonicalUri) {
  EXPECT_EQ(CanonicalUri(""), "/");
  EXPECT_EQ(CanonicalUri("/"), "/");
  EXPECT_EQ(CanonicalUri("//"), "/");
  EXPECT_EQ(CanonicalUri("/a%20b/./c//d/"), "/a%2520b/c/d/");  // botocore's answer
  EXPECT_EQ(CanonicalUri("/a/../../b/.."), "/");
  EXPECT_EQ(CanonicalUri("/a/b/../c"), "/a/c");
  EXPECT_EQ(CanonicalUri("/~x y"), "/~x%20y");
}

TEST(SigV4Test, CanonicalQueryString) {
  auto cq = [](std::string_view q, bool presigned = false) {
    ApiResult<std::string> r = CanonicalQueryString(q, presigned);
    return r.ok() ? r.value() : "error:" + r.error().code;
  };
  EXPECT_EQ(cq(""), "");
  EXPECT_EQ(cq("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
  EXPECT_EQ(cq("n=a+b&m=a%20b&o=a%2Bb"), "m=a%20b&n=a%20b&o=a%2Bb");  // '+' is a space
  EXPECT_EQ(cq("x=%7e%2a%2F~*"), "x=~%2A%2F~%2A");                    // decoded, re-encoded
  EXPECT_EQ(cq("a=1&&b=2&"), "a=1&b=2");
  EXPECT_EQ(cq("a=b=c"), "a=b%3Dc");
  EXPECT_EQ(cq("A=1&a=1&_=1"), "A=1&_=1&a=1");  // byte order of the encoded names
  EXPECT_EQ(cq("X-Amz-Signature=ab&a=1"), "X-Amz-Signature=ab&a=1");
  EXPECT_EQ(cq("X-Amz-Signature=ab&a=1", true), "a=1");
  EXPECT_EQ(cq("a=%zz"), "error:MalformedQueryString");
  EXPECT_EQ(cq("a=%4"), "error:MalformedQueryString");
  EXPECT_EQ(cq("%=1"), "error:MalformedQueryString");
}

TEST(SigV4Test, CanonicalHeadersTrimAndJoinRepeats) {
  OwnedRequest r;
  r.method = "GET";
  r.headers = {{"Host", " h "}, {"X-Multi", "  a   b "}, {"x-multi", "c\t\td"}, {"X-Empty", ""}};
  ApiResult<std::string> cr = CanonicalRequest(r.View(), "host;x-empty;x-multi", "P", false);
  ASSERT_TRUE(cr.ok());
  EXPECT_EQ(cr.value(), "GET\n/\n\nhost:h\nx-empty:\nx-multi:a b,c d\n\nhost;x-empty;x-multi\nP");
  ApiResult<std::string> missing = CanonicalRequest(r.View(), "host;x-absent", "P", false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "SignatureDoesNotMatch");
}

TEST(SigV4Test, Sha256OfEmpty) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// ---- botocore vectors ----

// Requests signed by botocore 1.29.27 at 20150830T123600Z with AKIDEXAMPLE, as the server
// receives them. Generated by `/usr/bin/python3 tests/tools/sigv4_vectors.py` (clock frozen,
// uuid4 pinned); the Client* ones come from a real elbv2 client (whose signer is awscrt's
// when awscrt is installed, as here), the others from botocore.auth.SigV4Auth/SigV4QueryAuth.
struct BotoVector {
  const char* name;
  const char* method;
  const char* path;
  const char* query;
  const char* region;
  const char* service;
  std::vector<std::pair<const char*, const char*>> headers;
  const char* body;
};

const BotoVector kBotoVectors[] = {
    // elbv2 client, DescribeLoadBalancers (POST / with a form body)
    {"ClientDescribeLoadBalancers",
     "POST",
     "/",
     "",
     "us-east-1",
     "elasticloadbalancing",
     {
         {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
         {"User-Agent", "Botocore/1.29.27 Python/3.11.2 Linux/6.18.44-fc-v1252 awscrt/1.0.0.dev0"},
         {"host", "127.0.0.1:8443"},
         {"X-Amz-Date", "20150830T123600Z"},
         {"Authorization",
          "AWS4-HMAC-SHA256 "
          "Credential=AKIDEXAMPLE/20150830/us-east-1/elasticloadbalancing/aws4_request, "
          "SignedHeaders=content-type;host;x-amz-date, "
          "Signature=146ce6c15b10f48aa2588224642464d7ddb9a11fd9183b30546e4c5b6debe366"},
         {"amz-sdk-invocation-id", "12345678-1234-5678-1234-567812345678"},
         {"amz-sdk-request", "attempt=1"},
         {"Content-Length", "68"},
     },
     "Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=my-lb"},
    // elbv2 client, CreateTargetGroup in eu-west-1 (form body with escapes)
    {"ClientCreateTargetGroup",
     "POST",
     "/",
     "",
     "eu-west-1",
     "elasticloadbalancing",
     {
         {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
         {"User-Agent", "Botocore/1.29.27 Python/3.11.2 Linux/6.18.44-fc-v1252 awscrt/1.0.0.dev0"},
         {"host", "127.0.0.1:8443"},
         {"X-Amz-Date", "20150830T123600Z"},
         {"Authorization",
          "AWS4-HMAC-SHA256 "
          "Credential=AKIDEXAMPLE/20150830/eu-west-1/elasticloadbalancing/aws4_request, "
          "SignedHeaders=content-type;host;x-amz-date, "
          "Signature=33efe533715354348f9748bbe7bc77b8e17a1714de542a7d54b95360812e6c72"},
         {"amz-sdk-invocation-id", "12345678-1234-5678-1234-567812345678"},
         {"amz-sdk-request", "attempt=1"},
         {"Content-Length", "134"},
     },
     "Action=CreateTargetGroup&Version=2015-12-01&Name=tg+one&Protocol=HTTP&Port=80&VpcId=vpc-1&"
     "HealthCheckPath=%2Fhealth%3Fx%3D1%26y%3D~%2A"},
    // SigV4Auth, GET with spaces, /, ~, *, +, =, & and non-ASCII in query values
    {"GetQueryEscapes",
     "GET",
     "/",
     "Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=a+b%2Fc~d%2Ae&Marker=caf%C3%"
     "A9+%E2%98%83&Empty=&Names.member.2=x%2By%3Dz%26w",
     "us-east-1",
     "elasticloadbalancing",
     {
         {"Host", "127.0.0.1:8443"},
         {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
         {"X-Amz-Date", "20150830T123600Z"},
         {"Authorization",
          "AWS4-HMAC-SHA256 "
          "Credential=AKIDEXAMPLE/20150830/us-east-1/elasticloadbalancing/aws4_request, "
          "SignedHeaders=content-type;host;x-amz-date, "
          "Signature=0ed9183102f8edcbeae23cba21d477f67782554d37255900a85cfe69ba047746"},
     },
     ""},
    // SigV4Auth, POST dated by a Date header (RFC 2822, "-0000") instead of X-Amz-Date
    {"PostDateHeader",
     "POST",
     "/",
     "",
     "us-east-1",
     "elasticloadbalancing",
     {
         {"Host", "127.0.0.1:8443"},
         {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
         {"Date", "Sun, 30 Aug 2015 12:36:00 -0000"},
         {"Authorization",
          "AWS4-HMAC-SHA256 "
          "Credential=AKIDEXAMPLE/20150830/us-east-1/elasticloadbalancing/aws4_request, "
          "SignedHeaders=content-type;date;host, "
          "Signature=afb1033b7e6a029f1dfca682ac78a0502e16758b3a6a97d36b2470447034faf1"},
         {"Content-Length", "46"},
     },
     "Action=DescribeTargetGroups&Version=2015-12-01"},
    // SigV4Auth, GET of a path with an escape, a dot segment and a double slash
    {"GetOddPath",
     "GET",
     "/a%20b/./c//d/",
     "",
     "us-east-1",
     "elasticloadbalancing",
     {
         {"Host", "127.0.0.1:8443"},
         {"X-Amz-Date", "20150830T123600Z"},
         {"Authorization",
          "AWS4-HMAC-SHA256 "
          "Credential=AKIDEXAMPLE/20150830/us-east-1/elasticloadbalancing/aws4_request, "
          "SignedHeaders=host;x-amz-date, "
          "Signature=b8c673d4639683e176effaafa985f1038decb2c8fb95a1f3ba0e0c37633b0b3e"},
     },
     ""},
    // SigV4QueryAuth, presigned GET, X-Amz-Expires=300
    {"Presigned",
     "GET",
     "/",
     "Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=my%20lb&X-Amz-Algorithm=AWS4-"
     "HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Felasticloadbalancing%"
     "2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-"
     "Signature=762bb100b08271aea98fb5a50137feec6ab8abcdb585f7a069986020c8c90cee",
     "us-east-1",
     "elasticloadbalancing",
     {
         {"Host", "127.0.0.1:8443"},
     },
     ""},
    // elbv2 client generate_presigned_url, GET, ExpiresIn=900
    {"ClientPresigned",
     "GET",
     "/",
     "Action=DescribeTargetGroups&Version=2015-12-01&Names.member.1=tg%20one&X-Amz-Algorithm=AWS4-"
     "HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Felasticloadbalancing%"
     "2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=900&X-Amz-"
     "Signature=4c67556c941cb975e8f8414988fec5f0fdb4181fa139c98d471c153efabde55a",
     "us-east-1",
     "elasticloadbalancing",
     {
         {"Host", "127.0.0.1:8443"},
     },
     ""},
};

OwnedRequest FromVector(const BotoVector& v) {
  OwnedRequest r;
  r.method = v.method;
  r.path = v.path;
  r.query = v.query;
  for (const auto& [name, value] : v.headers) r.headers.emplace_back(name, value);
  r.body = v.body;
  return r;
}

bool Presigned(const OwnedRequest& r) {
  return r.query.find("X-Amz-Signature=") != std::string::npos;
}

// Replaces the first `from` in `s` by `to` (the test fails if there is none).
void Replace(std::string& s, std::string_view from, std::string_view to) {
  size_t pos = s.find(from);
  ASSERT_NE(pos, std::string::npos) << from << " not in " << s;
  s.replace(pos, from.size(), to);
}

class BotoVectorTest : public testing::TestWithParam<BotoVector> {
 protected:
  OwnedRequest Request() const { return FromVector(GetParam()); }
  ApiResult<SigV4Identity> Check(const OwnedRequest& r, int64_t now = kDateUnix,
                                 const SecretLookup& lookup = Lookup()) const {
    return VerifySigV4(r.View(), GetParam().service, GetParam().region, lookup, now);
  }
};

TEST_P(BotoVectorTest, Verifies) {
  ApiResult<SigV4Identity> id = Check(Request());
  ASSERT_TRUE(id.ok()) << id.error().code << ": " << id.error().message;
  EXPECT_EQ(id.value().access_key_id, kAkid);
  EXPECT_EQ(id.value().region, GetParam().region);
  EXPECT_EQ(id.value().date, "20150830");
  EXPECT_TRUE(VerifySigV4(Request().View(), kService, "", Lookup(), kDateUnix).ok());
}

TEST_P(BotoVectorTest, BodyChanged) {
  OwnedRequest r = Request();
  if (r.body.empty()) {
    r.body = "x";
  } else {
    r.body[r.body.size() / 2] ^= 1;
  }
  EXPECT_TRUE(IsError(Check(r), "SignatureDoesNotMatch", 403));
}

TEST_P(BotoVectorTest, SignedHeaderChanged) {
  OwnedRequest r = Request();
  Replace(*r.Header("host"), "8443", "8444");
  EXPECT_TRUE(IsError(Check(r), "SignatureDoesNotMatch", 403));
}

TEST_P(BotoVectorTest, QueryChanged) {
  OwnedRequest r = Request();
  if (r.query.empty()) {
    r.query = "Action=DescribeLoadBalancers";
  } else {
    Replace(r.query, "Action=D", "Action=E");
  }
  EXPECT_TRUE(IsError(Check(r), "SignatureDoesNotMatch", 403));
}

TEST_P(BotoVectorTest, SignatureChanged) {
  OwnedRequest r = Request();
  std::string& holder = Presigned(r) ? r.query : *r.Header("authorization");
  size_t pos = holder.find("Signature=");
  ASSERT_NE(pos, std::string::npos);
  char& last = holder[pos + std::string_view("Signature=").size() + 63];
  last = last == '0' ? '1' : '0';
  ApiResult<SigV4Identity> result = Check(r);
  ASSERT_TRUE(IsError(result, "SignatureDoesNotMatch", 403));
  EXPECT_EQ(result.error().message.find(
                "The request signature we calculated does not match the signature you provided."),
            0u);
}

TEST_P(BotoVectorTest, OtherSecret) {
  ApiResult<SigV4Identity> result = Check(Request(), kDateUnix, Lookup("not-the-secret"));
  ASSERT_TRUE(IsError(result, "SignatureDoesNotMatch", 403));
  EXPECT_NE(result.error().message.find("The Canonical String for this request should have been"),
            std::string::npos);
}

TEST_P(BotoVectorTest, UnknownAccessKey) {
  SecretLookup none = [](std::string_view) { return std::optional<std::string>(); };
  ApiResult<SigV4Identity> result = Check(Request(), kDateUnix, none);
  ASSERT_TRUE(IsError(result, "InvalidClientTokenId", 403));
  EXPECT_EQ(result.error().message, "The security token included in the request is invalid.");
}

TEST_P(BotoVectorTest, OtherRegion) {
  ApiResult<SigV4Identity> result =
      VerifySigV4(Request().View(), kService, "eu-central-1", Lookup(), kDateUnix);
  ASSERT_TRUE(IsError(result, "SignatureDoesNotMatch", 403));
  EXPECT_EQ(result.error().message, "Credential should be scoped to a valid region.");
}

TEST_P(BotoVectorTest, OtherService) {
  ApiResult<SigV4Identity> result =
      VerifySigV4(Request().View(), "ec2", GetParam().region, Lookup(), kDateUnix);
  ASSERT_TRUE(IsError(result, "SignatureDoesNotMatch", 403));
  EXPECT_EQ(result.error().message, "Credential should be scoped to correct service: 'ec2'.");
}

TEST_P(BotoVectorTest, ADayLater) {
  OwnedRequest r = Request();
  if (Presigned(r)) {
    EXPECT_TRUE(IsError(Check(r, kDateUnix + 86400), "RequestExpired", 400));
  } else {
    EXPECT_TRUE(IsError(Check(r, kDateUnix + 86400), "SignatureDoesNotMatch", 403));
  }
}

// The request's date moved to the next day: the credential scope no longer matches it.
TEST_P(BotoVectorTest, DateChanged) {
  OwnedRequest r = Request();
  if (Presigned(r)) {
    Replace(r.query, "X-Amz-Date=20150830", "X-Amz-Date=20150831");
  } else if (std::string* date = r.Header("x-amz-date")) {
    Replace(*date, "20150830", "20150831");
  } else {
    Replace(*r.Header("date"), "Sun, 30 Aug", "Mon, 31 Aug");
  }
  ApiResult<SigV4Identity> result = Check(r, kDateUnix + 86400);
  ASSERT_TRUE(IsError(result, "SignatureDoesNotMatch", 403));
  EXPECT_EQ(result.error().message,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
            "HTTP: '20150830' != '20150831', from '20150831T123600Z'.");
}

// One second later on the same day: the scope still matches, the string to sign does not.
TEST_P(BotoVectorTest, TimeChanged) {
  OwnedRequest r = Request();
  if (Presigned(r)) {
    Replace(r.query, "T123600Z", "T123601Z");
  } else if (std::string* date = r.Header("x-amz-date")) {
    Replace(*date, "T123600Z", "T123601Z");
  } else {
    Replace(*r.Header("date"), "12:36:00", "12:36:01");
  }
  EXPECT_TRUE(IsError(Check(r), "SignatureDoesNotMatch", 403));
}

INSTANTIATE_TEST_SUITE_P(Botocore, BotoVectorTest, testing::ValuesIn(kBotoVectors),
                         [](const testing::TestParamInfo<BotoVector>& info) {
                           return std::string(info.param.name);
                         });

// ---- Our signer against our verifier ----

TEST(SigV4Test, SignerRoundTrip) {
  OwnedRequest r = SignedPost();
  EXPECT_TRUE(Verify(r).ok());
  r.headers.emplace_back("User-Agent", "added after signing");  // unsigned: ignored
  r.headers.emplace_back("Accept-Encoding", "identity");
  EXPECT_TRUE(Verify(r).ok());
  r.headers[0].first = "HOST";  // header names are case-insensitive
  EXPECT_TRUE(Verify(r).ok());
}

// string_views of no data at all (a body that was never set) are fine.
TEST(SigV4Test, NullViews) {
  SignedRequest r;
  r.method = "GET";
  r.headers = {{"Host", "h"}, {"X-Amz-Date", kDate}};
  std::string auth = SignAuthorizationHeader(r, kAkid, kSecret, kRegion, kService, kDate);
  ASSERT_NE(auth, "");
  r.headers.emplace_back("Authorization", auth);
  EXPECT_TRUE(VerifySigV4(r, kService, kRegion, Lookup(), kDateUnix).ok());
}

TEST(SigV4Test, PresignRoundTrip) {
  OwnedRequest r;
  r.method = "GET";
  r.query = "Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=a%20b";
  r.headers = {{"Host", "127.0.0.1:8443"}};
  r.query = PresignQuery(r.View(), kAkid, kSecret, kRegion, kService, kDate, 60);
  ASSERT_NE(r.query, "");
  EXPECT_NE(r.query.find("&X-Amz-Expires=60&"), std::string::npos);
  EXPECT_TRUE(Verify(r).ok());
}

}  // namespace
}  // namespace sluice::api
