// A bounded single-producer single-consumer ring of log entries: a worker pushes whole
// entries (never blocking: a full ring drops the entry and counts it), the log writer thread
// drains them. Each entry carries a 64-bit stream key (which log it belongs to).
// Thread: Push from one producer thread, Drain from one consumer thread; counters any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::observe {

class LogRing {
 public:
  // `capacity` is rounded up to a power of two. The memory is reserved, not touched: an
  // unused ring costs no resident memory.
  explicit LogRing(size_t capacity = size_t{4} << 20) {
    capacity_ = 4096;
    while (capacity_ < capacity) capacity_ <<= 1;
    data_ = std::unique_ptr<char[]>(new char[capacity_]);
  }

  // Producer. False (and counted as dropped) when the entry does not fit now.
  bool Push(uint64_t key, std::string_view entry) {
    const size_t need = kHeader + entry.size();
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    const uint64_t head = head_.load(std::memory_order_acquire);
    if (need > capacity_ - (tail - head)) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    char header[kHeader];
    const uint32_t len = static_cast<uint32_t>(entry.size());
    std::memcpy(header, &key, 8);
    std::memcpy(header + 8, &len, 4);
    CopyIn(tail, header, kHeader);
    CopyIn(tail + kHeader, entry.data(), entry.size());
    tail_.store(tail + need, std::memory_order_release);
    return true;
  }

  // Consumer: calls fn(key, entry) for every entry pushed so far; returns how many.
  // `scratch` holds an entry that wraps around the end of the ring.
  template <typename Fn>
  size_t Drain(std::string* scratch, Fn&& fn) {
    uint64_t head = head_.load(std::memory_order_relaxed);
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    size_t n = 0;
    while (head != tail) {
      char header[kHeader];
      CopyOut(head, header, kHeader);
      uint64_t key;
      uint32_t len;
      std::memcpy(&key, header, 8);
      std::memcpy(&len, header + 8, 4);
      const size_t at = static_cast<size_t>((head + kHeader) & (capacity_ - 1));
      if (at + len <= capacity_) {
        fn(key, std::string_view(data_.get() + at, len));
      } else {
        scratch->resize(len);
        CopyOut(head + kHeader, scratch->data(), len);
        fn(key, std::string_view(*scratch));
      }
      head += kHeader + len;
      ++n;
    }
    head_.store(head, std::memory_order_release);
    return n;
  }

  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  size_t capacity() const { return capacity_; }

 private:
  static constexpr size_t kHeader = 12;  // key (8) + length (4)

  void CopyIn(uint64_t pos, const char* src, size_t n) {
    const size_t at = static_cast<size_t>(pos & (capacity_ - 1));
    const size_t first = n < capacity_ - at ? n : capacity_ - at;
    std::memcpy(data_.get() + at, src, first);
    std::memcpy(data_.get(), src + first, n - first);
  }
  void CopyOut(uint64_t pos, char* dst, size_t n) const {
    const size_t at = static_cast<size_t>(pos & (capacity_ - 1));
    const size_t first = n < capacity_ - at ? n : capacity_ - at;
    std::memcpy(dst, data_.get() + at, first);
    std::memcpy(dst + first, data_.get(), n - first);
  }

  size_t capacity_;
  std::unique_ptr<char[]> data_;
  alignas(64) std::atomic<uint64_t> head_{0};  // consumer's position
  alignas(64) std::atomic<uint64_t> tail_{0};  // producer's position
  alignas(64) std::atomic<uint64_t> dropped_{0};
};

}  // namespace sluice::observe
