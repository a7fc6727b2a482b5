// How a network load balancer's idle flow notices TCP keep-alives (reference §8.5: "TCP
// keep-alives from either side reset the timer"; a TLS listener then sends its own every
// 20 s on both connections). A proxy never reads a keep-alive probe: it carries no data and
// the kernel answers it. The kernel does count it, as a segment received (TCP_INFO
// tcpi_segs_in, Transport::Segments), so a flow that moved no data but whose sockets
// received segments while it was quiet was kept alive by its peers.
//
// The check is sparse: one reading of the two sockets' counts kQuietMs after the flow went
// quiet (the baseline; the ACKs of its last data are in by then), one at the end of the
// idle timeout. More segments at the end: the flow is kept alive from then, and that reading
// is the next baseline (the next period watches a whole idle timeout). A flow is never reset
// sooner than an idle timeout after its last data or the check that last saw keep-alives.
// Pure logic; the owner reads the counts and acts (downstream_tunnel.cc). Loop thread only.
#pragma once

#include <algorithm>
#include <cstdint>

namespace sluice::proxy {

class FlowKeepAlive {
 public:
  // A baseline taken sooner than this after the last data could still see that data's ACKs.
  static constexpr int64_t kQuietMs = 5000;
  enum class Verdict : uint8_t {
    kWaiting,    // not idle long enough yet (a baseline may have been taken)
    kKeptAlive,  // segments came in while quiet: the flow is not idle
    kIdle,       // idle for the whole timeout: end it
  };

  // The flow is idle since then: its last data, or the last time keep-alives were seen.
  int64_t IdleSinceMs(int64_t last_data_ms) const { return std::max(last_data_ms, seen_ms_); }
  // When the flow must next be looked at: the end of its idle timeout, or before that the
  // time to take a baseline.
  int64_t NextCheckMs(int64_t last_data_ms, int64_t idle_timeout_ms) const {
    const int64_t since = IdleSinceMs(last_data_ms);
    return HasBaseline(last_data_ms) ? since + idle_timeout_ms : since + kQuietMs;
  }
  // True when Check needs the counts now (so the owner reads them only then).
  bool Due(int64_t now_ms, int64_t last_data_ms, int64_t idle_timeout_ms) const {
    return now_ms >= NextCheckMs(last_data_ms, idle_timeout_ms);
  }
  // At a due time: `segments_in` is what the flow's sockets have received so far.
  Verdict Check(int64_t now_ms, int64_t last_data_ms, int64_t idle_timeout_ms,
                uint64_t segments_in) {
    const int64_t since = IdleSinceMs(last_data_ms);
    if (now_ms < since + idle_timeout_ms) {
      if (!HasBaseline(last_data_ms)) Take(now_ms, segments_in);
      return Verdict::kWaiting;
    }
    if (HasBaseline(last_data_ms) && segments_in > baseline_segments_) {
      seen_ms_ = now_ms;
      Take(now_ms, segments_in);
      return Verdict::kKeptAlive;
    }
    return Verdict::kIdle;
  }
  bool ever_kept_alive() const { return seen_ms_ != 0; }

 private:
  // A baseline of this quiet spell: taken after the last data had settled, and not before
  // the last keep-alive (which restarted the spell).
  bool HasBaseline(int64_t last_data_ms) const {
    return baseline_ms_ != 0 && baseline_ms_ >= last_data_ms + kQuietMs && baseline_ms_ >= seen_ms_;
  }
  void Take(int64_t now_ms, uint64_t segments_in) {
    baseline_ms_ = std::max<int64_t>(now_ms, 1);
    baseline_segments_ = segments_in;
  }

  uint64_t baseline_segments_ = 0;
  int64_t baseline_ms_ = 0;  // 0: none
  int64_t seen_ms_ = 0;      // the last time keep-alives kept the flow (0: never)
};

}  // namespace sluice::proxy
