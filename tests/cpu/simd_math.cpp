// The CPU's own SIMD functions (cpu/simd_math.hpp) against libm in float64: their error in ulp over
// a sweep of the floats, the special values, and a program that applies them, with its gradient.
// Also built for AVX2 with FMA, where this machine runs it (tests/CMakeLists.txt).
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/cpu/simd_math.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;

namespace {

using batch = xsimd::batch<float>;

/// The distance in ulp between two finite floats (of either sign), as integers on a line.
std::int64_t ulp_distance(float a, float b) {
  auto line = [](float f) {
    const auto bits = std::bit_cast<std::int32_t>(f);
    return bits < 0 ? -static_cast<std::int64_t>(bits & 0x7fffffff) : static_cast<std::int64_t>(bits);
  };
  return std::abs(line(a) - line(b));
}

/// simd_math::tanh of each value, a batch at a time.
std::vector<float> simd_tanh(const std::vector<float>& in) {
  std::vector<float> out(in.size());
  for (std::size_t i = 0; i < in.size(); i += batch::size)
    cpu::simd_math::tanh(batch::load_unaligned(&in[i])).store_unaligned(&out[i]);
  return out;
}

}  // namespace

TEST_CASE("simd_math::tanh is within 2 ulp of libm's float64 tanh rounded to float, on every 61st float up to 12") {
  // 18 million floats of each sign, from the subnormals to past 9, where tanh rounds to 1
  constexpr std::uint32_t last = 0x41400000;  // 12.0f
  std::vector<float> in;
  for (std::uint32_t bits = 0; bits <= last; bits += 61)
    for (float sign : {1.f, -1.f}) in.push_back(sign * std::bit_cast<float>(bits));
  while (in.size() % batch::size != 0) in.push_back(0.5f);
  const std::vector<float> out = simd_tanh(in);
  std::int64_t worst = 0;
  float worst_at = 0;
  std::size_t above_one = 0, wrong_sign = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const auto want = static_cast<float>(std::tanh(static_cast<double>(in[i])));
    if (const std::int64_t d = ulp_distance(out[i], want); d > worst) {
      worst = d;
      worst_at = in[i];
    }
    above_one += std::abs(out[i]) > 1.f;
    wrong_sign += std::signbit(out[i]) != std::signbit(in[i]);
  }
  INFO("the worst error is at " << worst_at);
  CHECK(worst <= 2);
  CHECK(above_one == 0);
  CHECK(wrong_sign == 0);
}

TEST_CASE("simd_math::tanh of the special values: NaN, the infinities, signed zeros, subnormals and the largest float") {
  constexpr float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  constexpr float tiny = std::numeric_limits<float>::denorm_min(), big = std::numeric_limits<float>::max();
  std::vector<float> in{nan, -nan, inf, -inf, 0.f, -0.f, tiny, -tiny, 1e-30f, -1e-30f, big, -big, 9.f, -9.f, 20.f, -20.f};
  const std::vector<float> out = simd_tanh(in);
  CHECK(std::isnan(out[0]));
  CHECK(std::isnan(out[1]));
  CHECK(out[2] == 1.f);
  CHECK(out[3] == -1.f);
  CHECK((out[4] == 0.f && !std::signbit(out[4])));
  CHECK((out[5] == 0.f && std::signbit(out[5])));
  CHECK(out[6] == tiny);
  CHECK(out[7] == -tiny);
  CHECK(out[8] == 1e-30f);
  CHECK(out[9] == -1e-30f);
  CHECK(out[10] == 1.f);
  CHECK(out[11] == -1.f);
  for (std::size_t i = 12; i < in.size(); ++i) CHECK(ulp_distance(out[i], std::tanh(in[i])) <= 1);
}

TEST_CASE_TEMPLATE("a program's tanh and its gradient, in SIMD batches and the tail, against libm, twice", T, float,
                   double) {
  constexpr auto x = input<"x", 1>;
  constexpr auto w = var<"w", 1>;
  constexpr auto loss = sum(tanh(w * x));
  const auto program = compile(tanh(w * x), loss, grad(loss, w));
  std::mt19937 generator(17);
  for (std::size_t n : {std::size_t{1003}, std::size_t{37}}) {  // the second call has new data and a new size
    std::normal_distribution<double> normal(0.0, n == 1003 ? 3.0 : 0.5);
    auto X = xt::xtensor<T, 1>::from_shape({n}), W = X;
    for (T& v : X) v = static_cast<T>(normal(generator));
    for (T& v : W) v = static_cast<T>(normal(generator));
    const auto [t, value, dw] = program(x = X, w = W);
    double want_value = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto product = static_cast<double>(static_cast<T>(W(i) * X(i)));
      const double want = std::tanh(product);
      want_value += want;
      if constexpr (std::is_same_v<T, float>)
        CHECK(ulp_distance(t(i), static_cast<float>(want)) <= 2);
      else
        CHECK(t(i) == doctest::Approx(want).epsilon(1e-15));
      // ∂/∂w tanh(w·x) = (1 − tanh²)·x; 1 − t² from a t within 2 ulp of tanh near 1 is within 6e-7
      CHECK(std::abs(dw(i) - (1 - want * want) * static_cast<double>(X(i))) <=
            (std::is_same_v<T, float> ? 1e-6 : 1e-15) * (1 + std::abs(static_cast<double>(X(i)))));
    }
    CHECK(std::abs(value - want_value) <= (std::is_same_v<T, float> ? 2e-7 : 1e-15) * static_cast<double>(n));
  }
}
