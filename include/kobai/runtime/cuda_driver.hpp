// The CUDA driver, loaded at run time: libcuda.so.1 by its soname (never linked, and never the
// toolkit's stub libcuda.so), cuInit, and the first device. When anything is missing it says why,
// in one line, so a caller can run on the CPU instead and tell the user why. `cuda_backend` runs
// generated programs on that device: NVRTC through the kernel cache, cuModuleLoadDataEx with log
// buffers, cuLaunchKernel; every failing call raises a device_error naming its CUresult.
#pragma once

#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>

#include "kobai/core/text.hpp"
#include "kobai/runtime/device.hpp"
#include "kobai/runtime/kernel_cache.hpp"

namespace kobai::runtime {

class cuda_driver {
 public:
  /// The process-wide probe, run once; thread-safe.
  static const cuda_driver& instance() {
    static const cuda_driver driver;
    return driver;
  }

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
  void check(result_code code, const char* what) const {
    if (code == 0) return;
    const std::string name = error_name(code);
    throw device_error(detail::join("kobai: CUDA driver call ", what, " failed: ", name), name);
  }

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
  cuda_driver() {
    if (const char* disabled = std::getenv("KOBAI_DISABLE_CUDA"); disabled && *disabled && *disabled != '0') {
      why_ = "disabled by KOBAI_DISABLE_CUDA";
      return;
    }
    library_ = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (library_ == nullptr) {
      why_ = "no libcuda.so.1 (no NVIDIA driver on this machine)";
      return;
    }
    auto resolve = [&](auto& function, const char* symbol) {
      function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(library_, symbol));
      return function != nullptr;
    };
    if (!resolve(init_, "cuInit") || !resolve(error_name_, "cuGetErrorName") ||
        !resolve(device_count_, "cuDeviceGetCount") || !resolve(device_get_, "cuDeviceGet") ||
        !resolve(attribute_, "cuDeviceGetAttribute") || !resolve(name_, "cuDeviceGetName") ||
        !resolve(version_, "cuDriverGetVersion") || !resolve(primary_context_retain, "cuDevicePrimaryCtxRetain") ||
        !resolve(context_set_current, "cuCtxSetCurrent") || !resolve(context_synchronize, "cuCtxSynchronize") ||
        !resolve(memory_allocate, "cuMemAlloc_v2") || !resolve(memory_free, "cuMemFree_v2") ||
        !resolve(copy_host_to_device, "cuMemcpyHtoD_v2") || !resolve(copy_device_to_host, "cuMemcpyDtoH_v2") ||
        !resolve(copy_device_to_device, "cuMemcpyDtoD_v2") || !resolve(module_load, "cuModuleLoadDataEx") ||
        !resolve(module_function, "cuModuleGetFunction") || !resolve(module_unload, "cuModuleUnload") ||
        !resolve(launch_kernel, "cuLaunchKernel")) {
      why_ = "libcuda.so.1 lacks driver functions kobai needs";
      return;
    }
    if (const result_code code = init_(0); code != 0) {
      why_ = detail::join("cuInit failed: ", error_name(code));
      return;
    }
    int count = 0;
    if (const result_code code = device_count_(&count); code != 0 || count == 0) {
      why_ = code != 0 ? detail::join("cuDeviceGetCount failed: ", error_name(code)) : "no CUDA device";
      return;
    }
    int major = 0, minor = 0;
    char name[256] = {};
    constexpr int compute_capability_major = 75, compute_capability_minor = 76, multiprocessor_count = 16;
    if (device_get_(&device, 0) != 0 || attribute_(&major, compute_capability_major, device) != 0 ||
        attribute_(&minor, compute_capability_minor, device) != 0 || name_(name, sizeof name, device) != 0 ||
        attribute_(&multiprocessors_, multiprocessor_count, device) != 0) {
      why_ = "could not query CUDA device 0";
      return;
    }
    architecture_ = major * 10 + minor;
    device_name_ = name;
    version_(&driver_version_);
  }

  std::string error_name(result_code code) const {
    const char* text = nullptr;
    if (error_name_ != nullptr && error_name_(code, &text) == 0 && text != nullptr) return text;
    return detail::join("CUresult ", std::to_string(code));
  }

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
class cuda_backend final : public device_backend {
 public:
  /// Throws device_error when there is no usable driver or device (cuda_driver::why says why).
  cuda_backend() : driver_(cuda_driver::instance()) {
    if (!driver_.available()) throw device_error(detail::join("kobai: no CUDA device: ", driver_.why()));
    driver_.check(driver_.primary_context_retain(&context_, driver_.device), "cuDevicePrimaryCtxRetain");
  }
  // The primary context and its modules stay for the life of the process.

  [[nodiscard]] std::string name() const override {
    return detail::join("CUDA: ", driver_.device_name(), " (sm_", std::to_string(driver_.architecture()), ")");
  }
  void* do_allocate(std::size_t bytes) override {
    current();
    cuda_driver::device_pointer memory = 0;
    driver_.check(driver_.memory_allocate(&memory, bytes), "cuMemAlloc");
    return reinterpret_cast<void*>(memory);
  }
  void release(void* memory) noexcept override {
    if (memory == nullptr) return;
    if (driver_.context_set_current(context_) == 0) (void)driver_.memory_free(address(memory));
  }
  void copy_to_device(void* device, const void* host, std::size_t bytes) override {
    current();
    if (bytes) driver_.check(driver_.copy_host_to_device(address(device), host, bytes), "cuMemcpyHtoD");
  }
  void copy_to_host(void* host, const void* device, std::size_t bytes) override {
    current();
    if (bytes) driver_.check(driver_.copy_device_to_host(host, address(device), bytes), "cuMemcpyDtoH");
  }
  void copy_on_device(void* to, const void* from, std::size_t bytes) override {
    if (bytes == 0) return;
    current();
    driver_.check(driver_.copy_device_to_device(address(to), address(from), bytes), "cuMemcpyDtoD");
  }
  const loaded_program& load(const codegen::cuda_program& program) override {
    std::lock_guard lock(mutex_);
    if (auto found = modules_.find(program.source); found != modules_.end()) return found->second;
    current();
    const binary image = kernel_cache::instance().get(program.source, driver_.architecture());
    const std::string bytes(image.image.data(), image.image.size());  // PTX must end in a NUL: c_str() does
    char info[4096] = {}, errors[4096] = {};
    int options[] = {3, 4, 5, 6};  // CU_JIT_{INFO,ERROR}_LOG_BUFFER and their sizes
    void* values[] = {info, reinterpret_cast<void*>(std::uintptr_t{sizeof info}), errors,
                      reinterpret_cast<void*>(std::uintptr_t{sizeof errors})};
    cuda_driver::handle module = nullptr;
    if (const auto code = driver_.module_load(&module, bytes.c_str(), 4, options, values); code != 0) {
      try {
        driver_.check(code, "cuModuleLoadDataEx");
      } catch (const device_error& e) {
        throw device_error(detail::join(e.what(), "\n", errors), e.result);
      }
    }
    loaded_program loaded;
    try {
      for (const auto& k : program.kernels) {
        cuda_driver::handle function = nullptr;
        driver_.check(driver_.module_function(&function, module, k.name.c_str()), "cuModuleGetFunction");
        loaded.kernels.push_back(function);
      }
      return modules_.emplace(program.source, std::move(loaded)).first->second;
    } catch (...) {
      (void)driver_.module_unload(module);
      throw;
    }
  }
  void launch(void* kernel, unsigned blocks, unsigned threads, const void* args, std::size_t bytes) override {
    if (bytes > 4096)  // the kernel parameter limit before CUDA 12.1
      throw device_error(detail::join("kobai: a kernel argument of ", std::to_string(bytes),
                                      " bytes exceeds CUDA's 4096; compile the outputs in several programs"));
    current();
    void* parameters[] = {const_cast<void*>(args)};
    driver_.check(driver_.launch_kernel(kernel, blocks, 1, 1, threads, 1, 1, 0, nullptr, parameters, nullptr),
                  "cuLaunchKernel");
    count_launch();
  }
  void synchronize() override {
    current();
    driver_.check(driver_.context_synchronize(), "cuCtxSynchronize");
  }
  [[nodiscard]] unsigned block_threads() const override { return codegen::block_size; }
  [[nodiscard]] unsigned max_blocks() const override {
    return static_cast<unsigned>(driver_.multiprocessors()) * (2048 / codegen::block_size);
  }

 private:
  void current() const { driver_.check(driver_.context_set_current(context_), "cuCtxSetCurrent"); }
  static cuda_driver::device_pointer address(const void* memory) {
    return static_cast<cuda_driver::device_pointer>(reinterpret_cast<std::uintptr_t>(memory));
  }

  const cuda_driver& driver_;
  cuda_driver::handle context_ = nullptr;
  std::mutex mutex_;
  std::unordered_map<std::string, loaded_program> modules_;
};

}  // namespace kobai::runtime
