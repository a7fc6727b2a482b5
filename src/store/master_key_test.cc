#include "store/master_key.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "store/store_test_support.h"

namespace sluice::store {
namespace {

using test_support::ModeOf;
using test_support::ReadFile;
using test_support::TempDir;
using test_support::WriteFile;
using ::testing::HasSubstr;

MasterKey KeyOf(uint8_t fill) {
  std::array<uint8_t, MasterKey::kKeyBytes> bytes{};
  bytes.fill(fill);
  auto key = MasterKey::FromBytes(bytes);
  EXPECT_TRUE(key.ok());
  return std::move(key.value());
}

TEST(MasterKeyTest, SealThenUnsealRoundTrips) {
  MasterKey key = KeyOf(1);
  auto sealed = key.Seal("the secret", "AKIAAAAAAAAAAAAAAAAA");
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  EXPECT_EQ(sealed.value().size(), MasterKey::kNonceBytes + 10 + MasterKey::kTagBytes);
  EXPECT_EQ(sealed.value().find("the secret"), std::string::npos);
  auto opened = key.Unseal(sealed.value(), "AKIAAAAAAAAAAAAAAAAA");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened.value(), "the secret");
}

TEST(MasterKeyTest, EachSealUsesAFreshNonce) {
  MasterKey key = KeyOf(1);
  auto a = key.Seal("same", "id");
  auto b = key.Seal("same", "id");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a.value().substr(0, MasterKey::kNonceBytes),
            b.value().substr(0, MasterKey::kNonceBytes));
  EXPECT_NE(a.value(), b.value());
}

TEST(MasterKeyTest, UnsealFailsUnderAnotherAadAnotherKeyOrAlteredBytes) {
  MasterKey key = KeyOf(1);
  auto sealed = key.Seal("the secret", "AKIA-ONE");
  ASSERT_TRUE(sealed.ok());
  auto other_aad = key.Unseal(sealed.value(), "AKIA-TWO");
  ASSERT_FALSE(other_aad.ok());
  EXPECT_THAT(other_aad.error().message, HasSubstr("does not authenticate"));
  EXPECT_FALSE(KeyOf(2).Unseal(sealed.value(), "AKIA-ONE").ok());
  for (size_t i : {size_t{0}, MasterKey::kNonceBytes + 3, sealed.value().size() - 1}) {
    std::string altered = sealed.value();
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    EXPECT_FALSE(key.Unseal(altered, "AKIA-ONE").ok()) << "byte " << i;
  }
  EXPECT_FALSE(key.Unseal(sealed.value().substr(0, 20), "AKIA-ONE").ok());
}

TEST(MasterKeyTest, CheckValueDependsOnTheKeyAndIsNotTheKey) {
  EXPECT_EQ(KeyOf(1).check(), KeyOf(1).check());
  EXPECT_NE(KeyOf(1).check(), KeyOf(2).check());
  EXPECT_THAT(KeyOf(1).check(), ::testing::MatchesRegex("[0-9a-f]{32}"));
  EXPECT_EQ(KeyOf(1).check().find("0101010101"), std::string::npos);
}

TEST(MasterKeyTest, CreatesAPrivateKeyFileAndReadsTheSameKeyBack) {
  TempDir dir;
  const std::string path = dir.File("master.key");
  auto created = MasterKey::LoadOrCreate(path, true);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ReadFile(path).size(), MasterKey::kKeyBytes);
  auto again = MasterKey::LoadOrCreate(path, false);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again.value().check(), created.value().check());
  // No temporary file is left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.exists() ? 1 : 0;
  EXPECT_EQ(files, 1);
}

TEST(MasterKeyTest, RefusesAKeyFileOthersCanRead) {
  TempDir dir;
  const std::string path = dir.File("master.key");
  WriteFile(path, std::string(32, 'k'), 0644);
  auto key = MasterKey::LoadOrCreate(path, true);
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.error().message, HasSubstr("chmod 600"));
  EXPECT_THAT(key.error().message, HasSubstr("0644"));
  EXPECT_THAT(key.error().message, HasSubstr(path));
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(MasterKey::LoadOrCreate(path, true).ok());
}

TEST(MasterKeyTest, RefusesAWrongSizeADirectoryAndAMissingFileWhenNotCreating) {
  TempDir dir;
  const std::string path = dir.File("master.key");
  auto missing = MasterKey::LoadOrCreate(path, false);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("No such file"));
  WriteFile(path, std::string(31, 'k'), 0600);
  auto short_key = MasterKey::LoadOrCreate(path, true);
  ASSERT_FALSE(short_key.ok());
  EXPECT_THAT(short_key.error().message, HasSubstr("31 bytes"));
  auto directory = MasterKey::LoadOrCreate(dir.path(), true);
  ASSERT_FALSE(directory.ok());
  EXPECT_THAT(directory.error().message, HasSubstr("not a regular file"));
}

TEST(MasterKeyTest, AccessKeyIdsLookLikeAwsOnesAndDiffer) {
  const std::regex shape("^AKIA[A-Z2-7]{16}$");
  std::set<std::string> seen;
  std::set<char> letters;
  for (int i = 0; i < 200; ++i) {
    auto id = RandomAccessKeyId();
    ASSERT_TRUE(id.ok());
    EXPECT_TRUE(std::regex_match(id.value(), shape)) << id.value();
    seen.insert(id.value());
    letters.insert(id.value().begin() + 4, id.value().end());
  }
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_EQ(letters.size(), 32u);  // the whole alphabet is used
}

TEST(MasterKeyTest, SecretsAre40CharactersOfTheBase64Alphabet) {
  const std::regex shape("^[A-Za-z0-9+/]{40}$");
  std::set<std::string> seen;
  std::set<char> letters;
  for (int i = 0; i < 200; ++i) {
    auto secret = RandomSecret();
    ASSERT_TRUE(secret.ok());
    EXPECT_TRUE(std::regex_match(secret.value(), shape)) << secret.value();
    seen.insert(secret.value());
    letters.insert(secret.value().begin(), secret.value().end());
  }
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_EQ(letters.size(), 64u);
}

}  // namespace
}  // namespace sluice::store
