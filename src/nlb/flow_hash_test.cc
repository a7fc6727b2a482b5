#include "nlb/flow_hash.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <random>

namespace sluice::nlb {
namespace {

FlowHashKey PaperKey() {  // the paper's test key: bytes 00 01 .. 0f
  uint8_t k[16];
  for (int i = 0; i < 16; ++i) k[i] = static_cast<uint8_t>(i);
  return FlowHashKey::FromBytes(k);
}

TEST(SipHash24, PaperTestVectors) {
  // Appendix A of the paper: key 00..0f, message 00..0e (15 bytes).
  uint8_t msg[15];
  for (int i = 0; i < 15; ++i) msg[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(SipHash24(PaperKey(), msg, 15), 0xa129ca6149be45e5ULL);
  // The reference's vector table, for messages 00..(n-1) of n = 0, 1 and 8 bytes.
  EXPECT_EQ(SipHash24(PaperKey(), msg, 0), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(SipHash24(PaperKey(), msg, 1), 0x74f839c593dc67fdULL);
  EXPECT_EQ(SipHash24(PaperKey(), msg, 8), 0x93f5f5799a932462ULL);
}

FlowTuple RandomTuple(std::mt19937_64& rng, uint8_t proto = kIpProtoUdp) {
  FlowTuple t;
  t.protocol = proto;
  for (SocketAddress* a : {&t.source, &t.destination}) {
    a->ip.is_v4 = true;
    a->ip.bytes[10] = a->ip.bytes[11] = 0xff;
    uint32_t v = static_cast<uint32_t>(rng());
    for (int i = 0; i < 4; ++i) a->ip.bytes[12 + i] = static_cast<uint8_t>(v >> (8 * i));
    a->port = static_cast<uint16_t>(rng());
  }
  t.destination.port = 443;
  return t;
}

FlowHashKey RandomKey(std::mt19937_64& rng) { return FlowHashKey{rng(), rng()}; }

TEST(FlowHash, SameTupleSameKeySameTarget) {
  std::mt19937_64 rng(1);
  FlowHashKey key = RandomKey(rng);
  for (int i = 0; i < 1000; ++i) {
    FlowTuple t = RandomTuple(rng);
    FlowTuple copy = t;
    EXPECT_EQ(FlowHash(key, t), FlowHash(key, copy));
    EXPECT_EQ(PickIndex(FlowHash(key, t, 77), 10), PickIndex(FlowHash(key, copy, 77), 10));
  }
}

TEST(FlowHash, EveryFieldMatters) {
  std::mt19937_64 rng(2);
  FlowHashKey key = RandomKey(rng);
  FlowTuple base = RandomTuple(rng, kIpProtoTcp);
  uint64_t h = FlowHash(key, base, 5);
  FlowTuple t = base;
  t.protocol = kIpProtoUdp;
  EXPECT_NE(FlowHash(key, t, 5), h);
  t = base;
  t.source.port ^= 1;
  EXPECT_NE(FlowHash(key, t, 5), h);
  t = base;
  t.destination.port ^= 1;
  EXPECT_NE(FlowHash(key, t, 5), h);
  t = base;
  t.source.ip.bytes[15] ^= 1;
  EXPECT_NE(FlowHash(key, t, 5), h);
  t = base;
  t.destination.ip.bytes[12] ^= 0x80;
  EXPECT_NE(FlowHash(key, t, 5), h);
  EXPECT_NE(FlowHash(key, base, 6), h);  // the salt (SYN sequence number)
}

// 100,000 tuples over 10 targets: each count is Binomial(n = 1e5, p = 0.1) under a uniform
// hash, mean 10,000 and sigma = sqrt(n p (1 - p)) = 94.9. Six sigma (569, 5.7 %) is exceeded
// by a given bin with probability about 2e-9, by any of the ten with at most 2e-8; and the
// inputs are seeded, so the test is deterministic besides. Chi-square with 9 degrees of
// freedom has mean 9; above 60 has probability below 1e-9.
TEST(FlowHash, DistributesUniformlyOverTargets) {
  std::mt19937_64 rng(3);
  FlowHashKey key = RandomKey(rng);
  constexpr int kN = 100000;
  constexpr uint32_t kTargets = 10;
  std::array<int, kTargets> counts{};
  for (int i = 0; i < kN; ++i) ++counts[PickIndex(FlowHash(key, RandomTuple(rng)), kTargets)];
  const double mean = kN / double(kTargets);
  const double sigma = std::sqrt(kN * 0.1 * 0.9);
  double chi2 = 0;
  for (int c : counts) {
    EXPECT_LT(std::abs(c - mean), 6 * sigma) << c;
    chi2 += (c - mean) * (c - mean) / mean;
  }
  EXPECT_LT(chi2, 60.0);
}

// One client, one listener, many connections (only the source port and the SYN's sequence
// number vary): the connections still spread over every target.
TEST(FlowHash, SaltSpreadsConnectionsFromOneClient) {
  std::mt19937_64 rng(4);
  FlowHashKey key = RandomKey(rng);
  FlowTuple t = RandomTuple(rng, kIpProtoTcp);
  std::array<int, 4> counts{};
  for (int i = 0; i < 4000; ++i) ++counts[PickIndex(FlowHash(key, t, rng() >> 32), 4)];
  for (int c : counts) EXPECT_GT(c, 800);  // mean 1000, sigma 27
}

// A different key remaps: the chance that a tuple keeps its target is 1/10 (sigma 30 of
// 10,000 tuples), so 1,500 is over 16 sigma away.
TEST(FlowHash, KeyChangesTheMapping) {
  std::mt19937_64 rng(5);
  FlowHashKey a = RandomKey(rng);
  FlowHashKey b = RandomKey(rng);
  int same = 0;
  for (int i = 0; i < 10000; ++i) {
    FlowTuple t = RandomTuple(rng);
    same += PickIndex(FlowHash(a, t), 10) == PickIndex(FlowHash(b, t), 10);
  }
  EXPECT_LT(same, 1500);
  EXPECT_GT(same, 500);
}

TEST(FlowHash, PickIndexBounds) {
  EXPECT_EQ(PickIndex(UINT64_MAX, 10), 9u);
  EXPECT_EQ(PickIndex(0, 10), 0u);
  EXPECT_EQ(PickIndex(UINT64_MAX, 1), 0u);
  EXPECT_EQ(PickIndex(12345, 0), 0u);
  EXPECT_EQ(PickIndex(UINT64_MAX, UINT32_MAX), UINT32_MAX - 1);
}

}  // namespace
}  // namespace sluice::nlb
