#include "balancer/sticky_cookie.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sluice::balancer {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::array<uint8_t, 32> TestKey(uint8_t seed) {
  std::array<uint8_t, 32> key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(seed + 7 * i);
  return key;
}

// Independent base64url (no padding) helpers for building and inspecting cookies.
std::string B64Encode(const std::vector<uint8_t>& in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : in) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

std::vector<uint8_t> B64Decode(const std::string& in) {
  std::string alphabet = kAlphabet;
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    acc = (acc << 6) | static_cast<uint32_t>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  return out;
}

std::string Encode(const StickyCookieCodec& codec, const StickyValue& v) {
  std::string out;
  codec.Encode(v, &out);
  return out;
}

bool Same(const StickyValue& a, const StickyValue& b) {
  return a.scope == b.scope && a.target == b.target && a.expires_unix == b.expires_unix;
}

const StickyValue kValue{0x0123456789abcdefULL, 0xfedcba9876543210ULL, 1'750'000'000};

TEST(StickyCookieCodecTest, RoundTrip) {
  StickyCookieCodec codec(TestKey(1));
  for (const StickyValue& v : {kValue, StickyValue{0, 0, 0}, StickyValue{~0ULL, ~0ULL, INT64_MAX},
                               StickyValue{1, 2, INT64_MIN},
                               StickyValue{StickyHash("tg"), StickyHash("10.0.0.1:80"), -1}}) {
    std::string cookie = Encode(codec, v);
    auto decoded = codec.Decode(cookie);
    ASSERT_TRUE(decoded.has_value()) << cookie;
    EXPECT_TRUE(Same(*decoded, v));
  }
}

TEST(StickyCookieCodecTest, RandomKeyRoundTripsAndDiffersPerCodec) {
  StickyCookieCodec a;
  StickyCookieCodec b;
  auto decoded = a.Decode(Encode(a, kValue));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(Same(*decoded, kValue));
  EXPECT_FALSE(b.Decode(Encode(a, kValue)).has_value());
}

TEST(StickyCookieCodecTest, OutputIsCookieSafeAndAppends) {
  StickyCookieCodec codec(TestKey(1));
  std::string out = "AWSALB=";
  codec.Encode(kValue, &out);
  ASSERT_EQ(out.rfind("AWSALB=", 0), 0u);
  std::string cookie = out.substr(7);
  // 12-byte nonce + 24-byte ciphertext + 16-byte tag = 52 bytes = 70 base64 characters.
  EXPECT_EQ(cookie.size(), 70u);
  for (char c : cookie) {
    EXPECT_NE(std::string(kAlphabet).find(c), std::string::npos) << c;
  }
  EXPECT_TRUE(codec.Decode(cookie).has_value());
}

TEST(StickyCookieCodecTest, TwoEncodingsOfTheSameValueDiffer) {
  StickyCookieCodec codec(TestKey(1));
  std::set<std::string> seen;
  std::set<std::string> nonces;
  for (int i = 0; i < 100; ++i) {
    std::string cookie = Encode(codec, kValue);
    seen.insert(cookie);
    nonces.insert(cookie.substr(0, 16));  // the first 12 bytes are the nonce
    ASSERT_TRUE(codec.Decode(cookie).has_value());
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(nonces.size(), 100u);
}

// The format is nonce || AES-256-GCM(scope || target || expires, little-endian) || tag:
// decrypt a cookie with OpenSSL directly, independently of the codec.
TEST(StickyCookieCodecTest, WireFormatIsAes256GcmOfLittleEndianFields) {
  auto key = TestKey(9);
  StickyCookieCodec codec(key);
  std::vector<uint8_t> raw = B64Decode(Encode(codec, kValue));
  ASSERT_EQ(raw.size(), 52u);

  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  uint8_t plain[24];
  int len = 0;
  int final_len = 0;
  ASSERT_EQ(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), raw.data()), 1);
  ASSERT_EQ(EVP_DecryptUpdate(ctx, plain, &len, raw.data() + 12, 24), 1);
  ASSERT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, raw.data() + 36), 1);
  EXPECT_EQ(EVP_DecryptFinal_ex(ctx, plain + len, &final_len), 1);
  EVP_CIPHER_CTX_free(ctx);

  const uint8_t expected[24] = {0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01,   // scope
                                0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,   // target
                                0x80, 0xe1, 0x4e, 0x68, 0x00, 0x00, 0x00, 0x00};  // expires
  EXPECT_EQ(std::vector<uint8_t>(plain, plain + 24), std::vector<uint8_t>(expected, expected + 24));
}

// The other direction: a cookie built with OpenSSL directly decodes.
TEST(StickyCookieCodecTest, DecodesAnIndependentlyBuiltCookie) {
  auto key = TestKey(3);
  std::vector<uint8_t> raw(52);
  for (int i = 0; i < 12; ++i) raw[i] = static_cast<uint8_t>(0xa0 + i);
  uint8_t plain[24] = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0};
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  int final_len = 0;
  ASSERT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), raw.data()), 1);
  ASSERT_EQ(EVP_EncryptUpdate(ctx, raw.data() + 12, &len, plain, 24), 1);
  ASSERT_EQ(EVP_EncryptFinal_ex(ctx, raw.data() + 12 + len, &final_len), 1);
  ASSERT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, raw.data() + 36), 1);
  EVP_CIPHER_CTX_free(ctx);

  auto decoded = StickyCookieCodec(key).Decode(B64Encode(raw));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->scope, 1u);
  EXPECT_EQ(decoded->target, 2u);
  EXPECT_EQ(decoded->expires_unix, 3);
}

TEST(StickyCookieCodecTest, ChangingAnyCharacterIsDetected) {
  StickyCookieCodec codec(TestKey(1));
  const std::string cookie = Encode(codec, kValue);
  ASSERT_TRUE(codec.Decode(cookie).has_value());
  int tried = 0;
  for (size_t i = 0; i < cookie.size(); ++i) {
    for (const char* a = kAlphabet; *a != '\0'; ++a) {
      if (*a == cookie[i]) continue;
      std::string tampered = cookie;
      tampered[i] = *a;
      EXPECT_FALSE(codec.Decode(tampered).has_value()) << "position " << i << " -> " << *a;
      ++tried;
    }
    std::string flipped = cookie;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
    EXPECT_FALSE(codec.Decode(flipped).has_value()) << "position " << i;
  }
  EXPECT_EQ(tried, 70 * 63);
}

TEST(StickyCookieCodecTest, FlippingAnyBitOfTheRawBytesIsDetected) {
  StickyCookieCodec codec(TestKey(1));
  const std::vector<uint8_t> raw = B64Decode(Encode(codec, kValue));
  ASSERT_EQ(raw.size(), 52u);
  ASSERT_TRUE(codec.Decode(B64Encode(raw)).has_value());
  for (size_t i = 0; i < raw.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> tampered = raw;
      tampered[i] ^= static_cast<uint8_t>(1u << bit);
      EXPECT_FALSE(codec.Decode(B64Encode(tampered)).has_value()) << i << ":" << bit;
    }
  }
}

TEST(StickyCookieCodecTest, WrongKeyFails) {
  StickyCookieCodec a(TestKey(1));
  StickyCookieCodec b(TestKey(2));
  auto key = TestKey(1);
  key[31] ^= 1;
  StickyCookieCodec c(key);
  std::string cookie = Encode(a, kValue);
  EXPECT_TRUE(a.Decode(cookie).has_value());
  EXPECT_FALSE(b.Decode(cookie).has_value());
  EXPECT_FALSE(c.Decode(cookie).has_value());
}

TEST(StickyCookieCodecTest, GarbageFails) {
  StickyCookieCodec codec(TestKey(1));
  const std::string cookie = Encode(codec, kValue);
  std::vector<std::string> garbage = {
      "",
      "x",
      "AWSALB",
      std::string(70, 'A'),
      std::string(70, '_'),
      std::string(69, 'A') + "=",
      cookie.substr(0, 69),
      cookie + "A",
      cookie + "=",
      cookie + "==",
      cookie.substr(1),
      cookie.substr(0, 68) + "+/",  // standard base64 alphabet is not accepted
      std::string(70, '\0'),
      std::string(1000, 'A'),
      "\"" + cookie.substr(0, 68) + "\"",
  };
  // Same bytes with the unused low bits of the last character set: a second spelling.
  {
    std::string alt = cookie;
    size_t v = std::string(kAlphabet).find(alt.back());
    alt.back() = kAlphabet[v | 1];
    if (alt != cookie) garbage.push_back(alt);
  }
  // Standard base64 spelling of the same bytes, when it differs.
  {
    std::string std_alphabet = cookie;
    for (char& c : std_alphabet) c = c == '-' ? '+' : c == '_' ? '/' : c;
    if (std_alphabet != cookie) garbage.push_back(std_alphabet);
  }
  for (const std::string& g : garbage) {
    EXPECT_FALSE(codec.Decode(g).has_value()) << "'" << g << "'";
  }
}

TEST(StickyCookieCodecTest, Expiry) {
  StickyValue v{1, 2, 1000};
  EXPECT_FALSE(StickyCookieCodec::IsExpired(v, 999));
  EXPECT_TRUE(StickyCookieCodec::IsExpired(v, 1000));
  EXPECT_TRUE(StickyCookieCodec::IsExpired(v, 1001));
  // Decode does not check expiry; the decoded value does.
  StickyCookieCodec codec(TestKey(1));
  auto decoded = codec.Decode(Encode(codec, v));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(StickyCookieCodec::IsExpired(*decoded, 5000));
  EXPECT_FALSE(StickyCookieCodec::IsExpired(*decoded, 500));
}

TEST(StickyCookieCodecTest, ThreadSafe) {
  StickyCookieCodec codec(TestKey(5));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&codec, &failures, t] {
      std::string cookie;
      for (int i = 0; i < 2000; ++i) {
        StickyValue v{static_cast<uint64_t>(t), static_cast<uint64_t>(i), i};
        cookie.clear();
        codec.Encode(v, &cookie);
        auto d = codec.Decode(cookie);
        if (!d || !Same(*d, v)) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(StickyHashTest, IsFnv1a64) {
  EXPECT_EQ(StickyHash(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(StickyHash("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(StickyHash("foobar"), 0x85944171f73967e8ULL);
  EXPECT_NE(StickyHash("10.0.0.1:80"), StickyHash("10.0.0.1:81"));
}

TEST(FindCookieTest, Cases) {
  std::string_view v;
  EXPECT_TRUE(FindCookie("a=1; b=2", "a", &v));
  EXPECT_EQ(v, "1");
  EXPECT_TRUE(FindCookie("a=1; b=2", "b", &v));
  EXPECT_EQ(v, "2");
  EXPECT_FALSE(FindCookie("a=1; b=2", "c", &v));
  EXPECT_FALSE(FindCookie("", "a", &v));
  EXPECT_FALSE(FindCookie("a=1", "", &v));

  // Whitespace around names, values and separators; no space after ';'.
  EXPECT_TRUE(FindCookie("  a = 1 ;b=2  ;  c=3", "b", &v));
  EXPECT_EQ(v, "2");
  EXPECT_TRUE(FindCookie("  a = 1 ;b=2  ;  c=3", "a", &v));
  EXPECT_EQ(v, "1");
  EXPECT_TRUE(FindCookie("a=1;\tc=3\t", "c", &v));
  EXPECT_EQ(v, "3");

  // Quoted values lose their quotes; a lone quote stays.
  EXPECT_TRUE(FindCookie("AWSALB=\"abc\"; x=y", "AWSALB", &v));
  EXPECT_EQ(v, "abc");
  EXPECT_TRUE(FindCookie("q=\"", "q", &v));
  EXPECT_EQ(v, "\"");
  EXPECT_TRUE(FindCookie("q=\"\"", "q", &v));
  EXPECT_EQ(v, "");

  // First match wins.
  EXPECT_TRUE(FindCookie("AWSALB=first; AWSALB=second", "AWSALB", &v));
  EXPECT_EQ(v, "first");

  // Names are exact and case-sensitive; prefixes and suffixes do not match.
  EXPECT_FALSE(FindCookie("AWSALBCORS=x", "AWSALB", &v));
  EXPECT_TRUE(FindCookie("AWSALBCORS=x; AWSALB=y", "AWSALB", &v));
  EXPECT_EQ(v, "y");
  EXPECT_FALSE(FindCookie("awsalb=x", "AWSALB", &v));
  EXPECT_FALSE(FindCookie("XAWSALB=x", "AWSALB", &v));

  // Empty values, '=' inside values, pairs without '=' and empty pairs.
  EXPECT_TRUE(FindCookie("a=; b=2", "a", &v));
  EXPECT_EQ(v, "");
  EXPECT_TRUE(FindCookie("t=a=b=c", "t", &v));
  EXPECT_EQ(v, "a=b=c");
  EXPECT_FALSE(FindCookie("a; b", "a", &v));
  EXPECT_TRUE(FindCookie(";; a ;=x; b=2;", "b", &v));
  EXPECT_EQ(v, "2");
  EXPECT_FALSE(FindCookie("=x", "", &v));

  // A null output pointer just tests for presence.
  EXPECT_TRUE(FindCookie("a=1", "a", nullptr));
}

TEST(FindCookieTest, FindsAStickinessCookieAmongOthers) {
  StickyCookieCodec codec(TestKey(1));
  std::string header = "session=xyz; AWSALB=" + Encode(codec, kValue) + "; theme=dark";
  std::string_view v;
  ASSERT_TRUE(FindCookie(header, "AWSALB", &v));
  auto decoded = codec.Decode(v);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(Same(*decoded, kValue));
}

}  // namespace
}  // namespace sluice::balancer
