// Old snapshots are freed on the control thread, never on a worker. A worker, or a connection
// finishing a request, is often the last holder of the snapshot a publish replaced, and
// freeing one with 100,000 targets and 10,000 rules takes milliseconds that its event loop
// would stall for; freeing it within an API call delays the answer as long (decision 0031).
#pragma once

#include <memory>
#include <vector>

#include "proxy/worker.h"

namespace sluice::app {

// Control thread only. Holds each replaced snapshot until nothing else does.
class RetiredSnapshots {
 public:
  // `old` was replaced; freed by a later Sweep once no worker or connection holds it.
  void Retire(std::shared_ptr<const proxy::Snapshot> old);

  // Frees the retired snapshots only this holds; returns how many. Nobody can take a new
  // reference to one of them (workers take snapshots from their mailbox, connections from
  // their worker), so a count of one stays one.
  size_t Sweep();

  size_t size() const { return retired_.size(); }

 private:
  std::vector<std::shared_ptr<const proxy::Snapshot>> retired_;
};

}  // namespace sluice::app
