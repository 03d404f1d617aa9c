// The kernel cache: hits and misses in memory and on disk, corrupt and unwritable entries,
// concurrent writers, and the real NVRTC through it.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../codegen/programs.hpp"
#include "kobai/runtime/kernel_cache.hpp"

namespace fs = std::filesystem;
using kobai::runtime::binary;
using kobai::runtime::cache_outcome;
using kobai::runtime::kernel_cache;

namespace {

struct scratch_directory {
  fs::path path = fs::temp_directory_path() / ("kobai-cache-test-" + std::to_string(std::random_device{}()));
  scratch_directory() { fs::remove_all(path); }
  ~scratch_directory() { fs::remove_all(path); }
};

// Stands in for NVRTC: a binary that depends on its inputs, and a count of compilations.
struct fake_compiler {
  std::atomic<int>* calls;
  binary operator()(const std::string& source, int arch) const {
    ++*calls;
    const std::string image = "IMAGE sm_" + std::to_string(arch) + " " + source;
    return {std::vector<char>(image.begin(), image.end()), true};
  }
};

const std::string source = "extern \"C\" __global__ void k() {}";

}  // namespace

TEST_CASE("a miss compiles, then memory hits, and a new process finds it on disk") {
  scratch_directory scratch;
  std::atomic<int> calls{0};
  cache_outcome outcome{};
  kernel_cache first(scratch.path);
  const auto compiled = first.get(source, 90, 13000, fake_compiler{&calls}, &outcome);
  CHECK(outcome == cache_outcome::compiled);
  first.get(source, 90, 13000, fake_compiler{&calls}, &outcome);
  CHECK(outcome == cache_outcome::memory);
  CHECK(calls == 1);
  kernel_cache second(scratch.path);  // as a new process would
  const auto loaded = second.get(source, 90, 13000, fake_compiler{&calls}, &outcome);
  CHECK(outcome == cache_outcome::disk);
  CHECK(calls == 1);
  CHECK(loaded.image == compiled.image);
  CHECK(loaded.is_cubin);
}

TEST_CASE("the key covers the architecture, the compiler version and the source") {
  scratch_directory scratch;
  std::atomic<int> calls{0};
  kernel_cache cache(scratch.path);
  cache.get(source, 90, 13000, fake_compiler{&calls});
  cache.get(source, 80, 13000, fake_compiler{&calls});
  cache.get(source, 90, 12080, fake_compiler{&calls});
  cache.get(source + " ", 90, 13000, fake_compiler{&calls});
  CHECK(calls == 4);
}

TEST_CASE("a corrupt or truncated file is ignored and rewritten") {
  scratch_directory scratch;
  std::atomic<int> calls{0};
  kernel_cache(scratch.path).get(source, 90, 13000, fake_compiler{&calls});
  const auto path = kernel_cache(scratch.path).path_of(source, 90, 13000);
  REQUIRE(fs::exists(path));
  {  // flip the last byte of the payload
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(-1, std::ios::end);
    char last = 0;
    file.get(last);
    file.seekp(-1, std::ios::end);
    file.put(static_cast<char>(last ^ 0x5a));
  }
  cache_outcome outcome{};
  kernel_cache(scratch.path).get(source, 90, 13000, fake_compiler{&calls}, &outcome);
  CHECK(outcome == cache_outcome::compiled);
  kernel_cache(scratch.path).get(source, 90, 13000, fake_compiler{&calls}, &outcome);
  CHECK(outcome == cache_outcome::disk);  // the rewrite is good
  fs::resize_file(path, 10);
  kernel_cache(scratch.path).get(source, 90, 13000, fake_compiler{&calls}, &outcome);
  CHECK(outcome == cache_outcome::compiled);
  CHECK(calls == 3);
}

TEST_CASE("an unwritable cache directory never fails a run") {
  scratch_directory scratch;
  fs::create_directories(scratch.path);
  std::ofstream(scratch.path / "a-file") << "not a directory";
  std::atomic<int> calls{0};
  cache_outcome outcome{};
  kernel_cache cache(scratch.path / "a-file" / "cache");
  const auto result = cache.get(source, 90, 13000, fake_compiler{&calls}, &outcome);
  CHECK(outcome == cache_outcome::compiled);
  CHECK(!result.image.empty());
  kernel_cache(scratch.path / "a-file" / "cache").get(source, 90, 13000, fake_compiler{&calls}, &outcome);
  CHECK(outcome == cache_outcome::compiled);  // nothing persisted, nothing thrown
}

TEST_CASE("concurrent writers of one entry leave one valid file and no temporaries") {
  scratch_directory scratch;
  std::atomic<int> calls{0};
  std::vector<std::thread> writers;
  std::vector<binary> results(8);
  for (std::size_t i = 0; i < results.size(); ++i)
    writers.emplace_back(
        [&, i] { results[i] = kernel_cache(scratch.path).get(source, 90, 13000, fake_compiler{&calls}); });
  for (auto& writer : writers) writer.join();
  for (const auto& result : results) CHECK(result.image == results[0].image);
  cache_outcome outcome{};
  kernel_cache(scratch.path).get(source, 90, 13000, fake_compiler{&calls}, &outcome);
  CHECK(outcome == cache_outcome::disk);
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(scratch.path)) {
    ++files;
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
  }
  CHECK(files == 1);
}

TEST_CASE("NVRTC through the cache: first compile, disk hit, in-process hit") {
  if (!kobai::runtime::nvrtc::instance().available()) {
    MESSAGE("skipped: " << kobai::runtime::nvrtc::instance().why());
    return;
  }
  using namespace test_programs;
  scratch_directory scratch;
  const auto [dw, db] = grad(mse_loss, w, b);
  const auto program = kobai::codegen::render<float>(mse_loss, dw, db);
  using clock = std::chrono::steady_clock;
  auto timed = [&](kernel_cache& cache, cache_outcome expected) {
    cache_outcome outcome{};
    const auto start = clock::now();
    const auto result = cache.get(program.source, 90, &outcome);
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();
    CHECK(outcome == expected);
    CHECK(result.is_cubin);
    return seconds;
  };
  kernel_cache first(scratch.path), second(scratch.path);
  const double compile = timed(first, cache_outcome::compiled);
  const double memory = timed(first, cache_outcome::memory);
  const double disk = timed(second, cache_outcome::disk);
  MESSAGE("linear-regression step for sm_90: NVRTC compile " << compile * 1e3 << " ms, disk hit " << disk * 1e3
                                                             << " ms, in-process hit " << memory * 1e6 << " us");
  CHECK(disk < compile);
}
