#include "proxy/memory_harness.h"

#include <algorithm>

#include "config/loader.h"

namespace sluice::proxy {

namespace {

constexpr int64_t kStartMs = 1000000;
constexpr int64_t kUnixOffsetMs = 1767225600000;  // 2026-01-01T00:00:00Z at kStartMs
thread_local int64_t fake_now_ms = kStartMs;

int64_t FakeMonotonic() { return fake_now_ms; }
int64_t FakeRealtime() { return fake_now_ms + kUnixOffsetMs; }

}  // namespace

// Hands every upstream connect a memory stream and keeps its target side.
class MemoryHarness::Connector final : public net::Connector {
 public:
  explicit Connector(MemoryHarness* harness) : harness_(harness) {}
  Result<std::unique_ptr<net::Transport>> Connect(const SocketAddress& address,
                                                  const SocketAddress*) override {
    auto [ours, theirs] = net::MemoryTransport::Pair();
    for (const auto& [refused, err] : harness_->refused_) {
      if (refused == address) ours->FailConnect(err);
    }
    for (const SocketAddress& held : harness_->held_) {
      if (held == address) ours->HoldConnect();
    }
    ours->set_addresses(SocketAddress{}, address);
    harness_->upstreams_.push_back({address, std::move(theirs)});
    return std::unique_ptr<net::Transport>(std::move(ours));
  }

 private:
  MemoryHarness* harness_;
};

MemoryHarness::MemoryHarness() : connector_(std::make_unique<Connector>(this)) {}

MemoryHarness::~MemoryHarness() {
  // Close the connections while the streams they write to still exist.
  worker_.reset();
}

Result<std::unique_ptr<MemoryHarness>> MemoryHarness::Create(std::string_view yaml) {
  config::LoadResult loaded = config::LoadConfigFromString(yaml, "harness.yaml");
  if (auto* errors = std::get_if<config::ConfigErrors>(&loaded)) {
    std::string all;
    for (const config::ConfigError& e : *errors) all += e.ToString() + "\n";
    return Error{ErrorSource::kConfig, all};
  }
  fake_now_ms = kStartMs;
  std::unique_ptr<MemoryHarness> h(new MemoryHarness());
  h->compiler_.set_metric_slots(&h->metric_slots_);
  auto built = h->compiler_.Build(std::get<config::Config>(std::move(loaded)));
  if (!built.ok()) return built.error();
  h->snapshot_ = built.value();
  h->worker_ = std::make_unique<Worker>(0, FakeMonotonic, FakeRealtime);
  h->worker_->set_connector(h->connector_.get());
  h->worker_->set_exchange_sink(&h->sink_);
  h->worker_->Publish(h->snapshot_, nullptr);
  auto started = h->worker_->StartInline();
  if (!started.ok()) return started.error();
  return h;
}

net::MemoryTransport* MemoryHarness::Connect(size_t listener, uint16_t port) {
  auto [client, server] = net::MemoryTransport::Pair();
  SocketAddress peer;
  peer.ip = *IpAddress::Parse("192.0.2.10");
  peer.port = port;
  const ListenerRuntime& l = snapshot_->listeners.at(listener);
  server->set_addresses(l.address, peer);
  client->set_addresses(peer, l.address);
  worker_->ServeDownstream(std::move(server), peer, &l);
  clients_.push_back(std::move(client));
  Run();
  return clients_.back().get();
}

void MemoryHarness::Advance(int64_t ms) {
  while (ms > 0) {
    int64_t step = std::min<int64_t>(ms, 250);
    fake_now_ms += step;
    ms -= step;
    Run();
  }
}

void MemoryHarness::Refuse(const SocketAddress& address, int err) {
  refused_.push_back({address, err});
}

}  // namespace sluice::proxy
