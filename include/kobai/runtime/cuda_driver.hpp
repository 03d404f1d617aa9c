// The CUDA driver, loaded at run time: libcuda.so.1 by its soname (never linked, and never the
// toolkit's stub libcuda.so), cuInit, and the first device. When anything is missing it says why,
// in one line, so a caller can run on the CPU instead and tell the user why.
#pragma once

#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <type_traits>

#include "kobai/core/text.hpp"

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

 private:
  using result_code = int;  // CUresult: 0 is CUDA_SUCCESS

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
        !resolve(version_, "cuDriverGetVersion")) {
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
    int device = 0, major = 0, minor = 0;
    char name[256] = {};
    constexpr int compute_capability_major = 75, compute_capability_minor = 76;
    if (device_get_(&device, 0) != 0 || attribute_(&major, compute_capability_major, device) != 0 ||
        attribute_(&minor, compute_capability_minor, device) != 0 || name_(name, sizeof name, device) != 0) {
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
  int architecture_ = 0, driver_version_ = 0;
  result_code (*init_)(unsigned) = nullptr;
  result_code (*error_name_)(result_code, const char**) = nullptr;
  result_code (*device_count_)(int*) = nullptr;
  result_code (*device_get_)(int*, int) = nullptr;
  result_code (*attribute_)(int*, int, int) = nullptr;
  result_code (*name_)(char*, int, int) = nullptr;
  result_code (*version_)(int*) = nullptr;
};

}  // namespace kobai::runtime
