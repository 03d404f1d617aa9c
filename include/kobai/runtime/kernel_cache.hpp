// The kernel cache: compiled kernels kept in memory and on disk, keyed by everything that decides
// the binary (source, architecture, options, NVRTC and codegen versions). A cache never makes a
// run fail: an unreadable, corrupt or unwritable entry just means compiling again. The cache's
// files and the process-wide cache are compiled in the runtime library (runtime/kernel_cache.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "kobai/codegen/cuda.hpp"
#include "kobai/runtime/export.hpp"
#include "kobai/runtime/nvrtc.hpp"

namespace kobai::runtime {

/// How a kernel was obtained: for tests, benchmarks and the curious.
enum class cache_outcome { compiled, disk, memory };

class KOBAI_RUNTIME_API kernel_cache {
 public:
  /// The process-wide cache in $KOBAI_CACHE_DIR, else $XDG_CACHE_HOME/kobai, else ~/.cache/kobai.
  static kernel_cache& instance();

  explicit kernel_cache(std::filesystem::path directory) : directory_(std::move(directory)) {}

  [[nodiscard]] const std::filesystem::path& directory() const { return directory_; }

  /// The binary for (source, arch), compiling with `compile(source, arch)` only on a miss.
  template <class Compile>
  binary get(const std::string& source, int arch, int compiler_version, const Compile& compile,
             cache_outcome* outcome = nullptr) {
    const std::string key = make_key(source, arch, compiler_version);
    {
      std::lock_guard lock(mutex_);
      if (auto found = memory_.find(key); found != memory_.end()) {
        if (outcome) *outcome = cache_outcome::memory;
        return found->second;
      }
    }
    binary result;
    if (read(key, result)) {
      if (outcome) *outcome = cache_outcome::disk;
    } else {
      result = compile(source, arch);
      write(key, result);
      if (outcome) *outcome = cache_outcome::compiled;
    }
    std::lock_guard lock(mutex_);
    return memory_.emplace(key, std::move(result)).first->second;
  }

  /// Compiles with NVRTC through the cache.
  binary get(const std::string& source, int arch, cache_outcome* outcome = nullptr);

  /// The file an entry lives in.
  [[nodiscard]] std::filesystem::path path_of(const std::string& source, int arch, int compiler_version) const;

 private:
  static std::filesystem::path default_directory();
  // Everything that decides the binary; stored whole in the file, so a hash collision is a miss.
  static std::string make_key(const std::string& source, int arch, int compiler_version);
  static std::uint64_t fnv1a(std::string_view bytes);
  static std::string hex(std::uint64_t value);
  // File: magic, format version, key size and key, cubin flag, payload size, payload checksum, payload.
  bool read(const std::string& key, binary& result) const;
  void write(const std::string& key, const binary& entry) const;

  std::filesystem::path directory_;
  std::mutex mutex_;
  std::unordered_map<std::string, binary> memory_;
};

}  // namespace kobai::runtime
