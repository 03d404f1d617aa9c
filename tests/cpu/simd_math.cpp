// The CPU's own SIMD functions (cpu/simd_math.hpp), tanh and softplus, against libm in float64:
// their error in ulp over a sweep of the floats, the special values, and a program that applies
// them, with its gradient.
// Also built for AVX2 with FMA, where this machine runs it (tests/CMakeLists.txt).
#include <doctest/doctest.h>

#include <algorithm>
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

/// f of each value, a batch at a time.
template <class F>
std::vector<float> on_batches(F f, const std::vector<float>& in) {
  std::vector<float> out(in.size());
  for (std::size_t i = 0; i < in.size(); i += batch::size) f(batch::load_unaligned(&in[i])).store_unaligned(&out[i]);
  return out;
}
std::vector<float> simd_tanh(const std::vector<float>& in) {
  return on_batches([](const batch& x) { return cpu::simd_math::tanh(x); }, in);
}
std::vector<float> simd_softplus(const std::vector<float>& in) {
  return on_batches([](const batch& x) { return cpu::simd_math::softplus(x); }, in);
}

/// Every 61st float of each sign up to `last` (18 million up to 12), padded to whole batches;
/// unoptimised (CI's Clang build at -O0, where the sweeps took a minute), every 1021st.
#ifdef __OPTIMIZE__
constexpr std::uint32_t every = 61;
#else
constexpr std::uint32_t every = 1021;
#endif
std::vector<float> sweep(float last) {
  std::vector<float> in;
  for (std::uint32_t bits = 0; bits <= std::bit_cast<std::uint32_t>(last); bits += every)
    for (float sign : {1.f, -1.f}) in.push_back(sign * std::bit_cast<float>(bits));
  while (in.size() % batch::size != 0) in.push_back(0.5f);
  return in;
}

/// The largest distance in ulp of out from reference(in) rounded to float, over the elements
/// whose reference is a normal float or 0; the worst element's input goes to the log.
template <class Reference>
std::int64_t worst_ulp(const std::vector<float>& in, const std::vector<float>& out, Reference reference) {
  std::int64_t worst = 0;
  float worst_at = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const double want = reference(static_cast<double>(in[i]));
    if (want != 0 && std::abs(want) < std::numeric_limits<float>::min()) continue;
    if (const std::int64_t d = ulp_distance(out[i], static_cast<float>(want)); d > worst) {
      worst = d;
      worst_at = in[i];
    }
  }
  MESSAGE("the worst error is " << worst << " ulp, at " << worst_at);
  return worst;
}

double softplus_reference(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }

constexpr auto x = input<"x", 1>;
constexpr auto w = var<"w", 1>;

/// A float64 reference and the tolerance of float32 results: in ulp for values, relative to
/// 1 + |x| for gradients (double results: 1e-15).
template <class Tolerance>
struct reference {
  double (*f)(double);
  Tolerance tolerance;
};

/// A program computing f(w·x), Σ f(w·x) and its gradient by w, called on normal data of the spread
/// given with 1003 elements (SIMD batches and a tail), then with new data of 37: against f and
/// its derivative in float64. Where f is below the normal floats, a float result must be too (e^−|x|
/// underflows to 0 in xsimd's exp).
template <class T, class Program>
void check_program(const Program& program, reference<std::int64_t> value_of, reference<double> slope_of, double spread,
                   unsigned seed) {
  constexpr bool single = std::is_same_v<T, float>;
  std::mt19937 generator(seed);
  for (std::size_t n : {std::size_t{1003}, std::size_t{37}}) {
    std::normal_distribution<double> normal(0.0, n == 1003 ? spread : 0.5);
    auto X = xt::xtensor<T, 1>::from_shape({n}), W = X;
    for (T& v : X) v = static_cast<T>(normal(generator));
    for (T& v : W) v = static_cast<T>(normal(generator));
    const auto [values, total, dw] = program(x = X, w = W);
    double want_total = 0, magnitude = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto product = static_cast<double>(static_cast<T>(W(i) * X(i)));
      const double want = value_of.f(product), xi = static_cast<double>(X(i));
      want_total += want;
      magnitude += std::abs(want);
      if constexpr (!single)
        CHECK(values(i) == doctest::Approx(want).epsilon(1e-15));
      else if (want != 0 && std::abs(want) < std::numeric_limits<float>::min())
        CHECK(std::abs(values(i)) < std::numeric_limits<float>::min());
      else
        CHECK(ulp_distance(values(i), static_cast<float>(want)) <= value_of.tolerance);
      CHECK(std::abs(dw(i) - slope_of.f(product) * xi) <= (single ? slope_of.tolerance : 1e-15) * (1 + std::abs(xi)));
    }
    CHECK(std::abs(total - want_total) <= (single ? 4e-7 : 1e-15) * std::max(1.0, magnitude));
  }
}

}  // namespace

TEST_CASE(
    "simd_math::tanh is within 2 ulp of libm's float64 tanh rounded to float, over a sweep of the floats up to 12") {
  // from the subnormals to past 9, where tanh rounds to 1
  const std::vector<float> in = sweep(12.f), out = simd_tanh(in);
  CHECK(worst_ulp(in, out, [](double x) { return std::tanh(x); }) <= 2);
  std::size_t above_one = 0, wrong_sign = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    above_one += std::abs(out[i]) > 1.f;
    wrong_sign += std::signbit(out[i]) != std::signbit(in[i]);
  }
  CHECK(above_one == 0);
  CHECK(wrong_sign == 0);
}

TEST_CASE(
    "simd_math::tanh of the special values: NaN, the infinities, signed zeros, subnormals and the largest float") {
  constexpr float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  constexpr float tiny = std::numeric_limits<float>::denorm_min(), big = std::numeric_limits<float>::max();
  std::vector<float> in{nan,    -nan,    inf, -inf, 0.f, -0.f, tiny, -tiny,
                        1e-30f, -1e-30f, big, -big, 9.f, -9.f, 20.f, -20.f};
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

TEST_CASE(
    "simd_math::softplus is within 3 ulp of ln(1 + eˣ) in float64 rounded to float, over a sweep of the floats up to "
    "200") {
  // past 88, where e^−|x| underflows; the results below the normal floats are left out (exp gives 0
  // there, as xsimd's does, where the reference is subnormal)
  const std::vector<float> in = sweep(200.f);
  CHECK(worst_ulp(in, simd_softplus(in), softplus_reference) <= 3);
}

TEST_CASE("simd_math::softplus of the special values: ln 2 at ±0, the infinities, NaN, the largest float") {
  constexpr float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  constexpr float big = std::numeric_limits<float>::max();
  const std::vector<float> out = simd_softplus({0.f, -0.f, inf, -inf, nan, big, -big, -200.f});
  CHECK(out[0] == static_cast<float>(std::log(2.0)));
  CHECK(out[1] == static_cast<float>(std::log(2.0)));
  CHECK(out[2] == inf);
  CHECK(out[3] == 0.f);
  CHECK(std::isnan(out[4]));
  CHECK(out[5] == big);
  CHECK(out[6] == 0.f);
  CHECK(out[7] == 0.f);
}

TEST_CASE_TEMPLATE("a program's tanh and its gradient, in SIMD batches and the tail, against libm, twice", T, float,
                   double) {
  constexpr auto loss = sum(tanh(w * x));
  // (1 − t² from a t within 2 ulp of tanh near 1 is within 6e-7)
  check_program<T>(compile(tanh(w * x), loss, grad(loss, w)), {[](double v) { return std::tanh(v); }, 2},
                   {[](double v) { return 1 - std::tanh(v) * std::tanh(v); }, 1e-6}, 3.0, 17);
}

TEST_CASE_TEMPLATE("a program's softplus and its gradient, in SIMD batches and the tail, against libm, twice", T, float,
                   double) {
  constexpr auto loss = sum(softplus(w * x));
  check_program<T>(compile(softplus(w * x), loss, grad(loss, w)), {softplus_reference, 3},
                   {[](double v) { return 1 / (1 + std::exp(-v)); }, 3e-7}, 6.0, 29);
}
