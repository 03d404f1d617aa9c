// NVRTC, loaded at run time with dlopen (never linked): CUDA C source to CUBIN or PTX. Needs no
// driver and no GPU, so CI compiles every generated kernel to machine code.
#pragma once

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"

namespace kobai {

/// NVRTC rejected generated source: the message carries NVRTC's log and where the source was
/// written, so it can be read and compiled by hand.
struct compile_error : error {
  compile_error(const std::string& log, const std::string& source_path)
      : error(detail::join("kobai: NVRTC failed to compile generated CUDA (source written to ", source_path, "):\n",
                           log)),
        log(log),
        source_path(source_path) {}
  std::string log;
  std::string source_path;
};

namespace runtime {

/// The result of compiling: a CUBIN (an ELF image for one sm_XY) or PTX text.
struct binary {
  std::vector<char> image;
  bool is_cubin = false;
};

/// The NVRTC library, found with dlopen. `available()` says whether it loaded; `why()` says why not.
class nvrtc {
 public:
  /// The process-wide loader; thread-safe.
  static const nvrtc& instance() {
    static const nvrtc loaded;
    return loaded;
  }

  [[nodiscard]] bool available() const { return create_ != nullptr; }
  [[nodiscard]] const std::string& why() const { return why_; }
  /// NVRTC's version as major·1000 + minor·10 (13.0 → 13000), as CUDA numbers versions.
  [[nodiscard]] int version() const { return version_; }

  /// Whether NVRTC can emit CUBIN for sm_<arch> (e.g. 90); otherwise compile to PTX.
  [[nodiscard]] bool supports(int arch) const {
    return std::find(architectures_.begin(), architectures_.end(), arch) != architectures_.end();
  }

  /// Compiles `source` for sm_<arch>: CUBIN when NVRTC supports that architecture, else PTX for
  /// the newest architecture below it that NVRTC supports (the driver compiles PTX forward).
  [[nodiscard]] binary compile(const std::string& source, const std::string& name, int arch) const {
    if (!available()) throw error(detail::join("kobai: NVRTC is not available: ", why_));
    const bool cubin = supports(arch);
    int target_arch = arch;
    if (!cubin) {
      target_arch = 0;
      for (int a : architectures_)
        if (a <= arch) target_arch = std::max(target_arch, a);
      if (target_arch == 0)
        throw error(detail::join("kobai: NVRTC ", std::to_string(version_ / 1000), ".",
                                 std::to_string(version_ % 1000 / 10), " cannot compile for sm_", std::to_string(arch),
                                 ": its oldest architecture is sm_",
                                 std::to_string(architectures_.empty() ? 0 : architectures_.front())));
    }
    const std::string target =
        detail::join("--gpu-architecture=", cubin ? "sm_" : "compute_", std::to_string(target_arch));
    const char* options[] = {target.c_str(), "--std=c++17"};
    program_handle program = nullptr;
    check(create_(&program, source.c_str(), name.c_str(), 0, nullptr, nullptr), "nvrtcCreateProgram");
    struct destroy_on_exit {
      const nvrtc& self;
      program_handle& program;
      ~destroy_on_exit() { self.destroy_(&program); }
    } cleanup{*this, program};
    if (compile_(program, 2, options) != 0) throw compile_error(program_log(program), write_source(source, name));
    std::size_t size = 0;
    binary result;
    result.is_cubin = cubin;
    check(cubin ? cubin_size_(program, &size) : ptx_size_(program, &size), "nvrtcGet*Size");
    result.image.resize(size);
    check(cubin ? cubin_(program, result.image.data()) : ptx_(program, result.image.data()), "nvrtcGet*");
    return result;
  }

 private:
  using program_handle = struct nvrtc_program_opaque*;
  using result_code = int;  // nvrtcResult: 0 is success

  nvrtc() {
    const char* names[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
    for (const char* name : names)
      if ((library_ = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
    if (library_ == nullptr) {
      why_ = "no libnvrtc.so (install the CUDA toolkit's NVRTC, or add its lib64 to the library path)";
      return;
    }
    bool complete = true;
    auto resolve = [&](auto& function, const char* symbol) {
      function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(library_, symbol));
      complete = complete && function != nullptr;
    };
    resolve(version_function_, "nvrtcVersion");
    resolve(create_, "nvrtcCreateProgram");
    resolve(compile_, "nvrtcCompileProgram");
    resolve(destroy_, "nvrtcDestroyProgram");
    resolve(log_size_, "nvrtcGetProgramLogSize");
    resolve(log_, "nvrtcGetProgramLog");
    resolve(cubin_size_, "nvrtcGetCUBINSize");
    resolve(cubin_, "nvrtcGetCUBIN");
    resolve(ptx_size_, "nvrtcGetPTXSize");
    resolve(ptx_, "nvrtcGetPTX");
    resolve(architecture_count_, "nvrtcGetNumSupportedArchs");
    resolve(architectures_function_, "nvrtcGetSupportedArchs");
    if (!complete) {
      why_ = "libnvrtc.so lacks functions kobai needs (NVRTC 11.2 or newer is required)";
      create_ = nullptr;
      return;
    }
    int major = 0, minor = 0;
    version_function_(&major, &minor);
    version_ = major * 1000 + minor * 10;
    int count = 0;
    architecture_count_(&count);
    architectures_.resize(static_cast<std::size_t>(count));
    architectures_function_(architectures_.data());
  }
  ~nvrtc() = default;  // the library stays loaded until the process exits

  void check(result_code code, const char* what) const {
    if (code != 0) throw error(detail::join("kobai: ", what, " failed with NVRTC error ", std::to_string(code)));
  }

  std::string program_log(program_handle program) const {
    std::size_t size = 0;
    if (log_size_(program, &size) != 0 || size == 0) return "(no log)";
    std::string text(size, '\0');
    log_(program, text.data());
    while (!text.empty() && text.back() == '\0') text.pop_back();
    return text;
  }

  static std::string write_source(const std::string& source, const std::string& name) {
    const auto directory = std::filesystem::temp_directory_path() / "kobai";
    std::error_code ignored;
    std::filesystem::create_directories(directory, ignored);
    const auto path = directory / (name + "-" + std::to_string(std::hash<std::string>{}(source)) + ".cu");
    std::ofstream(path) << source;
    return path.string();
  }

  void* library_ = nullptr;
  std::string why_;
  int version_ = 0;
  std::vector<int> architectures_;
  result_code (*version_function_)(int*, int*) = nullptr;
  result_code (*create_)(program_handle*, const char*, const char*, int, const char* const*,
                         const char* const*) = nullptr;
  result_code (*compile_)(program_handle, int, const char* const*) = nullptr;
  result_code (*destroy_)(program_handle*) = nullptr;
  result_code (*log_size_)(program_handle, std::size_t*) = nullptr;
  result_code (*log_)(program_handle, char*) = nullptr;
  result_code (*cubin_size_)(program_handle, std::size_t*) = nullptr;
  result_code (*cubin_)(program_handle, char*) = nullptr;
  result_code (*ptx_size_)(program_handle, std::size_t*) = nullptr;
  result_code (*ptx_)(program_handle, char*) = nullptr;
  result_code (*architecture_count_)(int*) = nullptr;
  result_code (*architectures_function_)(int*) = nullptr;
};

}  // namespace runtime
}  // namespace kobai
