// A bounded byte buffer with a readable region [begin, end) and free space after it.
// Owned by one connection on one thread.
#pragma once

#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

namespace sluice::net {

class Buffer {
 public:
  explicit Buffer(size_t capacity = 0) { Reserve(capacity); }

  std::string_view readable() const { return {data_.get() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  size_t capacity() const { return capacity_; }

  // Free space at the end, compacting first when that frees more.
  char* write_ptr() { return data_.get() + end_; }
  size_t write_space() {
    if (begin_ > 0 && end_ == capacity_) Compact();
    return capacity_ - end_;
  }
  void Commit(size_t n) { end_ += n; }
  void Consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void Clear() { begin_ = end_ = 0; }
  // Removes `n` readable bytes starting `offset` bytes into the readable region, moving the
  // bytes after them down. Requires offset + n <= size().
  void Erase(size_t offset, size_t n) {
    if (n == 0) return;
    char* at = data_.get() + begin_ + offset;
    std::memmove(at, at + n, size() - offset - n);
    end_ -= n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void Compact() {
    if (begin_ == 0) return;
    std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  // Grows to `capacity` bytes (never shrinks), keeping the readable bytes.
  void Reserve(size_t capacity) {
    if (capacity <= capacity_) return;
    std::unique_ptr<char[]> next(new char[capacity]);
    if (end_ > begin_) std::memcpy(next.get(), data_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    data_ = std::move(next);
    capacity_ = capacity;
  }
  // Exchanges contents and memory with `other` (buffer pools hand memory around this way).
  void Swap(Buffer& other) {
    std::swap(data_, other.data_);
    std::swap(capacity_, other.capacity_);
    std::swap(begin_, other.begin_);
    std::swap(end_, other.end_);
  }
  // Releases the memory when nothing is buffered (for idle connections).
  void Release() {
    if (begin_ != end_) return;
    data_.reset();
    capacity_ = begin_ = end_ = 0;
  }

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace sluice::net
