#include "proxy/listener_sockets.h"

#include <sys/socket.h>
#include <unistd.h>

#include "net/socket.h"

namespace sluice::proxy {

ListenSocketSet::~ListenSocketSet() {
  for (int fd : fds) close(fd);
}

void ListenerSocketTable::ShutdownAll() const {
  for (const auto& set : by_listener) {
    if (set->datagram) continue;
    // ENOTCONN is the normal answer for a listening socket on some kernels; nothing to do.
    for (int fd : set->fds) (void)shutdown(fd, SHUT_RDWR);
  }
  // UDP sockets are left alone: shutdown() on one marks it readable (EPOLLHUP) for ever while
  // recv finds nothing, which would spin its level-triggered handler until the worker drops
  // it; the workers stop reading them instead (ListenHandler::Stop).
}

bool ListenerSockets::ListensOnPort(uint16_t port, bool datagram) const {
  for (const auto& [key, weak] : sockets_) {
    std::shared_ptr<ListenSocketSet> set = weak.lock();
    if (set && set->address.port == port && set->datagram == datagram) return true;
  }
  return false;
}

Result<std::shared_ptr<ListenSocketSet>> ListenerSockets::SetFor(
    const SocketAddress& address, bool datagram,
    std::map<std::string, std::shared_ptr<ListenSocketSet>>* opened) {
  std::string key = (datagram ? "udp:" : "") + address.ToString();
  std::shared_ptr<ListenSocketSet> set;
  if (auto it = opened->find(key); it != opened->end()) set = it->second;
  if (!set) {
    if (auto it = sockets_.find(key); it != sockets_.end()) set = it->second.lock();
  }
  if (!set) {
    if (!ListensOnPort(address.port, datagram)) {
      auto free = net::CheckNoOtherListener(address, datagram);
      if (!free.ok()) return free.error();
    }
    set = std::make_shared<ListenSocketSet>();
    set->address = address;
    set->datagram = datagram;
    for (int k = 0; k < worker_count_; ++k) {
      auto fd = datagram ? net::ListenDatagram(address) : net::Listen(address);
      if (!fd.ok()) return fd.error();  // `set` closes what it opened
      set->fds.push_back(fd.value());
    }
  }
  (*opened)[key] = set;
  return set;
}

namespace {

// preserve_client_ip needs transparent sockets: refused here, with the group's name, rather
// than by every connection to its targets.
Result<bool> CheckTransparentSockets(const Snapshot& snap) {
  for (const TargetGroupRuntime& group : snap.target_groups) {
    if (group.config == nullptr || !group.config->attributes.preserve_client_ip) continue;
    bool v4 = false, v6 = false;
    for (const TargetRuntime& t : group.targets) (t.address.ip.is_v4 ? v4 : v6) = true;
    for (bool family_v6 : {false, true}) {
      if (!(family_v6 ? v6 : v4)) continue;
      auto allowed = net::CheckTransparentAllowed(family_v6);
      if (!allowed.ok()) {
        Error e = allowed.error();
        e.message = "target group '" + group.config->name + "': " + e.message;
        return e;
      }
    }
  }
  return true;
}

}  // namespace

Result<std::shared_ptr<const ListenerSocketTable>> ListenerSockets::Open(const Snapshot& snap) {
  if (auto transparent = CheckTransparentSockets(snap); !transparent.ok()) {
    return transparent.error();
  }
  auto table = std::make_shared<ListenerSocketTable>();
  std::map<std::string, std::shared_ptr<ListenSocketSet>> opened;
  for (const ListenerRuntime& l : snap.listeners) {
    // TCP_UDP listeners get both sets: the stream one in by_listener, the datagram one in
    // udp_by_listener; UDP listeners only the datagram one (in by_listener).
    const bool udp = l.protocol == snapshot::ListenerProtocol::kUdp;
    const bool both = l.protocol == snapshot::ListenerProtocol::kTcpUdp;
    auto set = SetFor(l.address, udp, &opened);
    if (!set.ok()) return set.error();
    table->by_listener.push_back(std::move(set.value()));
    std::shared_ptr<ListenSocketSet> datagrams;
    if (both) {
      auto second = SetFor(l.address, true, &opened);
      if (!second.ok()) return second.error();
      datagrams = std::move(second.value());
    }
    table->udp_by_listener.push_back(std::move(datagrams));
  }
  sockets_.clear();
  for (auto& [key, set] : opened) sockets_[key] = set;
  return std::shared_ptr<const ListenerSocketTable>(std::move(table));
}

}  // namespace sluice::proxy
