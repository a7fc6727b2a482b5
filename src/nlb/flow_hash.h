// The NLB flow hash (reference alb-nlb.md §8.2): a keyed hash of a flow's 5-tuple (protocol,
// source ip:port, destination ip:port) plus a salt, and the choice of one of N targets from it.
// A TCP connection salts with its SYN's sequence number (or a per-connection random value), so
// that connections from one client spread over targets; a UDP flow salts with 0, so that every
// datagram of the flow lands on the same target.
//
// The hash is SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012),
// written here from the paper's description. The key is a per-process (or per-node) secret:
// without it a client cannot choose ports that pile onto one target or one hash-table bucket.
//
// Pure functions; any thread; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/ip_address.h"

namespace sluice::nlb {

// IP protocol numbers, as they appear in the tuple.
inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kIpProtoUdp = 17;

// A flow's 5-tuple as the NLB node sees it: source = the client, destination = the listener.
struct FlowTuple {
  uint8_t protocol = kIpProtoTcp;
  SocketAddress source;
  SocketAddress destination;
  bool operator==(const FlowTuple&) const = default;
};

// SipHash's 128-bit key as two little-endian 64-bit words (k0 = bytes 0-7, k1 = bytes 8-15).
struct FlowHashKey {
  uint64_t k0 = 0;
  uint64_t k1 = 0;
  static FlowHashKey FromBytes(const uint8_t bytes[16]);
  bool operator==(const FlowHashKey&) const = default;
};

// SipHash-2-4 of `len` bytes at `data` (the 64-bit output, as the reference's u64 reading).
uint64_t SipHash24(const FlowHashKey& key, const void* data, size_t len);

// The keyed hash of the tuple and salt. Addresses are hashed in their 16-byte form, so an
// IPv4 address and its v4-mapped IPv6 form hash alike.
uint64_t FlowHash(const FlowHashKey& key, const FlowTuple& tuple, uint64_t salt = 0);

// Maps a 64-bit hash onto 0..n-1 by multiply-and-shift (the high 64 bits of hash * n):
// uniform for uniform hashes, no division. Returns 0 when n is 0 (the caller has no target).
inline uint32_t PickIndex(uint64_t hash, uint32_t n) {
  return static_cast<uint32_t>((static_cast<unsigned __int128>(hash) * n) >> 64);
}

}  // namespace sluice::nlb
