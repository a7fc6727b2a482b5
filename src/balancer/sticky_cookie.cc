#include "balancer/sticky_cookie.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace sluice::balancer {
namespace {

// Cookie layout: base64url-no-padding(nonce || AES-256-GCM(plaintext) || tag), where
// plaintext = scope(8) || target(8) || expires_unix(8), each little-endian.
constexpr size_t kNonceBytes = 12;  // 96-bit random nonce, fresh per cookie
constexpr size_t kPlainBytes = 24;
constexpr size_t kTagBytes = 16;
constexpr size_t kRawBytes = kNonceBytes + kPlainBytes + kTagBytes;  // 52
constexpr size_t kEncodedChars = (kRawBytes * 4 + 2) / 3;            // 70, no padding

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Random 96-bit nonces: with 2^32 cookies per key the collision probability is ~2^-33, the
// NIST SP 800-38D bound. A key lives for one process lifetime, far below that volume.
static_assert(kEncodedChars == 70);

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

void Base64UrlEncode(const uint8_t* in, size_t n, char* out) {
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    *out++ = kAlphabet[(v >> 18) & 63];
    *out++ = kAlphabet[(v >> 12) & 63];
    *out++ = kAlphabet[(v >> 6) & 63];
    *out++ = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = uint32_t{in[i]} << 16;
    *out++ = kAlphabet[(v >> 18) & 63];
    *out++ = kAlphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8);
    *out++ = kAlphabet[(v >> 18) & 63];
    *out++ = kAlphabet[(v >> 12) & 63];
    *out++ = kAlphabet[(v >> 6) & 63];
  }
}

// Strict decoding of exactly kEncodedChars characters into kRawBytes bytes: only the URL-safe
// alphabet, no padding, and the unused low bits of the last character must be zero so that
// every cookie has exactly one spelling.
bool Base64UrlDecodeRaw(std::string_view in, uint8_t* out) {
  if (in.size() != kEncodedChars) return false;
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (char c : in) {
    int v = Base64Value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = static_cast<uint8_t>(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  return n == kRawBytes && acc == 0;
}

void PutLe64(uint64_t v, uint8_t* p) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t GetLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The cipher, fetched once (OpenSSL 3 would otherwise fetch it implicitly on every init).
const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* const cipher = [] {
    const EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    return c != nullptr ? c : EVP_aes_256_gcm();
  }();
  return cipher;
}

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

// One cipher context per thread and direction, created on first use and freed at thread exit.
// This makes Encode/Decode thread-safe without locks (the codec itself is read-only) and
// avoids an allocation per cookie. Every call fully re-initialises the context (cipher, key,
// nonce), so nothing carries over between cookies.
EVP_CIPHER_CTX* ThreadCtx(bool encrypt) {
  thread_local CtxPtr enc_ctx(EVP_CIPHER_CTX_new());
  thread_local CtxPtr dec_ctx(EVP_CIPHER_CTX_new());
  return encrypt ? enc_ctx.get() : dec_ctx.get();
}

}  // namespace

// The key comes from the kernel (getrandom), not OpenSSL: every process makes a codec at
// start-up, and RAND_bytes there would initialise OpenSSL's random generator and providers
// (~3 MiB of libcrypto pages resident) in a process that may never use TLS or stickiness.
StickyCookieCodec::StickyCookieCodec() {
  // 32 bytes: getrandom returns them whole once the pool is initialised (blocks until then).
  ssize_t got;
  do {
    got = getrandom(key_.data(), key_.size(), 0);
  } while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(key_.size())) {
    // No safe fallback: a predictable key would let clients forge cookies.
    std::fputs("sluice: getrandom failed generating the stickiness cookie key\n", stderr);
    std::abort();
  }
}

StickyCookieCodec::StickyCookieCodec(const std::array<uint8_t, 32>& key) : key_(key) {}

// On an OpenSSL failure (which does not happen with valid inputs) nothing is appended: an
// absent cookie just means the client is not stuck. A nonce is never reused or made up.
void StickyCookieCodec::Encode(const StickyValue& value, std::string* out) const {
  uint8_t raw[kRawBytes];
  uint8_t* nonce = raw;
  uint8_t* cipher_text = raw + kNonceBytes;
  uint8_t* tag = raw + kNonceBytes + kPlainBytes;

  uint8_t plain[kPlainBytes];
  PutLe64(value.scope, plain);
  PutLe64(value.target, plain + 8);
  PutLe64(static_cast<uint64_t>(value.expires_unix), plain + 16);

  if (RAND_bytes(nonce, kNonceBytes) != 1) return;
  EVP_CIPHER_CTX* ctx = ThreadCtx(true);
  if (ctx == nullptr) return;
  int len = 0;
  int final_len = 0;
  // The default GCM IV length is 12 bytes, the size of our nonce.
  if (EVP_EncryptInit_ex(ctx, Aes256Gcm(), nullptr, key_.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx, cipher_text, &len, plain, kPlainBytes) != 1 ||
      len != static_cast<int>(kPlainBytes) ||
      EVP_EncryptFinal_ex(ctx, cipher_text + len, &final_len) != 1 || final_len != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) != 1) {
    return;
  }
  size_t at = out->size();
  out->resize(at + kEncodedChars);
  Base64UrlEncode(raw, kRawBytes, out->data() + at);
}

std::optional<StickyValue> StickyCookieCodec::Decode(std::string_view cookie_value) const {
  uint8_t raw[kRawBytes];
  if (!Base64UrlDecodeRaw(cookie_value, raw)) return std::nullopt;
  const uint8_t* nonce = raw;
  const uint8_t* cipher_text = raw + kNonceBytes;
  uint8_t* tag = raw + kNonceBytes + kPlainBytes;

  EVP_CIPHER_CTX* ctx = ThreadCtx(false);
  if (ctx == nullptr) return std::nullopt;
  uint8_t plain[kPlainBytes];
  int len = 0;
  int final_len = 0;
  if (EVP_DecryptInit_ex(ctx, Aes256Gcm(), nullptr, key_.data(), nonce) != 1 ||
      EVP_DecryptUpdate(ctx, plain, &len, cipher_text, kPlainBytes) != 1 ||
      len != static_cast<int>(kPlainBytes) ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) != 1 ||
      // Verifies the tag (in constant time); fails for tampering or another key.
      EVP_DecryptFinal_ex(ctx, plain + len, &final_len) != 1) {
    return std::nullopt;
  }
  StickyValue v;
  v.scope = GetLe64(plain);
  v.target = GetLe64(plain + 8);
  v.expires_unix = static_cast<int64_t>(GetLe64(plain + 16));
  return v;
}

uint64_t StickyHash(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;  // FNV 64 prime
  }
  return h;
}

// RFC 6265 §5.2/§4.2.1: pairs separated by ';', optional whitespace around names and values,
// the value may be wrapped in double quotes (removed). Names compare case-sensitively. Pairs
// without '=' are skipped. The first pair with the name wins.
bool FindCookie(std::string_view cookie_header, std::string_view name, std::string_view* value) {
  if (name.empty()) return false;
  while (!cookie_header.empty()) {
    size_t semi = cookie_header.find(';');
    std::string_view pair = cookie_header.substr(0, semi);
    cookie_header =
        semi == std::string_view::npos ? std::string_view() : cookie_header.substr(semi + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (TrimSpaces(pair.substr(0, eq)) != name) continue;
    std::string_view v = TrimSpaces(pair.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (value != nullptr) *value = v;
    return true;
  }
  return false;
}

}  // namespace sluice::balancer
