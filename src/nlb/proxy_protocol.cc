#include "nlb/proxy_protocol.h"

#include <algorithm>
#include <cstring>

namespace sluice::nlb {

namespace {

constexpr uint8_t kVersion2 = 0x20;

uint16_t ReadU16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

void WriteU16(uint8_t* p, size_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

size_t AddressBlockSize(ProxyV2Family family) {
  switch (family) {
    case ProxyV2Family::kInet:
      return kProxyV2Ipv4Block;
    case ProxyV2Family::kInet6:
      return kProxyV2Ipv6Block;
    case ProxyV2Family::kUnspec:
      break;
  }
  return 0;
}

bool TlvsWellFormed(std::string_view tlvs) {
  size_t offset = 0;
  uint8_t type = 0;
  std::string_view value;
  while (NextProxyV2Tlv(tlvs, &offset, &type, &value)) {
  }
  return offset == tlvs.size();
}

ProxyV2Decoded Malformed(ProxyV2Error error) {
  ProxyV2Decoded d;
  d.status = ProxyV2Status::kMalformed;
  d.error = error;
  return d;
}

ProxyV2Decoded NeedMore(size_t needed) {
  ProxyV2Decoded d;
  d.status = ProxyV2Status::kNeedMore;
  d.needed = needed;
  return d;
}

// Checks bytes 12 and 13 (when present); sets command, family and transport.
ProxyV2Error CheckCommandAndFamily(std::span<const uint8_t> in, ProxyV2Header* h) {
  if (in.size() > 12) {
    if ((in[12] & 0xF0) != kVersion2) return ProxyV2Error::kBadVersion;
    uint8_t cmd = in[12] & 0x0F;
    if (cmd > 1) return ProxyV2Error::kBadCommand;
    h->command = static_cast<ProxyV2Command>(cmd);
  }
  if (in.size() > 13) {
    switch (in[13]) {
      case 0x00:
      case 0x11:
      case 0x12:
      case 0x21:
      case 0x22:
        break;
      case 0x31:
      case 0x32:
        return ProxyV2Error::kUnsupportedFamily;
      default:
        return ProxyV2Error::kBadFamily;
    }
    h->family = static_cast<ProxyV2Family>(in[13] >> 4);
    h->transport = static_cast<ProxyV2Transport>(in[13] & 0x0F);
  }
  return ProxyV2Error::kNone;
}

void ReadAddresses(const uint8_t* p, ProxyV2Family family, ProxyV2Header* h) {
  if (family == ProxyV2Family::kInet) {
    h->source.ip.is_v4 = h->destination.ip.is_v4 = true;
    h->source.ip.bytes[10] = h->source.ip.bytes[11] = 0xFF;
    h->destination.ip.bytes[10] = h->destination.ip.bytes[11] = 0xFF;
    std::memcpy(&h->source.ip.bytes[12], p, 4);
    std::memcpy(&h->destination.ip.bytes[12], p + 4, 4);
    h->source.port = ReadU16(p + 8);
    h->destination.port = ReadU16(p + 10);
  } else {
    h->source.ip.is_v4 = h->destination.ip.is_v4 = false;
    std::memcpy(h->source.ip.bytes.data(), p, 16);
    std::memcpy(h->destination.ip.bytes.data(), p + 16, 16);
    h->source.port = ReadU16(p + 32);
    h->destination.port = ReadU16(p + 34);
  }
}

void WriteAddresses(const ProxyV2Header& h, uint8_t* p) {
  if (h.family == ProxyV2Family::kInet) {
    std::memcpy(p, &h.source.ip.bytes[12], 4);
    std::memcpy(p + 4, &h.destination.ip.bytes[12], 4);
    WriteU16(p + 8, h.source.port);
    WriteU16(p + 10, h.destination.port);
  } else {
    std::memcpy(p, h.source.ip.bytes.data(), 16);
    std::memcpy(p + 16, h.destination.ip.bytes.data(), 16);
    WriteU16(p + 32, h.source.port);
    WriteU16(p + 34, h.destination.port);
  }
}

bool IsV4Mapped(const IpAddress& ip) {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  return std::memcmp(ip.bytes.data(), kPrefix, 12) == 0;
}

}  // namespace

std::string_view ToString(ProxyV2Error error) {
  switch (error) {
    case ProxyV2Error::kNone:
      return "none";
    case ProxyV2Error::kBadSignature:
      return "not a PROXY protocol v2 signature";
    case ProxyV2Error::kBadVersion:
      return "PROXY protocol version is not 2";
    case ProxyV2Error::kBadCommand:
      return "PROXY protocol command is neither LOCAL nor PROXY";
    case ProxyV2Error::kBadFamily:
      return "unknown PROXY protocol address family or transport";
    case ProxyV2Error::kUnsupportedFamily:
      return "PROXY protocol AF_UNIX addresses are not supported";
    case ProxyV2Error::kTooLong:
      return "PROXY protocol header longer than the limit";
    case ProxyV2Error::kShortAddress:
      return "PROXY protocol length shorter than the address block";
    case ProxyV2Error::kBadTlv:
      return "PROXY protocol TLVs truncated";
  }
  return "unknown";
}

ProxyV2Decoded DecodeProxyV2(std::span<const uint8_t> in, size_t max_header) {
  max_header = std::clamp(max_header, kProxyV2FixedBytes, kProxyV2MaxHeader);
  size_t sig = std::min(in.size(), sizeof(kProxyV2Signature));
  if (sig == 0) return NeedMore(kProxyV2FixedBytes);
  if (std::memcmp(in.data(), kProxyV2Signature, sig) != 0) {
    return Malformed(ProxyV2Error::kBadSignature);
  }
  ProxyV2Header h;
  ProxyV2Error err = CheckCommandAndFamily(in, &h);
  if (err != ProxyV2Error::kNone) return Malformed(err);
  if (in.size() < kProxyV2FixedBytes) return NeedMore(kProxyV2FixedBytes);

  size_t length = ReadU16(&in[14]);
  size_t total = kProxyV2FixedBytes + length;
  if (total > max_header) return Malformed(ProxyV2Error::kTooLong);
  size_t block = AddressBlockSize(h.family);
  if (length < block) return Malformed(ProxyV2Error::kShortAddress);
  if (in.size() < total) return NeedMore(total);

  const uint8_t* body = in.data() + kProxyV2FixedBytes;
  if (block != 0) ReadAddresses(body, h.family, &h);
  h.tlvs = std::string_view(reinterpret_cast<const char*>(body + block), length - block);
  if (!TlvsWellFormed(h.tlvs)) return Malformed(ProxyV2Error::kBadTlv);

  ProxyV2Decoded d;
  d.status = ProxyV2Status::kComplete;
  d.header = h;
  d.consumed = total;
  return d;
}

size_t ProxyV2EncodedSize(const ProxyV2Header& h) {
  if (h.family == ProxyV2Family::kUnspec) {
    if (h.transport != ProxyV2Transport::kUnspec) return 0;
  } else if (h.transport == ProxyV2Transport::kUnspec) {
    return 0;  // 0x10 and 0x20 are not defined combinations
  } else if (h.family == ProxyV2Family::kInet) {
    if (!IsV4Mapped(h.source.ip) || !IsV4Mapped(h.destination.ip)) return 0;
  } else if (h.family != ProxyV2Family::kInet6) {
    return 0;
  }
  if (h.transport != ProxyV2Transport::kUnspec && h.transport != ProxyV2Transport::kStream &&
      h.transport != ProxyV2Transport::kDgram) {
    return 0;
  }
  if (h.command != ProxyV2Command::kLocal && h.command != ProxyV2Command::kProxy) return 0;
  size_t total = kProxyV2FixedBytes + AddressBlockSize(h.family) + h.tlvs.size();
  return total <= kProxyV2MaxHeader ? total : 0;
}

size_t EncodeProxyV2(const ProxyV2Header& h, std::span<uint8_t> out) {
  size_t total = ProxyV2EncodedSize(h);
  if (total == 0 || out.size() < total) return 0;
  uint8_t* p = out.data();
  std::memcpy(p, kProxyV2Signature, sizeof(kProxyV2Signature));
  p[12] = static_cast<uint8_t>(kVersion2 | static_cast<uint8_t>(h.command));
  p[13] = static_cast<uint8_t>((static_cast<uint8_t>(h.family) << 4) |
                               static_cast<uint8_t>(h.transport));
  WriteU16(p + 14, total - kProxyV2FixedBytes);
  size_t block = AddressBlockSize(h.family);
  if (block != 0) WriteAddresses(h, p + kProxyV2FixedBytes);
  if (!h.tlvs.empty()) std::memcpy(p + kProxyV2FixedBytes + block, h.tlvs.data(), h.tlvs.size());
  return total;
}

size_t EncodeProxyV2Proxy(ProxyV2Transport transport, const SocketAddress& source,
                          const SocketAddress& destination, std::span<uint8_t> out) {
  if (transport == ProxyV2Transport::kUnspec) return 0;
  ProxyV2Header h;
  h.command = ProxyV2Command::kProxy;
  h.transport = transport;
  h.source = source;
  h.destination = destination;
  bool both_v4 = source.ip.is_v4 && destination.ip.is_v4;
  h.family = both_v4 ? ProxyV2Family::kInet : ProxyV2Family::kInet6;
  return EncodeProxyV2(h, out);
}

size_t EncodeProxyV2Local(std::span<uint8_t> out) {
  ProxyV2Header h;  // LOCAL, UNSPEC, no addresses, no TLVs
  return EncodeProxyV2(h, out);
}

bool NextProxyV2Tlv(std::string_view tlvs, size_t* offset, uint8_t* type, std::string_view* value) {
  size_t at = *offset;
  if (at >= tlvs.size() || tlvs.size() - at < 3) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(tlvs.data()) + at;
  size_t len = ReadU16(p + 1);
  if (tlvs.size() - at - 3 < len) return false;
  *type = p[0];
  *value = tlvs.substr(at + 3, len);
  *offset = at + 3 + len;
  return true;
}

std::string_view FindAwsVpceId(std::string_view tlvs) {
  size_t offset = 0;
  uint8_t type = 0;
  std::string_view value;
  while (NextProxyV2Tlv(tlvs, &offset, &type, &value)) {
    if (type == kPp2TypeAws && !value.empty() &&
        static_cast<uint8_t>(value[0]) == kPp2SubtypeAwsVpceId) {
      return value.substr(1);
    }
  }
  return {};
}

}  // namespace sluice::nlb
