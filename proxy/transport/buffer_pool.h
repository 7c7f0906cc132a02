// Per-worker pool of fixed-size I/O buffers. A connection holds a buffer only while bytes are in
// flight, so idle connections cost no buffer memory. Single-threaded: one pool per worker.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace remora::proxy::transport {

class BufferPool {
 public:
  // `max_cached` bounds the memory kept for reuse after a burst.
  BufferPool(size_t buffer_size, size_t max_cached)
      : buffer_size_(buffer_size), max_cached_(max_cached) {}

  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept : pool_(other.pool_), data_(std::move(other.data_)) {}
    Lease& operator=(Lease&& other) noexcept {
      Release();
      pool_ = other.pool_;
      data_ = std::move(other.data_);
      return *this;
    }
    ~Lease() { Release(); }

    explicit operator bool() const { return data_ != nullptr; }
    char* data() { return data_.get(); }
    size_t size() const { return pool_->buffer_size_; }
    void Release() {
      if (data_ != nullptr) pool_->Return(std::move(data_));
    }

   private:
    friend class BufferPool;
    Lease(BufferPool* pool, std::unique_ptr<char[]> data) : pool_(pool), data_(std::move(data)) {}
    BufferPool* pool_ = nullptr;
    std::unique_ptr<char[]> data_;
  };

  Lease Acquire() {
    if (free_.empty()) {
      return Lease(this, std::make_unique_for_overwrite<char[]>(buffer_size_));
    }
    std::unique_ptr<char[]> data = std::move(free_.back());
    free_.pop_back();
    return Lease(this, std::move(data));
  }

  size_t cached() const { return free_.size(); }

 private:
  void Return(std::unique_ptr<char[]> data) {
    if (free_.size() < max_cached_) free_.push_back(std::move(data));
  }

  size_t buffer_size_;
  size_t max_cached_;
  std::vector<std::unique_ptr<char[]>> free_;
};

}  // namespace remora::proxy::transport
