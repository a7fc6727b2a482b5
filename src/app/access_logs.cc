#include "app/access_logs.h"

#include "config/arn.h"

namespace sluice::app {

namespace {

// The "node" address in file names (ALB: the node's IP): the first listener's bind
// address, or loopback for a wildcard one.
std::string NodeAddress(const config::LoadBalancer& lb) {
  for (const config::Listener& l : lb.listeners) {
    if (l.bind_address != "0.0.0.0" && l.bind_address != "::") return l.bind_address;
  }
  return "127.0.0.1";
}

}  // namespace

std::map<uint64_t, observe::LogDestination> AccessLogDestinations(const proxy::Snapshot& snap) {
  std::map<uint64_t, observe::LogDestination> out;
  const config::Config& cfg = snap.config;
  for (const config::LoadBalancer& lb : cfg.load_balancers) {
    const config::LoadBalancerAttributes& a = lb.attributes;
    auto add = [&](uint64_t key, const config::LoadBalancerAttributes::LogSettings& s,
                   const char* file_prefix) {
      if (!s.enabled) return;
      out[key] = observe::LogDestination{
          s.directory,        s.prefix,   cfg.account.id,
          cfg.account.region, lb.name,    config::ResourceId("loadbalancer", lb.name),
          NodeAddress(lb),    file_prefix};
    };
    add(snapshot::AccessLogKey(lb.name), a.access_logs, "");
    add(snapshot::ConnectionLogKey(lb.name), a.connection_logs, "conn_log_");
  }
  return out;
}

AccessLogs::AccessLogs(size_t workers) {
  std::vector<observe::LogRing*> rings;
  for (size_t i = 0; i < workers; ++i) {
    rings_.push_back(std::make_unique<observe::LogRing>());
    sinks_.push_back(std::make_unique<proxy::AccessLogSink>(rings_.back().get()));
    rings.push_back(rings_.back().get());
  }
  writer_ = std::make_unique<observe::AccessLogWriter>(std::move(rings));
}

void AccessLogs::Attach(proxy::Worker& worker) {
  // Only the listeners of load balancers with access logs on build records.
  worker.set_exchange_sink(sinks_[static_cast<size_t>(worker.index())].get(), false);
  worker.set_log_ring(rings_[static_cast<size_t>(worker.index())].get());
}

void AccessLogs::Apply(const proxy::Snapshot& snap) {
  std::map<uint64_t, observe::LogDestination> destinations = AccessLogDestinations(snap);
  const bool wanted = !destinations.empty();
  writer_->SetDestinations(std::move(destinations));
  if (wanted && !started_) {
    writer_->Start();
    started_ = true;
  }
}

void AccessLogs::Stop() {
  if (started_) writer_->Stop();
  started_ = false;
}

}  // namespace sluice::app
