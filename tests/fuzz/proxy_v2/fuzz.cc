// libFuzzer target for the NLB building blocks (src/nlb/): the PROXY protocol v2 decoder and
// encoder, and the UDP flow table.
//
// Input layout: byte 0 selects the mode (its value modulo 3).
//   0, decode: byte 1 picks the decoder's header cap (0 = the default, else 16 + 4 * byte),
//      the rest is the stream's first bytes. A complete header must re-encode to exactly the
//      bytes it was decoded from, and each of its strict prefixes must be "need more"; a
//      malformed input stays malformed (same cause) however many bytes follow.
//   1, encode: the bytes are the fields (transport, addresses, ports); what the PROXY and LOCAL
//      encoders write must decode back to the same fields.
//   2, flow table: bytes 1-2 set the capacity (1..64) and idle timeout; then up to 1024 3-byte
//      operations (op and time step, client port, client address byte). After each one the
//      size is at most the capacity and every removed flow was live and is reported once;
//      after every 8th and at the end the full check holds (index and LRU list agree, every
//      flow is found by its tuple, recency order).
// Any failed check is __builtin_trap().
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <unordered_set>
#include <vector>

#include "nlb/proxy_protocol.h"
#include "nlb/udp_flow_table.h"

namespace {

using namespace sluice;
using namespace sluice::nlb;

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

bool Same(const ProxyV2Header& a, const ProxyV2Header& b) {
  return a.command == b.command && a.family == b.family && a.transport == b.transport &&
         a.source == b.source && a.destination == b.destination && a.tlvs == b.tlvs;
}

void CheckComplete(std::span<const uint8_t> in, const ProxyV2Decoded& d, size_t cap) {
  CHECK(d.consumed >= kProxyV2FixedBytes && d.consumed <= in.size() && d.consumed <= cap);
  CHECK(d.error == ProxyV2Error::kNone);
  CHECK(ProxyV2EncodedSize(d.header) == d.consumed);
  std::vector<uint8_t> out(d.consumed);
  CHECK(EncodeProxyV2(d.header, out) == d.consumed);
  CHECK(std::memcmp(out.data(), in.data(), d.consumed) == 0);
  ProxyV2Decoded again = DecodeProxyV2(out, cap);
  CHECK(again.status == ProxyV2Status::kComplete && again.consumed == d.consumed);
  CHECK(Same(again.header, d.header));
  // Prefixes: all of them for short headers, a few for long ones.
  size_t step = d.consumed <= 128 ? 1 : d.consumed / 64;
  for (size_t n = 0; n < d.consumed; n += step) {
    ProxyV2Decoded p = DecodeProxyV2(in.first(n), cap);
    CHECK(p.status == ProxyV2Status::kNeedMore);
    CHECK(p.needed == (n < kProxyV2FixedBytes ? kProxyV2FixedBytes : d.consumed));
  }
}

void FuzzDecode(std::span<const uint8_t> data) {
  if (data.empty()) return;
  size_t cap = data[0] == 0 ? kProxyV2DefaultMaxHeader : kProxyV2FixedBytes + 4 * data[0];
  std::span<const uint8_t> in = data.subspan(1);
  ProxyV2Decoded d = DecodeProxyV2(in, cap);
  switch (d.status) {
    case ProxyV2Status::kComplete:
      CheckComplete(in, d, cap);
      break;
    case ProxyV2Status::kNeedMore: {
      CHECK(d.needed > in.size() && d.needed >= kProxyV2FixedBytes && d.needed <= cap);
      CHECK(d.error == ProxyV2Error::kNone);
      break;
    }
    case ProxyV2Status::kMalformed: {
      CHECK(d.error != ProxyV2Error::kNone && !ToString(d.error).empty());
      std::vector<uint8_t> longer(in.begin(), in.end());
      longer.push_back(0);
      ProxyV2Decoded more = DecodeProxyV2(longer, cap);
      CHECK(more.status == ProxyV2Status::kMalformed && more.error == d.error);
      break;
    }
  }
}

SocketAddress AddressFrom(const uint8_t* p, bool v4) {
  SocketAddress a;
  a.ip.is_v4 = v4;
  std::memcpy(a.ip.bytes.data(), p, 16);
  if (v4) {
    std::memset(a.ip.bytes.data(), 0, 10);
    a.ip.bytes[10] = a.ip.bytes[11] = 0xFF;
  }
  a.port = static_cast<uint16_t>(p[16] << 8 | p[17]);
  return a;
}

void FuzzEncode(std::span<const uint8_t> data) {
  if (data.size() < 1 + 18 + 18) return;
  uint8_t flags = data[0];
  SocketAddress src = AddressFrom(&data[1], flags & 1);
  SocketAddress dst = AddressFrom(&data[19], flags & 2);
  auto transport = flags & 4 ? ProxyV2Transport::kDgram : ProxyV2Transport::kStream;
  uint8_t buf[kProxyV2MaxAddressHeader];
  size_t n = EncodeProxyV2Proxy(transport, src, dst, buf);
  bool both_v4 = src.ip.is_v4 && dst.ip.is_v4;
  CHECK(n == (both_v4 ? 28u : 52u));
  ProxyV2Decoded d = DecodeProxyV2(std::span<const uint8_t>(buf, n));
  CHECK(d.status == ProxyV2Status::kComplete && d.consumed == n);
  CHECK(d.header.command == ProxyV2Command::kProxy && d.header.transport == transport);
  CHECK(d.header.source.port == src.port && d.header.destination.port == dst.port);
  CHECK(d.header.source.ip.bytes == src.ip.bytes && d.header.destination.ip.bytes == dst.ip.bytes);
  CHECK(d.header.source.ip.is_v4 == both_v4 &&
        d.header.family == (both_v4 ? ProxyV2Family::kInet : ProxyV2Family::kInet6));
  CHECK(EncodeProxyV2Local(std::span<uint8_t>(buf, n)) == 16);
  d = DecodeProxyV2(std::span<const uint8_t>(buf, n));
  CHECK(d.status == ProxyV2Status::kComplete && d.consumed == 16);
  CHECK(d.header.command == ProxyV2Command::kLocal && d.header.family == ProxyV2Family::kUnspec);
}

struct Live {
  std::unordered_set<int> fds;
  bool bad = false;
  static void OnRemove(void* ctx, const FlowTuple&, const UdpFlow& flow, UdpFlowRemoval) {
    auto* self = static_cast<Live*>(ctx);
    if (self->fds.erase(flow.upstream_fd) != 1) self->bad = true;  // unknown or twice
  }
};

FlowTuple TupleFrom(uint8_t port, uint8_t octet) {
  FlowTuple t;
  t.protocol = kIpProtoUdp;
  t.source.ip.bytes[10] = t.source.ip.bytes[11] = 0xFF;
  t.source.ip.bytes[15] = octet & 3;  // few clients, so that operations meet the same flows
  t.source.port = port & 31;
  t.destination.ip = t.source.ip;
  t.destination.ip.bytes[12] = 10;
  t.destination.port = 53;
  return t;
}

void RunTableOp(UdpFlowTable& table, Live& live, const uint8_t* op, int64_t now, int* next_fd) {
  FlowTuple t = TupleFrom(op[1], op[2]);
  switch (op[0] & 3) {
    case 0: {
      UdpFlow f;
      f.upstream_fd = *next_fd;
      auto [flow, inserted] = table.Insert(t, f, now);
      CHECK(flow != nullptr && table.Peek(t) == flow && flow->last_active_ms >= now);
      if (inserted) live.fds.insert((*next_fd)++);
      break;
    }
    case 1: {
      UdpFlow* flow = table.Find(t, now);
      if (flow != nullptr) CHECK(flow->last_active_ms >= now && table.Peek(t) == flow);
      if (flow == nullptr) CHECK(table.Peek(t) == nullptr);
      break;
    }
    case 2:
      table.ExpireIdle(now);
      CHECK(table.NextExpiryMs() == -1 || table.NextExpiryMs() > now);
      break;
    default:
      table.Erase(t);
      CHECK(table.Peek(t) == nullptr);
      break;
  }
}

void FuzzFlowTable(std::span<const uint8_t> data) {
  if (data.size() < 2) return;
  Live live;
  UdpFlowTable::Options opts;
  opts.capacity = 1 + data[0] % 64;
  opts.idle_timeout_ms = 1 + 10 * int64_t{data[1]};
  opts.key = FlowHashKey{0x5eed, 0xf10e};
  opts.on_remove = &Live::OnRemove;
  opts.on_remove_ctx = &live;
  UdpFlowTable table(opts);
  int64_t now = 0;
  int next_fd = 0;
  // At most 1024 operations; the full (O(capacity) hashing) check every 8th and at the end.
  size_t end = std::min(data.size(), size_t{2 + 3 * 1024});
  for (size_t i = 2, n = 0; i + 3 <= end; i += 3, ++n) {
    now += data[i] >> 2;
    RunTableOp(table, live, &data[i], now, &next_fd);
    CHECK(!live.bad);
    CHECK(table.size() <= table.capacity() && table.size() == live.fds.size());
    if (n % 8 == 7) CHECK(table.CheckInvariants());
  }
  CHECK(table.CheckInvariants());
  table.Clear();
  CHECK(table.size() == 0 && live.fds.empty() && !live.bad);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const uint8_t> rest(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      FuzzDecode(rest);
      break;
    case 1:
      FuzzEncode(rest);
      break;
    default:
      FuzzFlowTable(rest);
      break;
  }
  return 0;
}
