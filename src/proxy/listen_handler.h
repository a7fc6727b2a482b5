// What a worker watches on each of its listening sockets: an acceptor for TCP-based listeners
// (worker.cc), a datagram relay for UDP ones (udp_listener.h). Loop thread only.
#pragma once

#include <cstdint>

#include "net/event_loop.h"
#include "snapshot/snapshot.h"

namespace sluice::proxy {

class ListenHandler : public net::EventHandler {
 public:
  // A reload kept the socket: its listener is now `listener` (of the new snapshot).
  virtual void set_listener(const snapshot::ListenerRuntime* listener) = 0;
  // The worker's periodic tick (idle state to expire).
  virtual void Tick(int64_t /*now_ms*/) {}
  // The socket is being dropped (a reload removed it, or the worker shuts down): release what
  // hangs on it now and ignore any event still on its way; deletion follows (DeferDelete).
  virtual void Stop() {}
};

}  // namespace sluice::proxy
