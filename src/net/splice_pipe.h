// Zero-copy relaying: a kernel pipe between two TCP sockets, filled from one with splice(2)
// and emptied into the other, so a stream's bytes never cross user space (reference: issue 15,
// "large transfers never cross user space"). A tunnel direction moves to a pipe once it
// proves to be bulk (docs/decisions/0020-splice.md); small exchanges keep their buffers,
// where read/write cost the same two calls without a pipe's two descriptors.
//
// Threads: a SplicePipe and a PipePool belong to one loop thread. The process-wide budget of
// pipes (PipePool::Budget) and the counters are relaxed atomics, read by the admin endpoint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/transport.h"

namespace sluice::net {

// A pipe's two ends and the bytes it holds (splice moves them in and out; the count is ours,
// the kernel's pages hold the bytes). Plain data: the pool opens and closes the descriptors.
struct SplicePipe {
  int read_fd = -1;
  int write_fd = -1;
  size_t pending = 0;  // bytes spliced in and not yet out
  bool open() const { return read_fd >= 0; }
};

// Moves at most `max` bytes from the socket `from_fd` into `pipe` (call only while the pipe
// is empty: with bytes in it, "would block" could mean a full pipe as well as an empty
// socket). kEof: the peer finished sending; kWouldBlock: the socket is drained.
IoResult SpliceIn(int from_fd, SplicePipe& pipe, size_t max);
// Moves what the pipe holds into the socket `to_fd`; a prefix may go. kWouldBlock: the
// socket's send buffer is full. Never raises SIGPIPE (the process ignores it) — EPIPE is
// returned as an error.
IoResult SpliceOut(SplicePipe& pipe, int to_fd);

// Pipes for one worker: new ones within the process's budget, emptied ones kept for reuse
// (up to `keep_idle`), so that a bulk flow costs no pipe2() once the worker is warm.
class PipePool {
 public:
  explicit PipePool(size_t keep_idle = 32);
  ~PipePool();
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  // Opens `*pipe` (closed on entry). False when the budget is spent or pipe2() failed: the
  // caller keeps copying through its buffers.
  bool Acquire(SplicePipe* pipe);
  // Closes `*pipe`, or keeps it for reuse when it is empty. The pipe is closed on return.
  void Release(SplicePipe* pipe);
  // Closes `*pipe` without a pool (an owner that may outlive its worker's pool).
  static void Discard(SplicePipe* pipe);

  // Pipes the process may hold: an eighth of RLIMIT_NOFILE (two descriptors each, so a
  // quarter of the descriptors), at most 8,192 and at least 16.
  static int64_t Budget();
  // Since start / now, process-wide.
  static uint64_t SplicedBytes();
  static int64_t PipesOpen();
  static uint64_t PipesRefused();
  // Counts bytes that went out of a pipe (called by the relay on its path).
  static void CountSpliced(size_t bytes);

 private:
  std::vector<SplicePipe> idle_;
  size_t keep_idle_;
};

}  // namespace sluice::net
