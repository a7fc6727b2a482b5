// The control thread: loads the config, builds snapshots, runs the workers, and handles
// SIGHUP (reload) and SIGTERM/SIGINT (graceful stop). Never on the request path.
#pragma once

#include <cstdint>
#include <string>

#include "app/rotating_log.h"

namespace sluice::app {

struct ServerOptions {
  std::string config_path;      // serve this file (SIGHUP reloads it); or:
  std::string state_path;       // serve the state store's document (the elbv2 API changes it)
  std::string master_key_path;  // the store's master key file ("" = <state>.key)
  std::string api_override;     // "ADDR:PORT" for the elbv2 API; overrides Api:
  std::string api_audit_log;    // JSON lines, one per API call ("" = none)
  uint64_t api_audit_log_max_bytes = RotatingLog::kDefaultMaxBytes;  // rotated past this size
  int api_audit_log_keep = RotatingLog::kDefaultKeep;                // rotated files kept
  bool api_allow_unsigned = false;    // loopback only: accept unsigned API calls
  int workers = 0;                    // 0 = number of online CPUs
  int shutdown_timeout_seconds = 30;  // in-flight requests get this long after SIGTERM
  std::string admin_override;         // "ADDR:PORT" for the admin endpoint; overrides Admin:
};

// Runs until SIGTERM/SIGINT; returns the process exit code (0 after a clean stop, 1 when
// the initial config is invalid or a listener cannot be opened).
int RunServer(const ServerOptions& options);

}  // namespace sluice::app
