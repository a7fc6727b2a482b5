// A connection from a worker to one target, and the worker's per-target pools of idle
// keep-alive connections. Loop thread only.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/ip_address.h"
#include "net/buffer.h"
#include "net/event_loop.h"
#include "net/transport.h"
#include "snapshot/protocols.h"

namespace sluice::proxy {

class DownstreamConnection;
class UpstreamPools;

// What makes an idle upstream connection reusable for a request: the target's address, the
// target group's protocol (HTTP over TCP; HTTPS adds the TLS client profile — SNI,
// verification — so that an unverified connection never serves a group that verifies) and
// protocol version (HTTP/1.1; HTTP/2 and
// gRPC later, whose multiplexed connections stay in the pool while they have free streams
// instead of leaving it for one exchange). Two groups that reach one address with different
// protocols never share a connection.
struct UpstreamKey {
  SocketAddress address;
  snapshot::TargetProtocol protocol = snapshot::TargetProtocol::kHttp;
  snapshot::ProtocolVersion version = snapshot::ProtocolVersion::kHttp1;
  uint32_t tls_profile = 0;  // tls::ClientContext::profile(); 0 for plain HTTP
  // Two 8-byte loads for the address instead of an element-wise array compare: this runs
  // on every pool lookup.
  bool operator==(const UpstreamKey& o) const {
    uint64_t a[2], b[2];
    std::memcpy(a, address.ip.bytes.data(), 16);
    std::memcpy(b, o.address.ip.bytes.data(), 16);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0 && address.port == o.address.port &&
           address.ip.is_v4 == o.address.ip.is_v4 && protocol == o.protocol &&
           version == o.version && tls_profile == o.tls_profile;
  }
};

inline constexpr size_t kUpstreamBufferSize = 40 * 1024;  // holds a 32 KiB response head
// Spare receive buffers a worker's pools keep for reuse (at most 10 MiB).
inline constexpr size_t kMaxSpareUpstreamBuffers = 256;

class UpstreamConnection final : public net::EventHandler {
 public:
  // `transport` is connecting (or connected) to `address`, not yet watched.
  UpstreamConnection(std::unique_ptr<net::Transport> transport, const UpstreamKey& key,
                     UpstreamPools* pools);
  ~UpstreamConnection() override;

  void OnEvents(uint32_t events) override;

  net::Transport& transport() { return *transport_; }
  const UpstreamKey& key() const { return key_; }
  net::Buffer& in() { return in_; }

  bool connected = false;
  bool reused = false;   // came from the idle pool (a failure may be retried)
  bool readable = true;  // edge-triggered readiness, cleared on EAGAIN
  bool writable = false;
  bool handshaking = false;  // TLS: the handshake has not completed yet
  bool hup = false;          // its end of stream was reported: read on after a short read
  int64_t idle_since_ms = 0;
  int64_t idle_timeout_ms = 60000;
  DownstreamConnection* owner = nullptr;  // null while idle in the pool
  // Set by UpstreamPools::Destroy; deletion is deferred to the end of the event batch, and an
  // event for this connection may still be in that batch: it must then be ignored.
  bool destroyed = false;

 private:
  std::unique_ptr<net::Transport> transport_;
  UpstreamKey key_;
  UpstreamPools* pools_;
  net::Buffer in_;
};

// Runs twice per proxied request (take from and return to the pool): two 8-byte words and
// the port with the protocols, each multiplied by an odd constant, folded.
struct UpstreamKeyHash {
  size_t operator()(const UpstreamKey& k) const {
    uint64_t lo, hi;
    std::memcpy(&lo, k.address.ip.bytes.data(), 8);
    std::memcpy(&hi, k.address.ip.bytes.data() + 8, 8);
    uint64_t rest =
        static_cast<uint64_t>(k.address.port) | static_cast<uint64_t>(k.protocol) << 16 |
        static_cast<uint64_t>(k.version) << 24 | static_cast<uint64_t>(k.tls_profile) << 32;
    uint64_t h = lo * 0x9e3779b97f4a7c15ULL ^ hi * 0xc2b2ae3d27d4eb4fULL ^
                 (rest + 1) * 0x165667b19e3779f9ULL;
    return static_cast<size_t>(h ^ (h >> 29));
  }
};

// Idle connections per UpstreamKey, most recently used first. An idle connection holds
// no receive buffer once the worker's tick has swept the pool (Sweep moves it to a spare
// list; TakeIdle and Arm hand one out): a connection reused within the tick keeps its buffer,
// so busy keep-alive traffic pays nothing per request.
class UpstreamPools {
 public:
  explicit UpstreamPools(net::EventLoop* loop) : loop_(loop) {}
  ~UpstreamPools();

  // An idle connection for `key`, with its receive buffer, or nullptr. The caller becomes
  // its owner.
  UpstreamConnection* TakeIdle(const UpstreamKey& key);
  // Gives a new connection its kUpstreamBufferSize receive buffer.
  void Arm(UpstreamConnection* conn);
  // Returns a healthy connection (response complete, nothing buffered) to the pool.
  void PutIdle(UpstreamConnection* conn, int64_t now_ms);
  // Closes and frees a connection that is not in the pool.
  void Destroy(UpstreamConnection* conn);
  // Called by an idle connection whose target closed it or sent unexpected bytes.
  void OnIdleEvent(UpstreamConnection* conn);
  // Closes idle connections past their idle timeout, or all when `all`; the others' receive
  // buffers go to the spare list.
  void Sweep(int64_t now_ms, bool all);
  // Closes idle connections whose key keep(key) refuses.
  template <class Keep>
  void Retain(Keep keep) {
    for (auto& [addr, list] : idle_) {
      if (keep(addr)) continue;
      for (UpstreamConnection* c : list) Destroy(c);
      list.clear();
    }
  }

  net::EventLoop* loop() { return loop_; }
  size_t idle_count() const;
  size_t spare_buffer_count() const { return spare_buffers_.size(); }

 private:
  void RemoveIdle(UpstreamConnection* conn);
  void StashBuffer(UpstreamConnection* conn);
  net::EventLoop* loop_;
  std::unordered_map<UpstreamKey, std::vector<UpstreamConnection*>, UpstreamKeyHash> idle_;
  std::vector<net::Buffer> spare_buffers_;  // each kUpstreamBufferSize, empty
};

}  // namespace sluice::proxy
