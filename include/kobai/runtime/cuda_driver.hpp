// The CUDA driver, loaded at run time: libcuda.so.1 by its soname (never linked, and never the
// toolkit's stub libcuda.so), cuInit, and the first device. When anything is missing it says why,
// in one line, so a caller can run on the CPU instead and tell the user why. `cuda_backend` runs
// generated programs on that device: NVRTC through the kernel cache, cuModuleLoadDataEx with log
// buffers, cuLaunchKernel; every failing call raises a device_error naming its CUresult. Both are
// compiled in the runtime library (runtime/cuda_driver.cpp): one driver probe per process.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "kobai/core/text.hpp"
#include "kobai/runtime/export.hpp"
#include "kobai/runtime/kernel_cache.hpp"
#include "kobai/runtime/memory.hpp"

namespace kobai::runtime {

class KOBAI_RUNTIME_API cuda_driver {
 public:
  /// The process-wide probe, run once; thread-safe.
  static const cuda_driver& instance();

  /// Whether a driver and a device are usable.
  [[nodiscard]] bool available() const { return why_.empty(); }
  /// Why not, in one line ("no libcuda.so.1", "cuInit failed: CUDA_ERROR_NO_DEVICE", …); empty if available.
  [[nodiscard]] const std::string& why() const { return why_; }
  /// Device 0: its name, and its compute capability as major·10 + minor (90 for sm_90).
  [[nodiscard]] const std::string& device_name() const { return device_name_; }
  [[nodiscard]] int architecture() const { return architecture_; }
  /// The driver's CUDA version, major·1000 + minor·10.
  [[nodiscard]] int driver_version() const { return driver_version_; }
  /// Device 0's streaming multiprocessors.
  [[nodiscard]] int multiprocessors() const { return multiprocessors_; }

  using result_code = int;  // CUresult: 0 is CUDA_SUCCESS
  using device_pointer = unsigned long long;
  using handle = void*;  // CUcontext, CUmodule, CUfunction, CUstream

  /// Raises a device_error naming `what` and the CUresult when `code` is not CUDA_SUCCESS.
  void check(result_code code, const char* what) const;

  // Driver entry points by their versioned names (what cuda.h maps the plain names to).
  result_code (*primary_context_retain)(handle*, int) = nullptr;
  result_code (*context_set_current)(handle) = nullptr;
  result_code (*context_synchronize)() = nullptr;
  result_code (*memory_allocate)(device_pointer*, std::size_t) = nullptr;
  result_code (*memory_free)(device_pointer) = nullptr;
  result_code (*copy_host_to_device)(device_pointer, const void*, std::size_t) = nullptr;
  result_code (*copy_device_to_host)(void*, device_pointer, std::size_t) = nullptr;
  result_code (*copy_device_to_device)(device_pointer, device_pointer, std::size_t) = nullptr;
  result_code (*module_load)(handle*, const void*, unsigned, int*, void**) = nullptr;
  result_code (*module_function)(handle*, handle, const char*) = nullptr;
  result_code (*module_unload)(handle) = nullptr;
  result_code (*launch_kernel)(handle, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, handle,
                               void**, void**) = nullptr;
  int device = 0;

 private:
  cuda_driver();
  std::string error_name(result_code code) const;

  void* library_ = nullptr;  // stays loaded for the life of the process
  std::string why_, device_name_;
  int architecture_ = 0, driver_version_ = 0, multiprocessors_ = 0;
  result_code (*init_)(unsigned) = nullptr;
  result_code (*error_name_)(result_code, const char**) = nullptr;
  result_code (*device_count_)(int*) = nullptr;
  result_code (*device_get_)(int*, int) = nullptr;
  result_code (*attribute_)(int*, int, int) = nullptr;
  result_code (*name_)(char*, int, int) = nullptr;
  result_code (*version_)(int*) = nullptr;
};

/// Device 0 through the driver: one primary context, made current on each calling thread.
class KOBAI_RUNTIME_API cuda_backend final : public device_backend {
 public:
  /// Throws device_error when there is no usable driver or device (cuda_driver::why says why).
  cuda_backend();
  // The primary context and its modules stay for the life of the process.

  [[nodiscard]] std::string name() const override;
  void* do_allocate(std::size_t bytes) override;
  void release(void* memory) noexcept override;
  void copy_to_device(void* device, const void* host, std::size_t bytes) override;
  void copy_to_host(void* host, const void* device, std::size_t bytes) override;
  void copy_on_device(void* to, const void* from, std::size_t bytes) override;
  const loaded_program& load(const codegen::cuda_program& program) override;
  void launch(void* kernel, unsigned blocks, unsigned threads, const void* args, std::size_t bytes) override;
  void synchronize() override;
  [[nodiscard]] unsigned block_threads() const override;
  [[nodiscard]] unsigned max_blocks() const override;

 private:
  void current() const;

  const cuda_driver& driver_;
  cuda_driver::handle context_ = nullptr;
  std::mutex mutex_;
  std::unordered_map<std::string, loaded_program> modules_;
};

}  // namespace kobai::runtime
