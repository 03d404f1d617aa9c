// A host emulator of the device: the generated CUDA source, compiled as C++ by the system compiler
// into a shared library and run block by block, one thread per block, in host memory. It runs the
// GPU executor's whole launch path (argument layout, grids, partials, finishing kernels, results)
// on machines without a GPU, so CI checks generated kernels against the CPU executor. It is a
// testing backend: slow, and it does not exercise warp shuffles or shared memory.
#pragma once

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

#include "kobai/core/text.hpp"
#include "kobai/runtime/memory.hpp"

namespace kobai::runtime {

class host_emulator final : public host_resident {
 public:
  /// `blocks`: the most blocks a loop is split into (several, to exercise the per-block partials).
  explicit host_emulator(unsigned blocks = 3) : blocks_(blocks) {}

  [[nodiscard]] std::string name() const override { return "host emulator"; }
  const loaded_program& load(const codegen::cuda_program& program) override {
    std::lock_guard lock(mutex_);
    if (auto found = modules_.find(program.source); found != modules_.end()) return found->second;
    const auto directory =
        std::filesystem::temp_directory_path() / detail::join("kobai-emulator-", std::to_string(::getpid()));
    std::filesystem::create_directories(directory);
    const std::string stem = std::to_string(std::hash<std::string>{}(program.source));
    const auto source_path = directory / (stem + ".cpp"), library_path = directory / (stem + ".so");
    {
      std::ofstream file(source_path);
      file << preamble << program.source << "\n";
      for (const auto& k : program.kernels)  // a host entry point per kernel: every block in turn
        file << "extern \"C\" void " << k.name << "_host(const void* args, unsigned blocks) {\n"
             << "  gridDim.x = blocks;\n  for (unsigned b = 0; b < blocks; ++b) {\n    blockIdx.x = b;\n    " << k.name
             << "(*static_cast<const kobai_args*>(args));\n  }\n}\n";
    }
    const char* chosen = std::getenv("KOBAI_EMULATOR_CXX");
    const std::string compiler = chosen && *chosen ? chosen : "c++";
    const std::string log_path = (directory / (stem + ".log")).string();
    const std::string command = detail::join(compiler, " -std=c++17 -O1 -shared -fPIC -w -o '", library_path.string(),
                                             "' '", source_path.string(), "' > '", log_path, "' 2>&1");
    if (std::system(command.c_str()) != 0) {
      std::ifstream log(log_path);
      const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      throw device_error(
          detail::join("kobai: host emulator: compiling ", source_path.string(), " failed:\n", text.substr(0, 4000)));
    }
    void* library = dlopen(library_path.c_str(), RTLD_NOW | RTLD_LOCAL);  // stays loaded with its kernels
    if (library == nullptr) throw device_error(detail::join("kobai: host emulator: ", dlerror()));
    std::error_code ignored;
    for (const auto& path : {source_path, library_path, std::filesystem::path(log_path)})
      std::filesystem::remove(path, ignored);
    std::filesystem::remove(directory, ignored);  // when empty
    loaded_program loaded;
    for (const auto& k : program.kernels) {
      void* entry = dlsym(library, (k.name + "_host").c_str());
      if (entry == nullptr) throw device_error(detail::join("kobai: host emulator: no kernel ", k.name));
      loaded.kernels.push_back(entry);
    }
    return modules_.emplace(program.source, std::move(loaded)).first->second;
  }
  void launch(void* kernel, unsigned blocks, unsigned, const void* args, std::size_t) override {
    reinterpret_cast<void (*)(const void*, unsigned)>(kernel)(args, blocks);
    count_launch();
  }
  [[nodiscard]] unsigned block_threads() const override { return 1; }
  [[nodiscard]] unsigned max_blocks() const override { return blocks_; }

 private:
  // CUDA's built-ins for one thread per block; the math functions come from <cmath>.
  static constexpr std::string_view preamble = R"(#include <cmath>
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
#define __shared__ static
struct kobai_dim { unsigned x = 0; };
static thread_local kobai_dim gridDim, blockIdx, threadIdx;
static const kobai_dim blockDim{1};
static inline void __syncthreads() {}
)";

  unsigned blocks_;
  std::mutex mutex_;
  std::unordered_map<std::string, loaded_program> modules_;
};

}  // namespace kobai::runtime
