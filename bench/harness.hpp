// A small timing harness: interleaved repetitions, medians, ratios taken within one run.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace bench {

/// Median seconds of `repetitions` timed calls of each function, interleaved so drift on a shared
/// machine hits both alike; one untimed warm-up call each.
template <class A, class B>
std::pair<double, double> median_seconds(A&& a, B&& b, int repetitions) {
  using clock = std::chrono::steady_clock;
  a();
  b();
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

/// Keeps a value alive so the optimiser cannot drop the work that made it.
template <class T>
void keep(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

}  // namespace bench
