// A UDP listener of a network load balancer on one worker (reference alb-nlb.md §8.1, §8.2,
// §8.5): datagrams from clients, read in batches (recvmmsg), each forwarded to the target of
// its flow; a flow is the 5-tuple (client address and port, the address and port it reached),
// pinned at its first datagram to a target of the default forward's group by the flow hash
// (over the healthy targets, all of them when none is), with one connected UDP socket towards
// that target so that the target's replies find their client. A flow ends after 120 s without
// a datagram either way (NLB's fixed UDP idle timeout), or when its target's deregistration
// delay ends (deregistration_delay.connection_termination.enabled, UDP's default) or the
// target turns unhealthy (target_health_state.unhealthy.*, §8.6); the next datagram starts a
// new one.
//
// Bounds: at most kMaxFlows flows per listener and worker (a flood of spoofed sources evicts
// the least recently used flows, counted, rather than exhausting memory), and at most
// FlowSocketBudget() flow sockets in the whole process (beyond it new flows are refused, so
// the flood cannot take the descriptors and ports other connections need); one
// preallocated batch of receive buffers; a datagram that cannot be sent at once (the socket
// buffer is full) is dropped, as UDP would drop it. Nothing is ever sent to a client but what
// its target sent to that flow: no amplification.
//
// Thread: the worker's loop thread. Lifetime: owned by the worker (acceptors_), destroyed
// through the loop's DeferDelete; it closes every flow's socket when destroyed.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "nlb/udp_flow_table.h"
#include "proxy/listen_handler.h"

namespace sluice::proxy {

class Worker;

class UdpListener final : public ListenHandler {
 public:
  static constexpr size_t kMaxFlows = 8192;          // per listener and worker
  static constexpr size_t kBatch = 16;               // datagrams per recvmmsg
  static constexpr size_t kMaxDatagram = 65536;      // a UDP payload is at most 65,507 bytes
  static constexpr int kReadsPerEvent = 8;           // batches before yielding to other fds
  static constexpr int64_t kMaxFlowSockets = 16384;  // process-wide, whatever the fd limit

  struct Counters {
    uint64_t datagrams_in = 0;   // client → target, forwarded
    uint64_t datagrams_out = 0;  // target → client, forwarded
    uint64_t dropped = 0;        // not forwarded: no target, a full socket buffer, an error
    uint64_t flows_opened = 0;
    uint64_t terminated = 0;  // flows ended for their target (deregistered, unhealthy)
  };

  UdpListener(Worker* worker, int fd, const snapshot::ListenerRuntime* listener);
  ~UdpListener() override;
  UdpListener(const UdpListener&) = delete;
  UdpListener& operator=(const UdpListener&) = delete;

  void set_listener(const snapshot::ListenerRuntime* listener) override { listener_ = listener; }
  void OnEvents(uint32_t events) override;  // datagrams from clients
  void Tick(int64_t now_ms) override;       // idle flows expire
  void Stop() override;                     // every flow closed; no more datagrams read
  // How many flow sockets the whole process may hold: a quarter of RLIMIT_NOFILE, at most
  // kMaxFlowSockets. Beyond it a new flow's datagram is dropped.
  static int64_t FlowSocketBudget();

  const nlb::UdpFlowTable& flows() const { return table_; }
  const Counters& counters() const { return counters_; }

 private:
  class FlowSocket;
  struct Batch;
  struct ReplyPath;

  // Forwards the batch's datagram `i`; opens its flow first when it has none.
  void Receive(int i);
  // A flow for `tuple`: a target and a socket connected to it, replying by `reply`;
  // null when there is no target or no socket (the datagram is dropped).
  nlb::UdpFlow* OpenFlow(const nlb::FlowTuple& tuple, const ReplyPath& reply);
  // The target's datagrams on `socket` to its client, from the address the client reached.
  void RelayReplies(FlowSocket* socket);
  // Removes the flows whose target's state ends them (reference §8.6; flow_termination.h).
  void EndTerminatedFlows(int64_t now_ms);
  static void OnFlowRemoved(void* self, const nlb::FlowTuple& tuple, const nlb::UdpFlow& flow,
                            nlb::UdpFlowRemoval why);

  Worker* worker_;
  int fd_;
  const snapshot::ListenerRuntime* listener_;
  bool wildcard_;  // bound to 0.0.0.0 or ::: destinations come from IP_PKTINFO
  nlb::UdpFlowTable table_;
  std::unique_ptr<Batch> batch_;
  Counters counters_;
  uint64_t transitions_seen_ = 0;  // balancer::UnhealthyTransitions() at the last look
  int64_t next_unhealthy_deadline_ms_ = INT64_MAX;
  std::vector<nlb::FlowTuple> ending_;  // EndTerminatedFlows' scratch
  bool destroying_ = false;
  bool stopped_ = false;
};

}  // namespace sluice::proxy
