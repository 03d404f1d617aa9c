// The device interface the GPU executor runs on: memory, copies, loading generated programs and
// launching their kernels. Two implementations: the CUDA driver (runtime/cuda_driver.hpp) and a
// host emulator that runs the same generated source compiled as C++ (runtime/emulator.hpp), so
// the whole launch path is tested on machines without a GPU.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "kobai/codegen/cuda.hpp"
#include "kobai/core/error.hpp"

namespace kobai {

/// A device failed: a driver call (the message names the function and the CUresult), running out
/// of device memory, or loading a module. Nothing is leaked; after running out of memory the device
/// stays usable, after a kernel fault (an illegal address) the driver's context does not.
struct device_error : error {
  device_error(const std::string& message, std::string result_name = {})
      : error(message), result(std::move(result_name)) {}
  std::string result;  // the CUresult name, e.g. "CUDA_ERROR_OUT_OF_MEMORY", when a driver call failed
};

namespace runtime {

/// A loaded program: one handle per kernel of codegen::cuda_program::kernels, in the same order.
struct loaded_program {
  std::vector<void*> kernels;
};

class device_backend {
 public:
  virtual ~device_backend() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  /// Device memory; throws device_error when there is not enough. release(nullptr) does nothing.
  void* allocate(std::size_t bytes) {
    void* memory = do_allocate(bytes);
    allocations_.fetch_add(1, std::memory_order_relaxed);
    return memory;
  }
  virtual void release(void* memory) noexcept = 0;
  virtual void copy_to_device(void* device, const void* host, std::size_t bytes) = 0;
  virtual void copy_to_host(void* host, const void* device, std::size_t bytes) = 0;
  virtual void copy_on_device(void* to, const void* from, std::size_t bytes) = 0;
  /// The program's kernels, compiled and loaded once per backend and source.
  virtual const loaded_program& load(const codegen::cuda_program& program) = 0;
  /// Launches a kernel with `blocks` blocks of `threads` threads and the kobai_args bytes `args`.
  virtual void launch(void* kernel, unsigned blocks, unsigned threads, const void* args, std::size_t bytes) = 0;
  /// Waits for every launch and copy to finish, raising any error they met.
  virtual void synchronize() = 0;
  /// Threads per block for loop kernels, and the most blocks worth launching for one loop.
  [[nodiscard]] virtual unsigned block_threads() const = 0;
  [[nodiscard]] virtual unsigned max_blocks() const = 0;
  /// Launches and allocations so far, for tests and benchmarks.
  [[nodiscard]] std::size_t launches() const { return launches_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t allocations() const { return allocations_.load(std::memory_order_relaxed); }

 protected:
  virtual void* do_allocate(std::size_t bytes) = 0;
  void count_launch() { launches_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<std::size_t> launches_{0}, allocations_{0};
};

/// A backend whose memory is the host's (64-byte aligned for SIMD loads; exhaustion is
/// std::bad_alloc, as for any host memory): copies are memcpy.
class host_resident : public device_backend {
 public:
  void* do_allocate(std::size_t bytes) override {
    return ::operator new (bytes == 0 ? 1 : bytes, std::align_val_t{64});
  }
  void release(void* memory) noexcept override { ::operator delete (memory, std::align_val_t{64}); }
  void copy_to_device(void* device, const void* host, std::size_t bytes) override { copy(device, host, bytes); }
  void copy_to_host(void* host, const void* device, std::size_t bytes) override { copy(host, device, bytes); }
  void copy_on_device(void* to, const void* from, std::size_t bytes) override { copy(to, from, bytes); }
  void synchronize() override {}

 private:
  static void copy(void* to, const void* from, std::size_t bytes) {
    if (bytes) std::memcpy(to, from, bytes);
  }
};

/// Host memory behind the same interface: where tensors live when a program runs on the CPU.
class host_memory final : public host_resident {
 public:
  static const std::shared_ptr<device_backend>& instance() {
    static const std::shared_ptr<device_backend> memory = std::make_shared<host_memory>();
    return memory;
  }
  [[nodiscard]] std::string name() const override { return "CPU"; }
  const loaded_program& load(const codegen::cuda_program&) override {
    throw device_error("kobai: the CPU runs programs with its own executor, not generated kernels");
  }
  void launch(void*, unsigned, unsigned, const void*, std::size_t) override {
    throw device_error("kobai: the CPU runs programs with its own executor, not generated kernels");
  }
  [[nodiscard]] unsigned block_threads() const override { return 1; }
  [[nodiscard]] unsigned max_blocks() const override { return 1; }
};

/// Device memory owned by one object, released on its backend when it goes.
class device_buffer {
 public:
  device_buffer() = default;
  device_buffer(std::shared_ptr<device_backend> backend, std::size_t bytes)
      : backend_(std::move(backend)), data_(bytes ? backend_->allocate(bytes) : nullptr), bytes_(bytes) {}
  device_buffer(device_buffer&& other) noexcept { swap(other); }
  device_buffer& operator=(device_buffer&& other) noexcept {
    device_buffer(std::move(other)).swap(*this);
    return *this;
  }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  ~device_buffer() {
    if (backend_) backend_->release(data_);
  }
  void swap(device_buffer& other) noexcept {
    std::swap(backend_, other.backend_);
    std::swap(data_, other.data_);
    std::swap(bytes_, other.bytes_);
  }
  [[nodiscard]] void* data() const { return data_; }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  /// Grows to at least `bytes` (contents are not kept); never shrinks.
  void reserve(const std::shared_ptr<device_backend>& backend, std::size_t bytes) {
    if (bytes <= bytes_ && backend == backend_) return;
    *this = device_buffer();  // free first: the peak stays at the new size
    *this = device_buffer(backend, bytes);
  }

 private:
  std::shared_ptr<device_backend> backend_;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace runtime
}  // namespace kobai
