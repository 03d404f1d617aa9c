// The kernel cache: the process-wide cache, its keys and its files.
#include "kobai/runtime/kernel_cache.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

namespace kobai::runtime {

namespace {
constexpr std::string_view magic = "KOBAI-KERNEL\n";
constexpr std::uint32_t format_version = 1;
}  // namespace

kernel_cache& kernel_cache::instance() {
  static kernel_cache cache(default_directory());
  return cache;
}

binary kernel_cache::get(const std::string& source, int arch, cache_outcome* outcome) {
  const auto& compiler = nvrtc::instance();
  return get(
      source, arch, compiler.version(),
      [&](const std::string& text, int target) { return compiler.compile(text, "kobai", target); }, outcome);
}

std::filesystem::path kernel_cache::path_of(const std::string& source, int arch, int compiler_version) const {
  return directory_ / (hex(fnv1a(make_key(source, arch, compiler_version))) + ".kobai");
}

std::filesystem::path kernel_cache::default_directory() {
  if (const char* chosen = std::getenv("KOBAI_CACHE_DIR"); chosen && *chosen) return chosen;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "kobai";
  if (const char* home = std::getenv("HOME"); home && *home) return std::filesystem::path(home) / ".cache" / "kobai";
  return std::filesystem::temp_directory_path() / "kobai-cache";
}

std::string kernel_cache::make_key(const std::string& source, int arch, int compiler_version) {
  std::string options;
  for (const char* option : nvrtc::options) options = detail::join(options, " ", option);
  return detail::join("arch=sm_", std::to_string(arch), ";options=", options,
                      ";nvrtc=", std::to_string(compiler_version), ";codegen=", std::to_string(codegen::version),
                      ";source=", source);
}

std::uint64_t kernel_cache::fnv1a(std::string_view bytes) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ULL;
  return hash;
}

std::string kernel_cache::hex(std::uint64_t value) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) text[static_cast<std::size_t>(i)] = digits[value & 15];
  return text;
}

bool kernel_cache::read(const std::string& key, binary& result) const {
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

void kernel_cache::write(const std::string& key, const binary& entry) const {
  std::error_code ignored;
  std::filesystem::create_directories(directory_, ignored);
  const auto final_path = directory_ / (hex(fnv1a(key)) + ".kobai");
  static std::atomic<unsigned> counter{0};
  const auto temporary = directory_ / detail::join(final_path.filename().string(), ".tmp.", std::to_string(::getpid()),
                                                   ".", std::to_string(counter++));
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

}  // namespace kobai::runtime
