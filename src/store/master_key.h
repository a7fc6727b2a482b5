// The master key that seals access-key secrets at rest, and the random access key ids and
// secrets themselves. Internal to the store; the scheme is described in state_store.h.
// Threads: a MasterKey is immutable after LoadOrCreate, so its const methods may be called
// from any thread. The key bytes are wiped (OPENSSL_cleanse) when it is destroyed.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "store/status.h"

namespace sluice::store {

class MasterKey {
 public:
  static constexpr size_t kKeyBytes = 32;
  static constexpr size_t kNonceBytes = 12;
  static constexpr size_t kTagBytes = 16;

  // Reads the key file at `path`: exactly 32 bytes, a regular file with no group or other
  // permission bits. A missing file is created (when `may_create`) with 32 random bytes and
  // mode 0600: written and fsynced under a temporary name, then published with link(2),
  // which like O_EXCL never replaces a file another process created meanwhile, and the
  // directory fsynced so that the key outlives a crash as surely as the database does.
  static Result<MasterKey> LoadOrCreate(const std::string& path, bool may_create);
  // A key from raw bytes (tests).
  static Result<MasterKey> FromBytes(const std::array<uint8_t, kKeyBytes>& bytes);

  MasterKey(const MasterKey&) = delete;
  MasterKey& operator=(const MasterKey&) = delete;
  MasterKey(MasterKey&& other) noexcept;
  MasterKey& operator=(MasterKey&&) = delete;
  ~MasterKey();

  // The key-check value: hex of HMAC-SHA256(master, "sluice-state-key-check")[0:16].
  const std::string& check() const { return check_; }

  // AES-256-GCM under the sealing key with a random nonce and `aad` authenticated:
  // nonce(12) || ciphertext || tag(16).
  Result<std::string> Seal(std::string_view plaintext, std::string_view aad) const;
  // The plaintext, or an Error: a sealed value that is malformed, or that does not
  // authenticate under this key with this `aad` (message says "does not authenticate").
  Result<std::string> Unseal(std::string_view sealed, std::string_view aad) const;

 private:
  MasterKey() = default;
  Status Derive(const std::array<uint8_t, kKeyBytes>& master);

  std::array<uint8_t, kKeyBytes> seal_key_{};
  std::string check_;
};

// "AKIA" + 16 characters of the base32 alphabet [A-Z2-7] (80 random bits).
Result<std::string> RandomAccessKeyId();
// 40 characters of [A-Za-z0-9+/] (240 random bits).
Result<std::string> RandomSecret();

}  // namespace sluice::store
