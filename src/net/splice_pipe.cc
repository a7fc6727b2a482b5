#include "net/splice_pipe.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

namespace sluice::net {

namespace {

constexpr int64_t kMaxPipes = 8192;
// What a pipe is asked to hold (F_SETPIPE_SZ; the kernel's default is 64 KiB, its default
// ceiling /proc/sys/fs/pipe-max-size 1 MiB): 1 MiB moves a GiB with 30 % less CPU than 64 KiB
// (decision 0020). Pages are taken only while bytes wait in the pipe.
constexpr int kPipeBytes = 1024 * 1024;
// A pipe smaller than this is not worth its descriptors: an unprivileged user past
// /proc/sys/fs/pipe-user-pages-soft gets 8 KiB pipes, and the buffers do better.
constexpr int kMinPipeBytes = 64 * 1024;

std::atomic<int64_t> g_pipes_open{0};
std::atomic<uint64_t> g_pipes_refused{0};
std::atomic<uint64_t> g_spliced_bytes{0};

void ClosePipe(SplicePipe* pipe) {
  // close() frees the descriptor even when it reports an error: nothing to retry.
  (void)close(pipe->read_fd);
  (void)close(pipe->write_fd);
  *pipe = SplicePipe{};
  g_pipes_open.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace

IoResult SpliceIn(int from_fd, SplicePipe& pipe, size_t max) {
  const ssize_t n =
      splice(from_fd, nullptr, pipe.write_fd, nullptr, max, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) pipe.pending += static_cast<size_t>(n);
  return IoResult::FromSyscall(n);
}

IoResult SpliceOut(SplicePipe& pipe, int to_fd) {
  const ssize_t n = splice(pipe.read_fd, nullptr, to_fd, nullptr, pipe.pending,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) pipe.pending -= std::min(pipe.pending, static_cast<size_t>(n));
  return IoResult::FromSyscall(n);
}

PipePool::PipePool(size_t keep_idle) : keep_idle_(keep_idle) { idle_.reserve(keep_idle); }

PipePool::~PipePool() {
  for (SplicePipe& pipe : idle_) ClosePipe(&pipe);
}

bool PipePool::Acquire(SplicePipe* pipe) {
  if (!idle_.empty()) {
    *pipe = idle_.back();
    idle_.pop_back();
    return true;
  }
  // A budget, not a lock: two workers may pass it at once and overshoot by one each.
  if (g_pipes_open.load(std::memory_order_relaxed) >= Budget()) {
    g_pipes_refused.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {  // EMFILE, ENFILE: copy instead
    g_pipes_refused.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  g_pipes_open.fetch_add(1, std::memory_order_relaxed);
  *pipe = SplicePipe{fds[0], fds[1], 0};
  // Refused beyond pipe-max-size or the user's pipe pages: the size it has then decides.
  if (fcntl(fds[1], F_SETPIPE_SZ, kPipeBytes) < 0 && fcntl(fds[1], F_GETPIPE_SZ) < kMinPipeBytes) {
    ClosePipe(pipe);
    g_pipes_refused.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void PipePool::Release(SplicePipe* pipe) {
  if (!pipe->open()) return;
  // Bytes left in a pipe belong to a stream that ended: they go with its descriptors.
  if (pipe->pending == 0 && idle_.size() < keep_idle_) {
    idle_.push_back(*pipe);
    *pipe = SplicePipe{};
    return;
  }
  ClosePipe(pipe);
}

void PipePool::Discard(SplicePipe* pipe) {
  if (pipe->open()) ClosePipe(pipe);
}

int64_t PipePool::Budget() {
  static const int64_t budget = [] {
    rlimit limit{};
    int64_t files = 1024;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
      files = static_cast<int64_t>(limit.rlim_cur);
    }
    return std::clamp<int64_t>(files / 8, 16, kMaxPipes);
  }();
  return budget;
}

uint64_t PipePool::SplicedBytes() { return g_spliced_bytes.load(std::memory_order_relaxed); }
int64_t PipePool::PipesOpen() { return g_pipes_open.load(std::memory_order_relaxed); }
uint64_t PipePool::PipesRefused() { return g_pipes_refused.load(std::memory_order_relaxed); }
void PipePool::CountSpliced(size_t bytes) {
  g_spliced_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

}  // namespace sluice::net
