// NVRTC, loaded at run time with dlopen (never linked): CUDA C source to CUBIN or PTX. Needs no
// driver and no GPU, so CI compiles every generated kernel to machine code. The loader is compiled
// in the runtime library (runtime/nvrtc.cpp): one per process.
#pragma once

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"
#include "kobai/runtime/export.hpp"

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
class KOBAI_RUNTIME_API nvrtc {
 public:
  /// The process-wide loader; thread-safe.
  static const nvrtc& instance();

  [[nodiscard]] bool available() const { return create_ != nullptr; }
  [[nodiscard]] const std::string& why() const { return why_; }
  /// NVRTC's version as major·1000 + minor·10 (13.0 → 13000), as CUDA numbers versions.
  [[nodiscard]] int version() const { return version_; }

  /// Whether NVRTC can emit CUBIN for sm_<arch> (e.g. 90); otherwise compile to PTX.
  [[nodiscard]] bool supports(int arch) const {
    return std::find(architectures_.begin(), architectures_.end(), arch) != architectures_.end();
  }

  /// The options every kernel is compiled with, besides its architecture. --fmad=false: no
  /// multiply-add contracted from a product and a sum, so that a value computed again in another
  /// kernel has the same bits (max's gradient compares x with max(x); cpu/interpreter.hpp's
  /// apply_op is the same rule on the CPU). Part of the kernel cache's key.
  static constexpr std::array<const char*, 2> options{"--std=c++17", "--fmad=false"};

  /// Compiles `source` for sm_<arch>: CUBIN when NVRTC supports that architecture, else PTX for
  /// the newest architecture below it that NVRTC supports (the driver compiles PTX forward).
  [[nodiscard]] binary compile(const std::string& source, const std::string& name, int arch) const;

 private:
  using program_handle = struct nvrtc_program_opaque*;
  using result_code = int;  // nvrtcResult: 0 is success

  nvrtc();
  ~nvrtc() = default;  // the library stays loaded until the process exits

  void check(result_code code, const char* what) const;
  std::string program_log(program_handle program) const;
  static std::string write_source(const std::string& source, const std::string& name);

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
