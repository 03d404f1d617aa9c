// NVRTC, found with dlopen: the process-wide loader and compiling CUDA C to CUBIN or PTX.
#include "kobai/runtime/nvrtc.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <system_error>
#include <type_traits>

namespace kobai::runtime {

const nvrtc& nvrtc::instance() {
  static const nvrtc loaded;
  return loaded;
}

binary nvrtc::compile(const std::string& source, const std::string& name, int arch) const {
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
  std::array<const char*, 1 + nvrtc::options.size()> options{target.c_str()};
  std::copy(nvrtc::options.begin(), nvrtc::options.end(), options.begin() + 1);
  program_handle program = nullptr;
  check(create_(&program, source.c_str(), name.c_str(), 0, nullptr, nullptr), "nvrtcCreateProgram");
  struct destroy_on_exit {
    const nvrtc& self;
    program_handle& program;
    ~destroy_on_exit() { self.destroy_(&program); }
  } cleanup{*this, program};
  if (compile_(program, static_cast<int>(options.size()), options.data()) != 0)
    throw compile_error(program_log(program), write_source(source, name));
  std::size_t size = 0;
  binary result;
  result.is_cubin = cubin;
  check(cubin ? cubin_size_(program, &size) : ptx_size_(program, &size), "nvrtcGet*Size");
  result.image.resize(size);
  check(cubin ? cubin_(program, result.image.data()) : ptx_(program, result.image.data()), "nvrtcGet*");
  return result;
}

nvrtc::nvrtc() {
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

void nvrtc::check(result_code code, const char* what) const {
  if (code != 0) throw error(detail::join("kobai: ", what, " failed with NVRTC error ", std::to_string(code)));
}

std::string nvrtc::program_log(program_handle program) const {
  std::size_t size = 0;
  if (log_size_(program, &size) != 0 || size == 0) return "(no log)";
  std::string text(size, '\0');
  log_(program, text.data());
  while (!text.empty() && text.back() == '\0') text.pop_back();
  return text;
}

std::string nvrtc::write_source(const std::string& source, const std::string& name) {
  const auto directory = std::filesystem::temp_directory_path() / "kobai";
  std::error_code ignored;
  std::filesystem::create_directories(directory, ignored);
  const auto path = directory / (name + "-" + std::to_string(std::hash<std::string>{}(source)) + ".cu");
  std::ofstream(path) << source;
  return path.string();
}

}  // namespace kobai::runtime
