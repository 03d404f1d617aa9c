// The CUDA driver, loaded with dlopen: the process-wide probe, and device 0 as a backend.
#include "kobai/runtime/cuda_driver.hpp"

#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <type_traits>

namespace kobai::runtime {

const cuda_driver& cuda_driver::instance() {
  static const cuda_driver driver;
  return driver;
}

void cuda_driver::check(result_code code, const char* what) const {
  if (code == 0) return;
  const std::string name = error_name(code);
  throw device_error(detail::join("kobai: CUDA driver call ", what, " failed: ", name), name);
}

cuda_driver::cuda_driver() {
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

std::string cuda_driver::error_name(result_code code) const {
  const char* text = nullptr;
  if (error_name_ != nullptr && error_name_(code, &text) == 0 && text != nullptr) return text;
  return detail::join("CUresult ", std::to_string(code));
}

namespace {
cuda_driver::device_pointer address(const void* memory) {
  return static_cast<cuda_driver::device_pointer>(reinterpret_cast<std::uintptr_t>(memory));
}
}  // namespace

cuda_backend::cuda_backend() : driver_(cuda_driver::instance()) {
  if (!driver_.available()) throw device_error(detail::join("kobai: no CUDA device: ", driver_.why()));
  driver_.check(driver_.primary_context_retain(&context_, driver_.device), "cuDevicePrimaryCtxRetain");
}

std::string cuda_backend::name() const {
  return detail::join("CUDA: ", driver_.device_name(), " (sm_", std::to_string(driver_.architecture()), ")");
}

void* cuda_backend::do_allocate(std::size_t bytes) {
  current();
  cuda_driver::device_pointer memory = 0;
  driver_.check(driver_.memory_allocate(&memory, bytes), "cuMemAlloc");
  return reinterpret_cast<void*>(memory);
}

void cuda_backend::release(void* memory) noexcept {
  if (memory == nullptr) return;
  if (driver_.context_set_current(context_) == 0) (void)driver_.memory_free(address(memory));
}

void cuda_backend::copy_to_device(void* device, const void* host, std::size_t bytes) {
  current();
  if (bytes) driver_.check(driver_.copy_host_to_device(address(device), host, bytes), "cuMemcpyHtoD");
}

void cuda_backend::copy_to_host(void* host, const void* device, std::size_t bytes) {
  current();
  if (bytes) driver_.check(driver_.copy_device_to_host(host, address(device), bytes), "cuMemcpyDtoH");
}

void cuda_backend::copy_on_device(void* to, const void* from, std::size_t bytes) {
  if (bytes == 0) return;
  current();
  driver_.check(driver_.copy_device_to_device(address(to), address(from), bytes), "cuMemcpyDtoD");
}

const loaded_program& cuda_backend::load(const codegen::cuda_program& program) {
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

void cuda_backend::launch(void* kernel, unsigned blocks, unsigned threads, const void* args, std::size_t bytes) {
  if (bytes > 4096)  // the kernel parameter limit before CUDA 12.1
    throw device_error(detail::join("kobai: a kernel argument of ", std::to_string(bytes),
                                    " bytes exceeds CUDA's 4096; compile the outputs in several programs"));
  current();
  void* parameters[] = {const_cast<void*>(args)};
  driver_.check(driver_.launch_kernel(kernel, blocks, 1, 1, threads, 1, 1, 0, nullptr, parameters, nullptr),
                "cuLaunchKernel");
  count_launch();
}

void cuda_backend::synchronize() {
  current();
  driver_.check(driver_.context_synchronize(), "cuCtxSynchronize");
}

unsigned cuda_backend::block_threads() const { return codegen::block_size; }

unsigned cuda_backend::max_blocks() const {
  return static_cast<unsigned>(driver_.multiprocessors()) * (2048 / codegen::block_size);
}

void cuda_backend::current() const { driver_.check(driver_.context_set_current(context_), "cuCtxSetCurrent"); }

}  // namespace kobai::runtime
