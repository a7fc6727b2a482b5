// Target choice shared by the connection-based path (downstream_target.cc) and UDP listeners
// (udp_listener.cc): the healthy candidates of a group, and the NLB flow hash over them.
// Loop thread. Forced inline: CollectCandidates runs for every forwarded request.
#pragma once

#include <cstdint>
#include <vector>

#include "nlb/flow_hash.h"
#include "proxy/worker.h"

namespace sluice::proxy {

// The group's healthy targets into *cands (*index: their positions in tg.targets); all of
// them when none is healthy (fail-open).
[[gnu::always_inline]] inline void CollectCandidates(const TargetGroupRuntime& tg,
                                                     std::vector<balancer::TargetStats*>* cands,
                                                     std::vector<uint32_t>* index) {
  cands->clear();
  index->clear();
  for (size_t i = 0; i < tg.targets.size(); ++i) {
    if (tg.candidates[i]->routable.load(std::memory_order_acquire)) {
      cands->push_back(tg.candidates[i]);
      index->push_back(static_cast<uint32_t>(i));
    }
  }
  if (cands->empty()) {
    for (size_t i = 0; i < tg.targets.size(); ++i) {
      cands->push_back(tg.candidates[i]);
      index->push_back(static_cast<uint32_t>(i));
    }
  }
}

// NLB (reference §8.2): the position in tg.targets of a flow's target, a keyed hash of its
// 5-tuple and `salt` over the candidates (a random salt per TCP connection, none for UDP so
// that a tuple always hashes alike). With stickiness.type source_ip, a hash of the client's
// address alone: every flow of one client, TCP or UDP, on any worker (the key is the
// process's), goes to one target while the healthy set stays. The group must have a target.
inline uint32_t ChooseFlowTargetIndex(Worker& worker, const TargetGroupRuntime& tg,
                                      const nlb::FlowTuple& tuple, uint64_t salt) {
  auto& index = worker.candidate_index_scratch();
  CollectCandidates(tg, &worker.candidate_scratch(), &index);
  uint64_t hash;
  if (tg.stickiness == snapshot::StickinessType::kSourceIp) [[unlikely]] {
    const nlb::FlowTuple client{0, SocketAddress{tuple.source.ip, 0}, SocketAddress{}};
    hash = nlb::FlowHash(worker.flow_key(), client, 0);
  } else {
    hash = nlb::FlowHash(worker.flow_key(), tuple, salt);
  }
  return index[nlb::PickIndex(hash, static_cast<uint32_t>(index.size()))];
}

}  // namespace sluice::proxy
