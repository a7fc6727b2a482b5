#include "config/s3.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "config/test_util.h"

namespace sluice::config {
namespace {

TEST(S3ConfigTest, BucketNames) {
  for (const char* ok : {"abc", "my-logs", "logs.example.com", "a1b2c3"}) {
    EXPECT_TRUE(IsValidS3BucketName(ok)) << ok;
  }
  for (const char* bad : {"", "ab", "Logs", "-abc", "abc-", "a..b", "a_b", "192.168.1.1", "a b"}) {
    EXPECT_FALSE(IsValidS3BucketName(bad)) << bad;
  }
  EXPECT_TRUE(IsValidS3BucketName(std::string(63, 'a')));
  EXPECT_FALSE(IsValidS3BucketName(std::string(64, 'a')));
}

TEST(S3ConfigTest, CredentialsFileProfiles) {
  const std::string text =
      "# keys\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key=s1\r\n\n"
      "[logs]\n; comment\n aws_access_key_id = AKIDLOGS \naws_secret_access_key = s2\n"
      "aws_session_token = t2\n";
  std::string why;
  auto d = ParseAwsCredentials(text, "default", &why);
  ASSERT_TRUE(d) << why;
  EXPECT_EQ(d->access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(d->secret_access_key, "s1");
  EXPECT_EQ(d->session_token, "");
  auto l = ParseAwsCredentials(text, "logs", &why);
  ASSERT_TRUE(l) << why;
  EXPECT_EQ(l->access_key_id, "AKIDLOGS");
  EXPECT_EQ(l->secret_access_key, "s2");
  EXPECT_EQ(l->session_token, "t2");
}

TEST(S3ConfigTest, CredentialsFileErrorsNameTheProblemNotTheSecret) {
  std::string why;
  EXPECT_FALSE(ParseAwsCredentials("[default]\naws_access_key_id=A\n", "other", &why));
  EXPECT_EQ(why, "no profile [other]");
  EXPECT_FALSE(ParseAwsCredentials("[default]\naws_secret_access_key=SECRET\n", "default", &why));
  EXPECT_EQ(why, "profile [default] has no aws_access_key_id");
  EXPECT_FALSE(ParseAwsCredentials("[default]\naws_access_key_id=A\n", "default", &why));
  EXPECT_EQ(why, "profile [default] has no aws_secret_access_key");
  EXPECT_FALSE(ParseAwsCredentials("[default\n", "default", &why));
  EXPECT_EQ(why, "line 1: a section header must end with ']'");
  EXPECT_FALSE(ParseAwsCredentials("[default]\nSECRET\n", "default", &why));
  EXPECT_EQ(why, "line 2: expected name = value");
  EXPECT_FALSE(ParseAwsCredentials("[default]\naws_access_key_id=A\rB\n", "default", &why));
  EXPECT_EQ(why, "line 2: the value holds a control character");
}

using ::testing::ElementsAre;
using testing::Errors;
using ::testing::HasSubstr;
using testing::MustLoad;

TEST(S3ConfigTest, SectionLoads) {
  const Config c = MustLoad(R"(
S3:
  Endpoint: http://127.0.0.1:9000
  Region: eu-north-1
  CredentialsFile: keys/credentials
  Profile: logs
  KeepLocalFiles: true
)");
  EXPECT_EQ(c.s3.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(c.s3.region, "eu-north-1");
  EXPECT_EQ(c.s3.credentials_file, "keys/credentials");  // beside t.yaml
  EXPECT_EQ(c.s3.credentials_file_location.line, 4);
  EXPECT_EQ(c.s3.profile, "logs");
  EXPECT_TRUE(c.s3.keep_local_files);
  EXPECT_TRUE(MustLoad("Admin: {Port: 0}\n").s3.endpoint.empty());
}

TEST(S3ConfigTest, ErrorsNameTheField) {
  EXPECT_THAT(Errors("S3: {Endpoint: http://127.0.0.1:9000}\n"),
              ElementsAre(HasSubstr("S3.CredentialsFile: missing required field")));
  EXPECT_THAT(Errors("S3: {CredentialsFile: c}\n"),
              ElementsAre(HasSubstr("S3.Endpoint: missing required field")));
  EXPECT_THAT(Errors("S3: {Endpoint: http://h:9000/logs, CredentialsFile: c}\n"),
              ElementsAre(HasSubstr("must not have a path")));
  EXPECT_THAT(Errors("S3: {Endpoint: ftp://h, CredentialsFile: c}\n"),
              ElementsAre(HasSubstr("t.yaml:1:16: S3.Endpoint: S3 endpoint 'ftp://h'")));
  EXPECT_THAT(Errors("S3: {Endpoint: http://h, CredentialsFile: c, Region: Mars}\n"),
              ElementsAre(HasSubstr("S3.Region: region 'Mars' is not a region name")));
  EXPECT_THAT(Errors("S3: {Endpoint: http://h, CredentialsFile: c, Bucket: b}\n"),
              ElementsAre(HasSubstr("unknown field 'Bucket'")));
}

TEST(S3ConfigTest, BucketAttributeMustBeABucketName) {
  EXPECT_THAT(Errors(R"(
LoadBalancers:
  - Name: lb
    Attributes: {access_logs.s3.enabled: true, sluice.access_logs.directory: /l,
                 access_logs.s3.bucket: My_Logs}
    Listeners: [{Protocol: HTTP, Port: 80, DefaultActions: [{Type: fixed-response,
                 FixedResponseConfig: {StatusCode: "200"}}]}]
)"),
              ElementsAre(HasSubstr("access_logs.s3.bucket 'My_Logs' is not an S3 bucket name")));
}

TEST(S3ConfigTest, CredentialsAreCheckedWhenCompiled) {
  char dir[] = "/tmp/s3credXXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string file = std::string(dir) + "/credentials";
  Config c =
      MustLoad("\nS3:\n  Endpoint: http://127.0.0.1:9000\n  CredentialsFile: " + file + "\n");
  ConfigErrors missing = CheckS3Credentials(c);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].line, 3);
  EXPECT_EQ(missing[0].field, "S3.CredentialsFile");
  EXPECT_THAT(missing[0].message, HasSubstr("credentials file " + file + ": cannot open"));

  std::ofstream(file) << "[default]\naws_access_key_id = AKID\n";
  ConfigErrors no_secret = CheckS3Credentials(c);
  ASSERT_EQ(no_secret.size(), 1u);
  EXPECT_THAT(no_secret[0].message, HasSubstr("profile [default] has no aws_secret_access_key"));

  std::ofstream(file) << "[default]\naws_access_key_id = AKID\naws_secret_access_key = SECRET\n";
  EXPECT_TRUE(CheckS3Credentials(c).empty());
  std::string why;
  auto creds = ReadS3Credentials(c.s3, &why);
  ASSERT_TRUE(creds) << why;
  EXPECT_EQ(creds->secret_access_key, "SECRET");
  EXPECT_TRUE(CheckS3Credentials(Config{}).empty());
  std::remove(file.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace sluice::config
