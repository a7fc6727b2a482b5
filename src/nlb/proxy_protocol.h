// PROXY protocol version 2 (HAProxy's binary header), as an NLB target group with
// proxy_protocol_v2.enabled prepends it to each TCP stream (reference alb-nlb.md §8.4).
//
// Encoder: the PROXY command for TCP or UDP over IPv4 or IPv6 (client address as source,
// listener address as destination) and the LOCAL command for health-check connections. It
// writes into a caller's buffer and never allocates; kProxyV2MaxAddressHeader bytes always
// suffice when no TLVs are passed. AWS's own TLV (0xEA, the VPC endpoint id) is not emitted:
// Sluice has no PrivateLink.
//
// Decoder: strict. It tells "need more bytes" (the input is a consistent prefix of a header)
// apart from "malformed" (no header can start with these bytes), caps the header length, and
// validates the TLV sequence. A decoded header's `tlvs` is a view into the input.
//
// Pure functions; any thread; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/ip_address.h"

namespace sluice::nlb {

// The 12-byte signature that opens every v2 header.
inline constexpr uint8_t kProxyV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
// Signature, version/command, family/transport and the 16-bit length.
inline constexpr size_t kProxyV2FixedBytes = 16;
inline constexpr size_t kProxyV2Ipv4Block = 12;  // src(4) dst(4) src_port(2) dst_port(2)
inline constexpr size_t kProxyV2Ipv6Block = 36;  // src(16) dst(16) src_port(2) dst_port(2)
// The largest header the encoder writes without TLVs (IPv6).
inline constexpr size_t kProxyV2MaxAddressHeader = kProxyV2FixedBytes + kProxyV2Ipv6Block;
// The decoder's default cap on a whole header; a header longer than the cap is malformed.
inline constexpr size_t kProxyV2DefaultMaxHeader = 1024;
// The largest header the format can express (the length field is 16 bits).
inline constexpr size_t kProxyV2MaxHeader = kProxyV2FixedBytes + 0xFFFF;

// Byte 12, low nibble (the high nibble is the version, always 2).
enum class ProxyV2Command : uint8_t { kLocal = 0x0, kProxy = 0x1 };
// Byte 13, high nibble. AF_UNIX (0x3) exists in the format but is refused by the decoder.
enum class ProxyV2Family : uint8_t { kUnspec = 0x0, kInet = 0x1, kInet6 = 0x2 };
// Byte 13, low nibble.
enum class ProxyV2Transport : uint8_t { kUnspec = 0x0, kStream = 0x1, kDgram = 0x2 };

// Well-known TLV types (type byte of each TLV).
inline constexpr uint8_t kPp2TypeAlpn = 0x01;
inline constexpr uint8_t kPp2TypeAuthority = 0x02;
inline constexpr uint8_t kPp2TypeCrc32c = 0x03;
inline constexpr uint8_t kPp2TypeNoop = 0x04;
inline constexpr uint8_t kPp2TypeUniqueId = 0x05;
inline constexpr uint8_t kPp2TypeSsl = 0x20;
inline constexpr uint8_t kPp2TypeNetns = 0x30;
inline constexpr uint8_t kPp2TypeAws = 0xEA;
inline constexpr uint8_t kPp2SubtypeAwsVpceId = 0x01;

// One header. With family kInet/kInet6 the addresses are meaningful (for LOCAL too, when the
// sender filled them); with kUnspec they are zero and ignored.
struct ProxyV2Header {
  ProxyV2Command command = ProxyV2Command::kLocal;
  ProxyV2Family family = ProxyV2Family::kUnspec;
  ProxyV2Transport transport = ProxyV2Transport::kUnspec;
  SocketAddress source;       // the client
  SocketAddress destination;  // the listener
  // Raw TLV bytes after the address block: a whole number of TLVs. Decoded: a view into the
  // decoder's input; encoded: copied after the address block.
  std::string_view tlvs;
};

enum class ProxyV2Status : uint8_t { kComplete, kNeedMore, kMalformed };

// Why a header is malformed.
enum class ProxyV2Error : uint8_t {
  kNone,
  kBadSignature,       // the first 12 bytes are not the v2 signature (maybe v1 or no header)
  kBadVersion,         // byte 12's high nibble is not 2
  kBadCommand,         // byte 12's low nibble is neither LOCAL nor PROXY
  kBadFamily,          // byte 13 is not one of 0x00, 0x11, 0x12, 0x21, 0x22
  kUnsupportedFamily,  // AF_UNIX (0x31, 0x32): valid v2, not accepted here
  kTooLong,            // the announced length exceeds the caller's cap
  kShortAddress,       // the announced length does not cover the family's address block
  kBadTlv,             // the TLV area does not split into whole TLVs
};
std::string_view ToString(ProxyV2Error error);

struct ProxyV2Decoded {
  ProxyV2Status status = ProxyV2Status::kNeedMore;
  ProxyV2Error error = ProxyV2Error::kNone;  // set when kMalformed
  ProxyV2Header header;                      // set when kComplete
  size_t consumed = 0;  // kComplete: the header's length; the payload starts there
  size_t needed = 0;    // kNeedMore: the total length to wait for (at least 16)
};

// Decodes a header at the start of `in`. `max_header` caps the whole header (clamped to
// kProxyV2FixedBytes..kProxyV2MaxHeader). Never reads past `in`.
ProxyV2Decoded DecodeProxyV2(std::span<const uint8_t> in,
                             size_t max_header = kProxyV2DefaultMaxHeader);

// The encoded length of `header`, or 0 when it cannot be encoded: the addresses do not match
// the family (an IPv4 address under kInet6 is fine: it is written v4-mapped), PROXY with
// kInet/kInet6 and transport kUnspec, or a header longer than kProxyV2MaxHeader.
size_t ProxyV2EncodedSize(const ProxyV2Header& header);
// Writes `header` into `out`; returns the bytes written, or 0 (nothing meaningful written)
// when it cannot be encoded or `out` is too small. The TLVs are copied as given.
size_t EncodeProxyV2(const ProxyV2Header& header, std::span<uint8_t> out);

// The PROXY command for one TCP (kStream) or UDP (kDgram) flow. Both IPv4 → family kInet;
// otherwise kInet6 with any IPv4 address written v4-mapped. Returns the bytes written (28 or
// 52), or 0 when `out` is smaller or transport is kUnspec.
size_t EncodeProxyV2Proxy(ProxyV2Transport transport, const SocketAddress& source,
                          const SocketAddress& destination, std::span<uint8_t> out);
// The LOCAL command with family UNSPEC and no address block: what a health-check connection
// sends (16 bytes). Returns 16, or 0 when `out` is smaller.
size_t EncodeProxyV2Local(std::span<uint8_t> out);

// Walks the TLVs in `tlvs` (as validated by the decoder). Returns false at the end or at a
// truncated TLV; otherwise sets *type and *value and advances *offset.
bool NextProxyV2Tlv(std::string_view tlvs, size_t* offset, uint8_t* type, std::string_view* value);
// The VPC endpoint id carried by AWS's TLV (type 0xEA, subtype 0x01), or "" when absent.
std::string_view FindAwsVpceId(std::string_view tlvs);

}  // namespace sluice::nlb
