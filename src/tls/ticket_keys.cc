#include "tls/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <ctime>

namespace sluice::tls {
namespace {

struct Keys {
  unsigned char name[16];
  unsigned char aes[32];
  unsigned char hmac[32];
};

int64_t RealNow() { return static_cast<int64_t>(std::time(nullptr)); }
int64_t (*g_now)() = RealNow;

// The process secret, made once (thread-safe static initialisation). If the random source
// failed, the secret stays zero-filled: tickets then still work but are predictable, so
// resumption is refused instead (see Derive).
struct Secret {
  unsigned char bytes[32] = {};
  bool ok = false;
  Secret() { ok = RAND_bytes(bytes, sizeof(bytes)) == 1; }
};

const Secret& ProcessSecret() {
  static const Secret secret;
  return secret;
}

// SHA-256(secret || period || label) into `out` (at most 32 bytes).
bool Hash(int64_t period, char label, unsigned char* out, size_t size) {
  const Secret& s = ProcessSecret();
  if (!s.ok) return false;
  unsigned char input[32 + 8 + 1];
  std::memcpy(input, s.bytes, 32);
  for (int i = 0; i < 8; ++i) input[32 + i] = static_cast<unsigned char>(period >> (8 * i));
  input[40] = static_cast<unsigned char>(label);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(input, sizeof(input), digest, &len, EVP_sha256(), nullptr) != 1) return false;
  std::memcpy(out, digest, size);
  return true;
}

bool DeriveUncached(int64_t period, Keys* keys) {
  return Hash(period, 'n', keys->name, sizeof(keys->name)) &&
         Hash(period, 'a', keys->aes, sizeof(keys->aes)) &&
         Hash(period, 'h', keys->hmac, sizeof(keys->hmac));
}

// The keys of a period, from a per-thread cache of the last two periods derived (a ticket is
// issued or checked on every handshake; three hashes each time cost ~1 % of a full one).
// Thread: any; each thread has its own cache, so no lock.
bool Derive(int64_t period, Keys* keys) {
  struct Slot {
    int64_t period = -1;
    Keys keys;
  };
  thread_local Slot slots[2];
  Slot& slot = slots[static_cast<uint64_t>(period) & 1];
  if (slot.period != period) {
    if (!DeriveUncached(period, &slot.keys)) return false;
    slot.period = period;
  }
  *keys = slot.keys;
  return true;
}

// AES-256-CBC fetched once: EVP_aes_256_cbc() makes every Init look the cipher up again.
const EVP_CIPHER* TicketCipher() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return cipher;
}

bool SetUp(const Keys& keys, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
           bool encrypt) {
  OSSL_PARAM params[3];
  params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                                const_cast<unsigned char*>(keys.hmac), 32);
  params[1] =
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0);
  params[2] = OSSL_PARAM_construct_end();
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return false;
  const EVP_CIPHER* aes = TicketCipher();
  if (aes == nullptr) return false;
  return encrypt ? EVP_EncryptInit_ex(cipher, aes, nullptr, keys.aes, iv) == 1
                 : EVP_DecryptInit_ex(cipher, aes, nullptr, keys.aes, iv) == 1;
}

// OpenSSL's ticket callback: encrypting, 1 (or -1 on failure); decrypting, 2 (accepted,
// re-issued) for a TLS 1.3 ticket of the current or the previous period and a TLS 1.2 ticket
// of the previous one, 1 (accepted) for a TLS 1.2 ticket of the current period, 0 (full
// handshake) for any other. TLS 1.3 tickets are single-use for the clients (RFC 8446 C.4;
// OpenSSL's client cache marks a session not resumable once used, as browsers do): with 1,
// OpenSSL would send no new ticket after a resumed TLS 1.3 handshake, and such a client's
// next connection would be a full handshake. OpenSSL's own ticket keys and NGINX's
// callback renew every TLS 1.3 ticket the same way.
int OnTicket(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
             EVP_MAC_CTX* mac, int encrypt) {
  const int64_t period = g_now() / kTicketKeyPeriodSeconds;
  Keys keys;
  if (encrypt) {
    if (!Derive(period, &keys) || RAND_bytes(iv, 16) != 1) {  // AES-256-CBC's IV
      return -1;
    }
    std::memcpy(name, keys.name, sizeof(keys.name));
    return SetUp(keys, iv, cipher, mac, true) ? 1 : -1;
  }
  for (int64_t age = 0; age <= 1; ++age) {
    if (!Derive(period - age, &keys)) return 0;
    if (std::memcmp(name, keys.name, sizeof(keys.name)) != 0) continue;
    if (!SetUp(keys, iv, cipher, mac, false)) return -1;
    return age == 0 && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
  }
  return 0;
}

}  // namespace

void UseProcessTicketKeys(SSL_CTX* ctx) { SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, OnTicket); }

void SetTicketClockForTest(int64_t (*now)()) { g_now = now != nullptr ? now : RealNow; }

}  // namespace sluice::tls
