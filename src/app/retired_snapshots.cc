#include "app/retired_snapshots.h"

#include <utility>

namespace sluice::app {

void RetiredSnapshots::Retire(std::shared_ptr<const proxy::Snapshot> old) {
  if (old != nullptr) retired_.push_back(std::move(old));
}

size_t RetiredSnapshots::Sweep() {
  const size_t before = retired_.size();
  size_t kept = 0;
  for (std::shared_ptr<const proxy::Snapshot>& s : retired_) {
    if (s.use_count() == 1) {
      s.reset();
    } else {
      retired_[kept++] = std::move(s);
    }
  }
  retired_.resize(kept);
  return before - kept;
}

}  // namespace sluice::app
