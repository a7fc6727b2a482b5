#include "nlb/flow_hash.h"

#include <cstring>

namespace sluice::nlb {

namespace {

inline uint64_t Rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

inline uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// The four-word state and one SipRound, as in the paper's figure.
struct SipState {
  uint64_t v0, v1, v2, v3;

  void Round() {
    v0 += v1;
    v1 = Rotl(v1, 13);
    v1 ^= v0;
    v0 = Rotl(v0, 32);
    v2 += v3;
    v3 = Rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = Rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = Rotl(v1, 17);
    v1 ^= v2;
    v2 = Rotl(v2, 32);
  }

  void Compress(uint64_t m) {  // c = 2 rounds per message word
    v3 ^= m;
    Round();
    Round();
    v0 ^= m;
  }
};

}  // namespace

FlowHashKey FlowHashKey::FromBytes(const uint8_t bytes[16]) {
  return FlowHashKey{LoadLe64(bytes), LoadLe64(bytes + 8)};
}

uint64_t SipHash24(const FlowHashKey& key, const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  // The initialisation constants spell "somepseudorandomlygeneratedbytes".
  SipState s{key.k0 ^ 0x736f6d6570736575ULL, key.k1 ^ 0x646f72616e646f6dULL,
             key.k0 ^ 0x6c7967656e657261ULL, key.k1 ^ 0x7465646279746573ULL};
  size_t whole = len - len % 8;
  for (size_t i = 0; i < whole; i += 8) s.Compress(LoadLe64(p + i));
  // The last word: the remaining 0-7 bytes, zero padding, and len mod 256 in the top byte.
  uint64_t last = static_cast<uint64_t>(len & 0xFF) << 56;
  for (size_t i = 0; i < len % 8; ++i) last |= static_cast<uint64_t>(p[whole + i]) << (8 * i);
  s.Compress(last);
  s.v2 ^= 0xFF;
  for (int i = 0; i < 4; ++i) s.Round();  // d = 4 finalisation rounds
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t FlowHash(const FlowHashKey& key, const FlowTuple& tuple, uint64_t salt) {
  // protocol(1) src(16) src_port(2) dst(16) dst_port(2) salt(8): 45 bytes on the stack.
  uint8_t buf[45];
  buf[0] = tuple.protocol;
  std::memcpy(buf + 1, tuple.source.ip.bytes.data(), 16);
  buf[17] = static_cast<uint8_t>(tuple.source.port >> 8);
  buf[18] = static_cast<uint8_t>(tuple.source.port);
  std::memcpy(buf + 19, tuple.destination.ip.bytes.data(), 16);
  buf[35] = static_cast<uint8_t>(tuple.destination.port >> 8);
  buf[36] = static_cast<uint8_t>(tuple.destination.port);
  for (int i = 0; i < 8; ++i) buf[37 + i] = static_cast<uint8_t>(salt >> (8 * i));
  return SipHash24(key, buf, sizeof(buf));
}

}  // namespace sluice::nlb
