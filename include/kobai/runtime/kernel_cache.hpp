// The kernel cache: compiled kernels kept in memory and on disk, keyed by everything that decides
// the binary (source, architecture, options, NVRTC and codegen versions). A cache never makes a
// run fail: an unreadable, corrupt or unwritable entry just means compiling again.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <unordered_map>

#include "kobai/codegen/cuda.hpp"
#include "kobai/runtime/nvrtc.hpp"

namespace kobai::runtime {

/// How a kernel was obtained: for tests, benchmarks and the curious.
enum class cache_outcome { compiled, disk, memory };

class kernel_cache {
 public:
  /// The process-wide cache in $KOBAI_CACHE_DIR, else $XDG_CACHE_HOME/kobai, else ~/.cache/kobai.
  static kernel_cache& instance() {
    static kernel_cache cache(default_directory());
    return cache;
  }

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
  binary get(const std::string& source, int arch, cache_outcome* outcome = nullptr) {
    const auto& compiler = nvrtc::instance();
    return get(
        source, arch, compiler.version(),
        [&](const std::string& text, int target) { return compiler.compile(text, "kobai", target); }, outcome);
  }

  /// The file an entry lives in.
  [[nodiscard]] std::filesystem::path path_of(const std::string& source, int arch, int compiler_version) const {
    return directory_ / (hex(fnv1a(make_key(source, arch, compiler_version))) + ".kobai");
  }

 private:
  static constexpr std::string_view magic = "KOBAI-KERNEL\n";
  static constexpr std::uint32_t format_version = 1;

  static std::filesystem::path default_directory() {
    if (const char* chosen = std::getenv("KOBAI_CACHE_DIR"); chosen && *chosen) return chosen;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "kobai";
    if (const char* home = std::getenv("HOME"); home && *home) return std::filesystem::path(home) / ".cache" / "kobai";
    return std::filesystem::temp_directory_path() / "kobai-cache";
  }

  // Everything that decides the binary; stored whole in the file, so a hash collision is a miss.
  static std::string make_key(const std::string& source, int arch, int compiler_version) {
    return detail::join("arch=sm_", std::to_string(arch),
                        ";options=--std=c++17;nvrtc=", std::to_string(compiler_version),
                        ";codegen=", std::to_string(codegen::version), ";source=", source);
  }

  static std::uint64_t fnv1a(std::string_view bytes) {
    std::uint64_t hash = 14695981039346656037ULL;
    for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ULL;
    return hash;
  }
  static std::string hex(std::uint64_t value) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text(16, '0');
    for (int i = 15; i >= 0; --i, value >>= 4) text[static_cast<std::size_t>(i)] = digits[value & 15];
    return text;
  }

  // File: magic, format version, key size and key, cubin flag, payload size, payload checksum, payload.
  bool read(const std::string& key, binary& result) const {
    std::ifstream file(directory_ / (hex(fnv1a(key)) + ".kobai"), std::ios::binary);
    if (!file) return false;
    const std::string content((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::size_t at = 0;
    auto take = [&](std::size_t size) -> std::string_view {
      if (content.size() - at < size) return {};
      const std::string_view part(content.data() + at, size);
      at += size;
      return part;
    };
    auto take_number = [&](auto& number) {
      const auto part = take(sizeof number);
      if (part.size() != sizeof number) return false;
      std::memcpy(&number, part.data(), sizeof number);
      return true;
    };
    std::uint32_t version = 0;
    std::uint64_t key_size = 0, payload_size = 0, checksum = 0;
    std::uint8_t cubin = 0;
    if (take(magic.size()) != magic || !take_number(version) || version != format_version) return false;
    if (!take_number(key_size) || take(key_size) != key) return false;
    if (!take_number(cubin) || !take_number(payload_size) || !take_number(checksum)) return false;
    const auto payload = take(payload_size);
    if (payload.size() != payload_size || payload_size == 0 || at != content.size() || fnv1a(payload) != checksum)
      return false;
    result.image.assign(payload.begin(), payload.end());
    result.is_cubin = cubin != 0;
    return true;
  }

  void write(const std::string& key, const binary& entry) const {
    std::error_code ignored;
    std::filesystem::create_directories(directory_, ignored);
    const auto final_path = directory_ / (hex(fnv1a(key)) + ".kobai");
    static std::atomic<unsigned> counter{0};
    const auto temporary = directory_ / detail::join(final_path.filename().string(), ".tmp.",
                                                     std::to_string(::getpid()), ".", std::to_string(counter++));
    {
      std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
      if (!file) return;  // unwritable: keep going without a disk entry
      const std::string_view payload(entry.image.data(), entry.image.size());
      const std::uint32_t version = format_version;
      const std::uint64_t key_size = key.size(), payload_size = payload.size(), checksum = fnv1a(payload);
      const std::uint8_t cubin = entry.is_cubin ? 1 : 0;
      auto put = [&](const auto& number) { file.write(reinterpret_cast<const char*>(&number), sizeof number); };
      file.write(magic.data(), static_cast<std::streamsize>(magic.size()));
      put(version);
      put(key_size);
      file.write(key.data(), static_cast<std::streamsize>(key.size()));
      put(cubin);
      put(payload_size);
      put(checksum);
      file.write(payload.data(), static_cast<std::streamsize>(payload.size()));
      if (!file) {
        file.close();
        std::filesystem::remove(temporary, ignored);
        return;
      }
    }
    std::filesystem::rename(temporary, final_path, ignored);  // atomic: readers see old or new, never half
    if (ignored) std::filesystem::remove(temporary, ignored);
  }

  std::filesystem::path directory_;
  std::mutex mutex_;
  std::unordered_map<std::string, binary> memory_;
};

}  // namespace kobai::runtime
