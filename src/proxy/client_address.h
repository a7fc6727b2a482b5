// preserve_client_ip (reference §8.3): which address a network load balancer's connection or
// datagram socket to a target comes from. Shared by TCP/TLS tunnels (downstream_tunnel.cc)
// and UDP flows (udp_listener.cc). Loop thread; reads only the snapshot.
#pragma once

#include "base/ip_address.h"
#include "snapshot/snapshot.h"

namespace sluice::proxy {

// The client's address (and port), when the group preserves it and the target is of the
// same family (AWS does not preserve across IPv6 to IPv4 translation); else null, and the
// host picks the source as for any connection.
inline const SocketAddress* PreservedClientSource(const snapshot::TargetGroupRuntime& group,
                                                  const SocketAddress& client,
                                                  const SocketAddress& target) {
  if (group.config == nullptr || !group.config->attributes.preserve_client_ip) return nullptr;
  return client.ip.is_v4 == target.ip.is_v4 ? &client : nullptr;
}

}  // namespace sluice::proxy
