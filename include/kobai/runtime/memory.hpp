// Device memory and the device interface the GPU executor runs on: memory, copies, loading
// generated programs and launching their kernels. Implementations: host memory (here, for programs
// on the CPU), the CUDA driver (runtime/cuda_driver.hpp) and a host emulator that runs the same
// generated source compiled as C++ (runtime/emulator.hpp), so the whole launch path is tested on
// machines without a GPU. The non-inline parts are compiled in the runtime library (runtime/memory.cpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kobai/codegen/cuda.hpp"
#include "kobai/core/error.hpp"
#include "kobai/runtime/export.hpp"

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

class KOBAI_RUNTIME_API device_backend {
 public:
  virtual ~device_backend();  // out of line: the vtable and type_info live in the runtime library
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
class KOBAI_RUNTIME_API host_resident : public device_backend {
 public:
  void* do_allocate(std::size_t bytes) override;
  void release(void* memory) noexcept override;
  void copy_to_device(void* device, const void* host, std::size_t bytes) override;
  void copy_to_host(void* host, const void* device, std::size_t bytes) override;
  void copy_on_device(void* to, const void* from, std::size_t bytes) override;
  void synchronize() override;
};

/// Host memory behind the same interface: where tensors live when a program runs on the CPU.
class KOBAI_RUNTIME_API host_memory final : public host_resident {
 public:
  /// The process-wide host backend (one per process: tensors on it are accepted everywhere).
  static const std::shared_ptr<device_backend>& instance();
  [[nodiscard]] std::string name() const override;
  const loaded_program& load(const codegen::cuda_program&) override;
  void launch(void*, unsigned, unsigned, const void*, std::size_t) override;
  [[nodiscard]] unsigned block_threads() const override;
  [[nodiscard]] unsigned max_blocks() const override;
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
