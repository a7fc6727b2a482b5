// The state store's subcommands: `sluice import`, `sluice export`, `sluice api-keys ...`.
// Each opens the store, does one thing in one transaction, prints the result and returns
// the exit status (0 ok, 1 an error, printed to stderr). Safe while a server runs on the
// same store (SQLite WAL); an import is picked up by the server at its next SIGHUP.
#pragma once

#include <string>

namespace sluice::app {

struct StateCommandOptions {
  std::string state_path;
  std::string master_key_path;   // "" = <state>.key
  std::string file;              // import: the YAML config
  std::string user;              // api-keys create: a name for the key's owner
  std::string policy = "admin";  // api-keys create: admin | read-only | @FILE (JSON)
  std::string access_key_id;     // api-keys revoke
};

int ImportConfig(const StateCommandOptions& options);
int ExportConfig(const StateCommandOptions& options);
int CreateApiKey(const StateCommandOptions& options);
int ListApiKeys(const StateCommandOptions& options);
int RevokeApiKey(const StateCommandOptions& options);

}  // namespace sluice::app
