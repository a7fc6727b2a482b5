// The control thread: loads the config, builds snapshots, runs the workers, and handles
// SIGHUP (reload) and SIGTERM/SIGINT (graceful stop). Never on the request path.
#pragma once

#include <string>

namespace sluice::app {

struct ServerOptions {
  std::string config_path;
  int workers = 0;                    // 0 = number of online CPUs
  int shutdown_timeout_seconds = 30;  // in-flight requests get this long after SIGTERM
  std::string admin_override;         // "ADDR:PORT" for the admin endpoint; overrides Admin:
};

// Runs until SIGTERM/SIGINT; returns the process exit code (0 after a clean stop, 1 when
// the initial config is invalid or a listener cannot be opened).
int RunServer(const ServerOptions& options);

}  // namespace sluice::app
