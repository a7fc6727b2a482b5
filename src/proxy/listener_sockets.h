// The data plane's listening sockets: one SO_REUSEPORT socket per worker for each listener
// address of a snapshot, reused across reloads while an address stays configured, and the
// shutdown that stops accepting. Open/Shutdown: control thread. The table is immutable once
// published; workers read it on their loop threads.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/ip_address.h"
#include "base/result.h"
#include "snapshot/snapshot.h"

namespace sluice::proxy {

// The snapshot's types, as the data plane names them.
using snapshot::DrainingTarget;
using snapshot::ListenerRuntime;
using snapshot::Snapshot;
using snapshot::SnapshotCompiler;
using snapshot::TargetGroupRuntime;
using snapshot::TargetRuntime;

// The sockets of one listener address; closed when the last table referring to it is gone.
struct ListenSocketSet {
  SocketAddress address;
  bool datagram = false;  // UDP listeners' sockets (bound, not listening)
  std::vector<int> fds;   // fds[k] is served by worker k
  // Client connections open on this address, over all workers (sluice.max_connections):
  // raised at accept, lowered at close, by any loop thread. Outlives the set while a
  // connection holds it (a reload may drop the address before its connections end).
  std::shared_ptr<std::atomic<int>> open_connections = std::make_shared<std::atomic<int>>(0);
  ~ListenSocketSet();
};

// Parallel to a snapshot's listeners: by_listener[i] serves snapshot.listeners[i].
struct ListenerSocketTable {
  std::vector<std::shared_ptr<ListenSocketSet>> by_listener;
  // Parallel too: a TCP_UDP listener's UDP sockets (its TCP ones are in by_listener); null for
  // every other listener.
  std::vector<std::shared_ptr<ListenSocketSet>> udp_by_listener;
  // Stops every socket accepting (shutdown(2)); new connections are refused rather than
  // left in an accept queue nobody serves.
  void ShutdownAll() const;
};

class ListenerSockets {
 public:
  explicit ListenerSockets(int worker_count) : worker_count_(worker_count) {}

  // The sockets for every listener of `snap`: those of an earlier table that are still
  // open, else new ones. A port that none of our sockets holds yet must be free of every
  // other listener (SO_REUSEPORT would let two processes split its traffic). On error
  // nothing is remembered and what was opened is closed.
  Result<std::shared_ptr<const ListenerSocketTable>> Open(const Snapshot& snap);

 private:
  bool ListensOnPort(uint16_t port, bool datagram) const;
  // The open set for `address` (from `opened`, or an earlier table), else a new one; added
  // to `opened`.
  Result<std::shared_ptr<ListenSocketSet>> SetFor(
      const SocketAddress& address, bool datagram,
      std::map<std::string, std::shared_ptr<ListenSocketSet>>* opened);
  int worker_count_;
  // By address ("udp:" before a UDP listener's).
  std::map<std::string, std::weak_ptr<ListenSocketSet>> sockets_;
};

}  // namespace sluice::proxy
