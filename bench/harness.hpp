// A small timing harness: interleaved repetitions, medians, ratios taken within one run.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>
#include "kobai/core/simd.hpp"

namespace bench {

/// The process's peak resident memory so far, in KiB; the growth across a stretch of steps is the
/// extra memory they needed beyond what was already allocated (the inputs).
inline long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

/// Median seconds of `repetitions` timed calls of each function, interleaved so drift on a shared
/// machine hits both alike; one untimed warm-up call each.
/// The growth of the process's peak RSS (KiB) during the warm-up call of each function in the last
/// median_seconds: the extra memory each needed beyond what was already allocated (the inputs, and
/// for the second whatever the first had reached).
inline std::pair<long, long> last_extra_kib;

template <class A, class B>
std::pair<double, double> median_seconds(A&& a, B&& b, int repetitions) {
  using clock = std::chrono::steady_clock;
  const long before = peak_rss_kib();
  a();
  const long after_a = peak_rss_kib();
  b();
  last_extra_kib = {after_a - before, peak_rss_kib() - after_a};
  std::vector<double> times_a, times_b;
  for (int r = 0; r < repetitions; ++r) {
    auto start = clock::now();
    a();
    times_a.push_back(std::chrono::duration<double>(clock::now() - start).count());
    start = clock::now();
    b();
    times_b.push_back(std::chrono::duration<double>(clock::now() - start).count());
  }
  auto median = [](std::vector<double>& v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  return {median(times_a), median(times_b)};
}

/// With `--out DIR`, a benchmark records its inputs (raw float32 files the Python peers read) and
/// its results (one JSON object per line in DIR/kobai.jsonl) so bench/report can merge the peers.
class recorder {
 public:
  recorder(int argc, char** argv) {
    for (int i = 1; i + 1 < argc; ++i)
      if (std::string(argv[i]) == "--out") directory_ = argv[i + 1];
  }
  [[nodiscard]] bool enabled() const { return !directory_.empty(); }
  void dump(const std::string& name, const float* data, std::size_t size) const {
    if (!enabled()) return;
    std::ofstream(directory_ + "/" + name + ".f32", std::ios::binary)
        .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size * sizeof(float)));
  }
  void record(const std::string& json_object) const {
    if (enabled()) std::ofstream(directory_ + "/kobai.jsonl", std::ios::app) << json_object << "\n";
  }

 private:
  std::string directory_;
};

/// Records the extra peak memory each peer's step needed, for bench/report's memory table.
inline void record_memory(const recorder& to, const std::string& workload, long kobai_kib, long libtorch_kib) {
  to.record("{\"workload\": \"" + workload + "\", \"extra_rss_kib\": {\"kobai\": " + std::to_string(kobai_kib) +
            ", \"libtorch\": " + std::to_string(libtorch_kib) + "}}");
}

/// Keeps a value alive so the optimiser cannot drop the work that made it.
template <class T>
void keep(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

/// Median seconds of `repetitions` timed calls of f, after one untimed warm-up call.
template <class F>
double median_of(F&& f, int repetitions) {
  using clock = std::chrono::steady_clock;
  f();
  std::vector<double> times;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = clock::now();
    f();
    times.push_back(std::chrono::duration<double>(clock::now() - start).count());
  }
  std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2), times.end());
  return times[times.size() / 2];
}

/// The floor for contraction-bound work: GFLOP/s of a register-tiled loop of fused multiply-adds
/// on one thread (12 independent accumulators of xsimd's widest float batch for the target, on
/// registers), compiled with the benchmark's flags. Median of 11 runs of 2^20 steps.
inline double fma_floor_gflops() {
  using V = xsimd::batch<float>;
  constexpr int accumulators = 12, steps = 1 << 20;
  std::array<V, accumulators> acc;
  acc.fill(V(0.0f));
  V x(1.0f + 1e-7f), y(1.0f - 1e-7f);
  const double seconds = median_of(
      [&] {
        for (int s = 0; s < steps; ++s)
          for (auto& a : acc) a = xsimd::fma(a, y, x);
      },
      11);
  keep(acc);
  return 2.0 * V::size * accumulators * steps / seconds * 1e-9;
}

inline std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

}  // namespace bench
