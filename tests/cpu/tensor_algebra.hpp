// Tensor algebra on the CPU executor: broadcasting between shapes, reductions along axes, matmul,
// transpose and the losses built from them. Values are checked against hand-written loops, and
// gradients against float64 central differences (gradcheck).
// (The helpers shared by tests/cpu/tensor_*.cpp, split so that each translation unit compiles quickly.)
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/functional.hpp"
#include "kobai/cpu/gradcheck.hpp"
#include "kobai/ir/plan.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto A = var<"A", 2>;  // (3, 4)
constexpr auto B = var<"B", 2>;  // (4, 5)
constexpr auto u = var<"u", 1>;  // (4)
constexpr auto r = var<"r", 1>;  // (3)
constexpr auto Y = input<"Y", 2>;

// Deterministic, non-zero, non-symmetric values.
template <std::size_t Rank>
xt::xtensor<double, Rank> filled(std::array<std::size_t, Rank> shape, double seed) {
  auto t = xt::xtensor<double, Rank>::from_shape(shape);
  for (std::size_t i = 0; i < t.size(); ++i)
    t.data()[i] = std::sin(seed + 1.7 * static_cast<double>(i)) + 0.1 * static_cast<double>(i % 3);
  return t;
}
const auto Av = filled<2>({3, 4}, 0.3);
const auto Bv = filled<2>({4, 5}, 1.1);
const auto uv = filled<1>({4}, 2.3);
const auto rv = filled<1>({3}, -0.7);

[[maybe_unused]] void check_close(double actual, double expected) {
  CHECK(actual == doctest::Approx(expected).epsilon(1e-12));
}
}  // namespace
