#include "app/file_watch.h"

namespace sluice::app {

std::vector<std::string> WatchedFiles(const config::Config& config) {
  std::vector<std::string> out;
  for (const config::CertificateDefinition& c : config.certificates) {
    out.push_back(c.certificate_file);
    out.push_back(c.private_key_file);
  }
  for (const config::TrustStoreDefinition& t : config.trust_stores) {
    if (t.ca_bundle_pem.empty()) out.push_back(t.ca_bundle_file);
    out.insert(out.end(), t.revocation_files.begin(), t.revocation_files.end());
  }
  for (const config::TargetGroup& g : config.target_groups) {
    if (!g.attributes.tls_verify_ca_file.empty()) out.push_back(g.attributes.tls_verify_ca_file);
  }
  return out;
}

FileWatch::State FileWatch::Look(const std::string& path) {
  State s;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return s;  // missing: a change like any other
  s.exists = true;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = st.st_size;
  s.mtime = st.st_mtim;
  return s;
}

void FileWatch::Watch(std::vector<std::string> paths) {
  files_.clear();
  for (std::string& p : paths) {
    State s = Look(p);
    files_.emplace_back(std::move(p), s);
  }
  pending_ = false;
}

bool FileWatch::PollSettled() {
  bool changed = false;
  for (auto& [path, state] : files_) {
    State now = Look(path);
    if (!(now == state)) {
      state = now;
      changed = true;
    }
  }
  if (changed) {
    pending_ = true;
    return false;
  }
  bool settled = pending_;
  pending_ = false;
  return settled;
}

}  // namespace sluice::app
