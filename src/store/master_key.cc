#include "store/master_key.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

namespace sluice::store {
namespace {

constexpr std::string_view kSealLabel = "sluice-state-seal-key-v1";
constexpr std::string_view kCheckLabel = "sluice-state-key-check";
constexpr size_t kCheckBytes = 16;
constexpr size_t kMaxPlaintext = 1 << 20;

Error KeyError(const std::string& path, std::string_view what) {
  return Error{ErrorSource::kConfig, "master key file '" + path + "': " + std::string(what)};
}

Error SysError(const std::string& path, std::string_view what) {
  return KeyError(path, std::string(what) + ": " + std::strerror(errno));
}

Error CryptoError(std::string_view what) {
  return Error{ErrorSource::kInternal, "OpenSSL: " + std::string(what) + " failed"};
}

Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return CryptoError("RAND_bytes");
  }
  return out;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// Spells `bytes` with `bits` bits per character from `alphabet` (2^bits letters); the
// caller passes a whole number of characters' worth of bits.
std::string Spell(std::string_view bytes, int bits, std::string_view alphabet) {
  std::string out;
  uint32_t acc = 0;
  int have = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    have += 8;
    while (have >= bits) {
      have -= bits;
      out += alphabet[(acc >> have) & ((1u << bits) - 1)];
    }
  }
  return out;
}

Status WriteAll(int fd, const uint8_t* data, size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Error{ErrorSource::kInternal, std::strerror(w < 0 ? errno : EIO)};
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Done{};
}

Status FsyncDirectory(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return SysError(path, "cannot open its directory to fsync it");
  if (fsync(fd) != 0) {
    const int saved = errno;
    (void)close(fd);  // the fsync error is the one to report
    errno = saved;
    return SysError(path, "cannot fsync its directory");
  }
  if (close(fd) != 0) return SysError(path, "cannot close its directory");
  return Done{};
}

// Writes 32 random bytes to a fresh temporary file next to `path` and links it to `path`.
// Success also when another process published a key first (EEXIST): the caller reads it.
Status CreateKeyFile(const std::string& path) {
  auto suffix = RandomBytes(8);
  if (!suffix.ok()) return suffix.error();
  const std::string tmp = path + ".tmp-" + Hex(suffix.value());
  std::array<uint8_t, MasterKey::kKeyBytes> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) return CryptoError("RAND_bytes");
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    OPENSSL_cleanse(key.data(), key.size());
    return SysError(path, "cannot create '" + tmp + "'");
  }
  std::string failure;
  Status written = WriteAll(fd, key.data(), key.size());
  OPENSSL_cleanse(key.data(), key.size());
  if (!written.ok()) {
    failure = "cannot write: " + written.error().message;
  } else if (fchmod(fd, 0600) != 0) {  // the umask may have cleared bits of 0600
    failure = std::string("cannot chmod: ") + std::strerror(errno);
  } else if (fsync(fd) != 0) {
    failure = std::string("cannot fsync: ") + std::strerror(errno);
  }
  if (close(fd) != 0 && failure.empty())
    failure = std::string("cannot close: ") + std::strerror(errno);
  if (!failure.empty()) {
    (void)unlink(tmp.c_str());  // best effort; `failure` is the error that matters
    return KeyError(path, "'" + tmp + "': " + failure);
  }
  const bool linked = link(tmp.c_str(), path.c_str()) == 0 || errno == EEXIST;
  const int link_errno = errno;
  if (unlink(tmp.c_str()) != 0 && linked) return SysError(path, "cannot remove '" + tmp + "'");
  if (!linked) {
    errno = link_errno;
    return SysError(path, "cannot create");
  }
  return FsyncDirectory(path);
}

// Reads an existing key file, refusing anything but a private regular file of 32 bytes.
Status ReadKeyFile(const std::string& path, int fd,
                   std::array<uint8_t, MasterKey::kKeyBytes>* key) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return SysError(path, "cannot stat");
  if (!S_ISREG(st.st_mode)) return KeyError(path, "not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return KeyError(path, "is accessible to group or others (mode " + std::string(mode) +
                              "); run chmod 600 '" + path + "'");
  }
  if (st.st_size != static_cast<off_t>(key->size())) {
    return KeyError(path, "is " + std::to_string(st.st_size) + " bytes; a master key is " +
                              std::to_string(key->size()) + " bytes");
  }
  size_t got = 0;
  while (got < key->size()) {
    const ssize_t r = read(fd, key->data() + got, key->size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return SysError(path, "cannot read");
    if (r == 0) return KeyError(path, "is shorter than it was a moment ago");
    got += static_cast<size_t>(r);
  }
  return Done{};
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

}  // namespace

Result<MasterKey> MasterKey::LoadOrCreate(const std::string& path, bool may_create) {
  // O_NONBLOCK: opening a FIFO placed at the path must not block; fstat then refuses it.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0 && errno == ENOENT && may_create) {
    Status created = CreateKeyFile(path);
    if (!created.ok()) return created.error();
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  }
  if (fd < 0) return SysError(path, "cannot open");
  std::array<uint8_t, kKeyBytes> bytes{};
  Status read = ReadKeyFile(path, fd, &bytes);
  if (close(fd) != 0 && read.ok()) read = SysError(path, "cannot close");
  if (!read.ok()) {
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return read.error();
  }
  Result<MasterKey> key = FromBytes(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return key;
}

Result<MasterKey> MasterKey::FromBytes(const std::array<uint8_t, kKeyBytes>& bytes) {
  MasterKey key;
  Status derived = key.Derive(bytes);
  if (!derived.ok()) return derived.error();
  return key;
}

MasterKey::MasterKey(MasterKey&& other) noexcept
    : seal_key_(other.seal_key_), check_(std::move(other.check_)) {
  OPENSSL_cleanse(other.seal_key_.data(), other.seal_key_.size());
}

MasterKey::~MasterKey() { OPENSSL_cleanse(seal_key_.data(), seal_key_.size()); }

// Two keys from the master with HMAC-SHA256 and distinct labels, so that the key-check value
// reveals nothing about the sealing key.
Status MasterKey::Derive(const std::array<uint8_t, kKeyBytes>& master) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  auto mac = [&](std::string_view label) {
    return HMAC(EVP_sha256(), master.data(), static_cast<int>(master.size()),
                reinterpret_cast<const unsigned char*>(label.data()), label.size(), out,
                &n) != nullptr &&
           n == 32;
  };
  if (!mac(kSealLabel)) return CryptoError("HMAC-SHA256");
  std::memcpy(seal_key_.data(), out, seal_key_.size());
  if (!mac(kCheckLabel)) return CryptoError("HMAC-SHA256");
  check_ = Hex(std::string_view(reinterpret_cast<const char*>(out), kCheckBytes));
  OPENSSL_cleanse(out, sizeof(out));
  return Done{};
}

Result<std::string> MasterKey::Seal(std::string_view plaintext, std::string_view aad) const {
  if (plaintext.size() > kMaxPlaintext || aad.size() > kMaxPlaintext) {
    return Error{ErrorSource::kInternal, "value too large to seal"};
  }
  auto nonce = RandomBytes(kNonceBytes);
  if (!nonce.ok()) return nonce.error();
  std::string out = nonce.value();
  out.resize(kNonceBytes + plaintext.size() + kTagBytes);
  auto* iv = reinterpret_cast<const unsigned char*>(out.data());
  auto* ct = reinterpret_cast<unsigned char*>(out.data()) + kNonceBytes;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  int final_len = 0;
  const bool ok =
      ctx != nullptr &&
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, seal_key_.data(), iv) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), ct, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx.get(), ct + len, &final_len) == 1 &&
      static_cast<size_t>(len + final_len) == plaintext.size() &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, ct + plaintext.size()) == 1;
  if (!ok) return CryptoError("AES-256-GCM encryption");
  return out;
}

Result<std::string> MasterKey::Unseal(std::string_view sealed, std::string_view aad) const {
  if (sealed.size() < kNonceBytes + kTagBytes || sealed.size() > kMaxPlaintext) {
    return Error{ErrorSource::kInternal,
                 "sealed value is " + std::to_string(sealed.size()) + " bytes: malformed"};
  }
  const size_t n = sealed.size() - kNonceBytes - kTagBytes;
  const auto* iv = reinterpret_cast<const unsigned char*>(sealed.data());
  const auto* ct = iv + kNonceBytes;
  std::string tag(sealed.substr(kNonceBytes + n));
  std::string out(n, '\0');
  auto* pt = reinterpret_cast<unsigned char*>(out.data());
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  const bool ready =
      ctx != nullptr &&
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, seal_key_.data(), iv) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), pt, &len, ct, static_cast<int>(n)) == 1 &&
      static_cast<size_t>(len) == n &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1;
  if (!ready) return CryptoError("AES-256-GCM decryption");
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), pt + len, &final_len) != 1 || final_len != 0) {
    OPENSSL_cleanse(out.data(), out.size());
    return Error{ErrorSource::kInternal, "sealed value does not authenticate"};
  }
  return out;
}

Result<std::string> RandomAccessKeyId() {
  auto bytes = RandomBytes(10);
  if (!bytes.ok()) return bytes.error();
  return "AKIA" + Spell(bytes.value(), 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
}

Result<std::string> RandomSecret() {
  auto bytes = RandomBytes(30);
  if (!bytes.ok()) return bytes.error();
  std::string secret =
      Spell(bytes.value(), 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
  OPENSSL_cleanse(bytes.value().data(), bytes.value().size());
  return secret;
}

}  // namespace sluice::store
