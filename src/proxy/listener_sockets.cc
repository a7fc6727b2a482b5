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
    // ENOTCONN is the normal answer for a listening socket on some kernels; nothing to do.
    for (int fd : set->fds) (void)shutdown(fd, SHUT_RDWR);
  }
}

bool ListenerSockets::ListensOnPort(uint16_t port, bool datagram) const {
  for (const auto& [key, weak] : sockets_) {
    std::shared_ptr<ListenSocketSet> set = weak.lock();
    if (set && set->address.port == port && set->datagram == datagram) return true;
  }
  return false;
}

Result<std::shared_ptr<const ListenerSocketTable>> ListenerSockets::Open(const Snapshot& snap) {
  auto table = std::make_shared<ListenerSocketTable>();
  std::map<std::string, std::shared_ptr<ListenSocketSet>> opened;
  for (const ListenerRuntime& l : snap.listeners) {
    const bool datagram = l.protocol == snapshot::ListenerProtocol::kUdp;
    std::string key = (datagram ? "udp:" : "") + l.address.ToString();
    std::shared_ptr<ListenSocketSet> set;
    if (auto it = opened.find(key); it != opened.end()) set = it->second;
    if (!set) {
      if (auto it = sockets_.find(key); it != sockets_.end()) set = it->second.lock();
    }
    if (!set) {
      if (!ListensOnPort(l.address.port, datagram)) {
        auto free = net::CheckNoOtherListener(l.address, datagram);
        if (!free.ok()) return free.error();
      }
      set = std::make_shared<ListenSocketSet>();
      set->address = l.address;
      set->datagram = datagram;
      for (int k = 0; k < worker_count_; ++k) {
        auto fd = datagram ? net::ListenDatagram(l.address) : net::Listen(l.address);
        if (!fd.ok()) return fd.error();  // `set` closes what it opened
        set->fds.push_back(fd.value());
      }
    }
    opened[key] = set;
    table->by_listener.push_back(set);
  }
  sockets_.clear();
  for (auto& [key, set] : opened) sockets_[key] = set;
  return std::shared_ptr<const ListenerSocketTable>(std::move(table));
}

}  // namespace sluice::proxy
