#include "app/service_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdint>

namespace sluice::app {

int ServiceNotify(const std::string& state) {
  return sd_notify(/*unset_environment=*/0, state.c_str());
}

int NotifyReady(const std::string& status) {
  // STATUS= is one line: a newline would start another assignment.
  std::string line = status;
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  return ServiceNotify("READY=1\nSTATUS=" + line);
}

int NotifyReloading() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const uint64_t usec =
      static_cast<uint64_t>(now.tv_sec) * 1000000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
  return ServiceNotify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

int NotifyStopping() { return ServiceNotify("STOPPING=1"); }

}  // namespace sluice::app
