// The GPU executor and its generated kernels, run by the host emulator (the same source compiled
// as C++, several blocks, one thread each) and compared with the CPU executor on random inputs
// away from zero: every kind of loop nest, buffer, view and output the planner makes. With
// KOBAI_TEST_DEVICE=cuda (scripts/gpu-test) the same tests run on the GPU instead. Every program
// here is also compiled by NVRTC to CUBIN for sm_80 and sm_90.
// (The helpers shared by tests/runtime/executor_*.cpp, split so that each translation unit compiles quickly.)
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string_view>
#include <tuple>

#include "kobai/device_program.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {

// Uniform magnitudes in [0.5, 1.5] with random signs: never zero.
template <class T, std::size_t R>
xt::xtensor<T, R> random_tensor(const std::array<std::size_t, R>& shape, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> magnitude(0.5, 1.5);
  auto result = xt::xtensor<T, R>::from_shape(shape);
  for (auto& v : result) v = static_cast<T>((generator() % 2 ? 1 : -1) * magnitude(generator));
  return result;
}

// The backend under test: the emulator, or the GPU when KOBAI_TEST_DEVICE=cuda.
[[maybe_unused]] device::choice under_test() {
  const char* chosen = std::getenv("KOBAI_TEST_DEVICE");
  return chosen && std::string_view(chosen) == "cuda" ? device::cuda : device::emulated;
}

[[maybe_unused]] double relative_error(double got, double want) {
  return std::abs(got - want) / std::max(1.0, std::abs(want));
}

// Random data mapped elementwise (labels, positive weights).
template <class T, std::size_t R, class F>
xt::xtensor<T, R> mapped(xt::xtensor<T, R> tensor, F f) {
  for (auto& v : tensor) v = f(v);
  return tensor;
}

// The worst difference between an output and its reference, relative to the reference's largest magnitude (at least 1).
template <class A, class B>
double difference(const A& got, const B& want) {
  if constexpr (std::is_arithmetic_v<A>) {
    return relative_error(got, want);
  } else {
    const auto g = to_host(got), w = to_host(want);
    REQUIRE(g.shape() == w.shape());
    double worst = 0, scale = 1;
    for (std::size_t i = 0; i < g.size(); ++i) scale = std::max(scale, std::abs(double(w.data()[i])));
    for (std::size_t i = 0; i < g.size(); ++i)
      worst = std::max(worst, std::abs(double(g.data()[i]) - double(w.data()[i])) / scale);
    return worst;
  }
}

// Runs the outputs on the CPU and on the backend under test with the same bindings, twice, the
// second call with new data (`bind(program, call)` makes call 0's or call 1's bindings for a
// program, its tensors copied to its backend), and returns the worst difference of any output in
// either call.
template <class Bind, class... Outputs>
[[nodiscard]] double difference_from_cpu(const Bind& bind, Outputs... outputs) {
  const auto cpu = compile(device::cpu, outputs...);
  const auto tested = compile(under_test(), outputs...);
  REQUIRE(tested.where() == under_test());
  // Its kernels are machine code for the GPUs kobai targets (NVRTC needs no GPU).
  if (const auto& nvrtc = runtime::nvrtc::instance(); nvrtc.available())
    for (int arch : {80, 90})
      CHECK(nvrtc.compile(device_program<Outputs...>::template cuda_source<float>().source, "test", arch).is_cubin);
  double worst = 0;
  for (unsigned call : {0U, 1U}) {
    const auto want = std::apply(cpu, bind(cpu, call));
    const auto got = std::apply(tested, bind(tested, call));
    if constexpr (sizeof...(Outputs) == 1)
      worst = std::max(worst, difference(got, want));
    else
      worst = std::apply(
          [&](const auto&... g) {
            return std::apply([&](const auto&... w) { return std::max({worst, difference(g, w)...}); }, want);
          },
          got);
  }
  return worst;
}

constexpr auto x = input<"x", 1>;
constexpr auto t = input<"t", 1>;
constexpr auto w = var<"w">;
constexpr auto b = var<"b">;
constexpr auto X = input<"X", 2>;
constexpr auto y = input<"y", 1>;
constexpr auto W = var<"W", 1>;

}  // namespace
