// kobai::trace on classic test functions, each written once as template <class T> T f(T...) and
// called both with double and through trace: the traced value against the double call, the
// gradient and the Hessian against central finite differences of the double call in float64 at
// twelve points, exact derivatives as static_asserts, and the traced type against the same formula
// written by hand.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "classic_functions.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;

struct rosenbrock_fn {
  template <class T>
  constexpr T operator()(T a, T b) const {
    return functions::rosenbrock(a, b);
  }
};
constexpr auto rosenbrock = trace(rosenbrock_fn{}, x, y);
constexpr auto beale = trace([](auto a, auto b) { return functions::beale(a, b); }, x, y);
constexpr auto himmelblau = trace([](auto a, auto b) { return functions::himmelblau(a, b); }, x, y);
constexpr auto booth = trace([](auto a, auto b) { return functions::booth(a, b); }, x, y);
constexpr auto ackley = trace([](auto a, auto b) { return functions::ackley(a, b); }, x, y);
constexpr auto horner = trace([](auto a) { return functions::horner(a); }, x);
constexpr auto log_likelihood = trace([](auto w, auto b) { return functions::log_likelihood(w, b); }, x, y);

// The example, exactly.
static_assert(same(rosenbrock, (1_c - x) * (1_c - x) + 100_c * (y - x * x) * (y - x * x)));
static_assert(eval(grad(rosenbrock, x), at(x = 1.0, y = 1.0)) == 0.0);
// Exact derivatives: at the minimum (1, 1) the gradient is 0 and the Hessian [[802, −400], [−400, 200]].
static_assert(eval(grad(rosenbrock, y), at(x = 1.0, y = 1.0)) == 0.0);
static_assert(eval(grad(grad(rosenbrock, x), x), at(x = 1.0, y = 1.0)) == 802.0);
static_assert(eval(grad(grad(rosenbrock, x), y), at(x = 1.0, y = 1.0)) == -400.0);
static_assert(eval(grad(grad(rosenbrock, y), y), at(x = 1.0, y = 1.0)) == 200.0);

// 1.5, 2.25 and 2.625 are exact in binary, so they are the constants 3/2, 9/4 and 21/8, and the
// traced Beale function is the hand-written one; its minimum (3, ½) is exact.
static_assert(same(beale,
                   pow<2>(1.5_c - x + x * y) + pow<2>(2.25_c - x + x * y * y) + pow<2>(2.625_c - x + x * y * y * y)));
static_assert(eval(grad(beale, x), at(x = 3.0, y = 0.5)) == 0.0);
static_assert(eval(grad(beale, y), at(x = 3.0, y = 0.5)) == 0.0);

static_assert(same(himmelblau, pow<2>(x* x + y - 11_c) + pow<2>(x + y * y - 7_c)));
static_assert(eval(himmelblau, at(x = 3.0, y = 2.0)) == 0.0);
static_assert(eval(grad(himmelblau, x), at(x = 3.0, y = 2.0)) == 0.0);
// ∂²/∂x² = 12x² + 4y − 42 and ∂²/∂x∂y = 4(x + y): 74 and 20 at (3, 2).
static_assert(eval(grad(grad(himmelblau, x), x), at(x = 3.0, y = 2.0)) == 74.0);
static_assert(eval(grad(grad(himmelblau, x), y), at(x = 3.0, y = 2.0)) == 20.0);

// A quadratic: its Hessian is the constant [[10, 8], [8, 10]], as types.
static_assert(same(booth, pow<2>(x + 2_c * y - 7_c) + pow<2>(2_c * x + y - 5_c)));
static_assert(same(grad(grad(booth, x), x), 10_c));
static_assert(same(grad(grad(booth, x), y), 8_c));
static_assert(eval(booth, at(x = 1.0, y = 3.0)) == 0.0);

// Horner's loop unrolls into the nested form: p = (((−¾x + 3)x + ½)x − 2)x + 1.
static_assert(same(horner, (((-0.75_c * x + 3_c) * x + 0.5_c) * x - 2_c) * x + 1_c));
static_assert(eval(grad(horner, x), at(x = 2.0)) == 12.0);          // −3x³ + 9x² + x − 2 at 2
static_assert(eval(grad(grad(horner, x), x), at(x = 2.0)) == 1.0);  // −9x² + 18x + 1 at 2
static_assert(same(grad(grad(grad(grad(grad(horner, x), x), x), x), x), 0_c));

// Reference values from the double call, at random points in a box.
std::vector<std::vector<double>> points(std::size_t arity, double low, double high, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> uniform(low, high);
  std::vector<std::vector<double>> result(12, std::vector<double>(arity));
  for (auto& p : result)
    for (double& v : p) v = uniform(generator);
  return result;
}

using evaluator = std::function<double(const std::vector<double>&)>;

// e at the point p, whose coordinates bind vars in order.
template <class E, class... Vars>
double value_at(E e, const std::vector<double>& p, Vars... vars) {
  return [&]<std::size_t... I>(std::index_sequence<I...>) { return eval(e, at((vars = p[I])...)); }
  (std::make_index_sequence<sizeof...(Vars)>{});
}
// ∂f/∂v for each v of vars, as evaluators.
template <class F, class... Vars>
std::vector<evaluator> gradient_of(F f, Vars... vars) {
  return {[=](const std::vector<double>& p) { return value_at(grad(f, vars), p, vars...); }...};
}
// ∂²f/∂vᵢ∂vⱼ, row by row.
template <class F, class... Vars>
std::vector<evaluator> hessian_of(F f, Vars... vars) {
  std::vector<evaluator> result;
  for (const auto& rows : {gradient_of(grad(f, vars), vars...)...})
    result.insert(result.end(), rows.begin(), rows.end());
  return result;
}

// The traced function f of the variables vars against the double function plain: the value to a
// few ulps, each partial against a central difference (step 1e-6), each second partial against
// the second central difference (step 1e-4), all of plain in float64.
template <class F, class Plain, class... Vars>
void check_against_double(F f, Plain plain, const std::vector<std::vector<double>>& where, const char* name,
                          Vars... vars) {
  constexpr std::size_t n = sizeof...(Vars);
  const evaluator call = [&](const std::vector<double>& p) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) { return plain(p[I]...); }
    (std::make_index_sequence<n>{});
  };
  const auto shifted = [&](std::vector<double> p, std::size_t i, double h, std::size_t j, double k) {
    p[i] += h;
    p[j] += k;
    return call(p);
  };
  const auto gradient = gradient_of(f, vars...);
  const auto hessian = hessian_of(f, vars...);
  for (const auto& p : where) {
    std::string at_point = std::string(name) + " at (";
    for (double v : p) at_point += std::to_string(v) + " ";
    INFO(at_point << ")");
    const double value = call(p);
    CHECK(value_at(f, p, vars...) == doctest::Approx(value).epsilon(1e-13));
    for (std::size_t i = 0; i < n; ++i) {
      const double h = 1e-6;
      const double numeric = (shifted(p, i, h, i, 0) - shifted(p, i, -h, i, 0)) / (2 * h);
      INFO("d/d" << i);
      CHECK(gradient[i](p) == doctest::Approx(numeric).epsilon(1e-6).scale(1 + std::abs(value) * 1e-3));
      for (std::size_t j = 0; j < n; ++j) {
        const double k = 1e-4;
        const double numeric2 =
            (shifted(p, i, k, j, k) - shifted(p, i, k, j, -k) - shifted(p, i, -k, j, k) + shifted(p, i, -k, j, -k)) /
            (4 * k * k);
        INFO("d2/d" << i << "d" << j);
        CHECK(hessian[i * n + j](p) == doctest::Approx(numeric2).epsilon(1e-5).scale(1 + std::abs(value) * 1e-4));
      }
    }
  }
}

double rosenbrock_double(double a, double b) { return functions::rosenbrock(a, b); }
}  // namespace

TEST_CASE("Rosenbrock: value, gradient and Hessian against the double function") {
  check_against_double(rosenbrock, rosenbrock_double, points(2, -2, 2, 1), "rosenbrock", x, y);
}

TEST_CASE("where every operation is exact, the traced value is the double call's, to the last bit") {
  // Short binary fractions: every sum, product and square is exact in double.
  for (double a : {-2.0, -1.25, -0.5, 0.0, 0.75, 1.0, 1.5, 3.0})
    for (double b : {-1.0, 0.25, 1.0, 2.5}) {
      INFO("at (" << a << ", " << b << ")");
      CHECK(eval(rosenbrock, at(x = a, y = b)) == functions::rosenbrock(a, b));
      CHECK(eval(booth, at(x = a, y = b)) == functions::booth(a, b));
      CHECK(eval(himmelblau, at(x = a, y = b)) == functions::himmelblau(a, b));
      CHECK(eval(horner, at(x = a)) == functions::horner(a));
    }
}

TEST_CASE("extended Rosenbrock over four variables, a loop over its terms") {
  constexpr auto a = var<"a">;
  constexpr auto b = var<"b">;
  constexpr auto c = var<"c">;
  constexpr auto d = var<"d">;
  constexpr auto f = trace(
      [](auto p, auto q, auto r, auto s) {
        return functions::extended_rosenbrock(std::array{p, q, r, s});
      },
      a, b, c, d);
  constexpr auto term = [](auto u, auto v) { return 100_c * (v - u * u) * (v - u * u) + (1_c - u) * (1_c - u); };
  static_assert(same(f, term(a, b) + term(b, c) + term(c, d)));
  static_assert(eval(grad(f, c), at(a = 1.0, b = 1.0, c = 1.0, d = 1.0)) == 0.0);
  check_against_double(
      f,
      [](double p, double q, double r, double s) {
        return functions::extended_rosenbrock(std::array{p, q, r, s});
      },
      points(4, -1.5, 1.5, 2), "extended rosenbrock", a, b, c, d);
}

TEST_CASE("Beale, Himmelblau and Booth against the double functions") {
  check_against_double(
      beale, [](double a, double b) { return functions::beale(a, b); }, points(2, -3, 3, 3), "beale", x, y);
  check_against_double(
      himmelblau, [](double a, double b) { return functions::himmelblau(a, b); }, points(2, -4, 4, 4), "himmelblau", x,
      y);
  check_against_double(
      booth, [](double a, double b) { return functions::booth(a, b); }, points(2, -5, 5, 5), "booth", x, y);
}

TEST_CASE("Ackley: exp, cos, sqrt and the constants 0.2, 2 pi and e") {
  // Away from the origin, where sqrt(x² + y²) has no derivative.
  auto where = points(2, 0.2, 2, 6);
  for (auto& p : points(2, -2, -0.2, 7)) where.push_back(p);
  check_against_double(
      ackley, [](double a, double b) { return functions::ackley(a, b); }, where, "ackley", x, y);
  // The double 0.2 is its exact binary value, not 1/5.
  CHECK(eval(ackley, at(x = 0.0, y = 0.0)) == doctest::Approx(functions::ackley(0.0, 0.0)).epsilon(1e-15));
}

TEST_CASE("Horner's rule over a coefficient array") {
  check_against_double(
      horner, [](double a) { return functions::horner(a); }, points(1, -2, 2, 8), "horner", x);
}

TEST_CASE("the logistic log-likelihood over a fixed std::array of data") {
  check_against_double(
      log_likelihood, [](double w, double b) { return functions::log_likelihood(w, b); }, points(2, -2, 2, 9),
      "log likelihood", x, y);
}

// The idioms of generic code, each against its hand-written kobai form.
namespace {
template <class T>
constexpr T powers(T a, T b) {
  using std::pow;
  return pow(a, 2) + pow(b, 0.5) + pow(a, -1) + pow(b, 1.5) + pow(a, b);
}
template <class T>
constexpr T extremes(T a, T b) {
  using std::abs, std::fma, std::max, std::min;
  return max(a, b) + min(a, 0.5) + abs(a - b) + fma(a, b, 1) + max(2.0, b);
}
template <class T>
constexpr T leaky_relu(T a) {
  return kobai::where(a > 0, a, 0.125 * a);  // also a function of doubles: kobai::where(bool, double, double)
}
template <class T>
constexpr T functions_of_one(T a) {
  using std::erf, std::expm1, std::log1p, std::sin, std::tan, std::tanh;
  return sin(a) + tan(a) + tanh(a) + erf(a) + expm1(a) + log1p(a * a);
}
}  // namespace

TEST_CASE("pow with literal exponents, min, max, abs, fma and where") {
  constexpr auto p = trace([](auto a, auto b) { return powers(a, b); }, x, y);
  static_assert(same(p, pow<2>(x) + sqrt(y) + pow<-1>(x) + pow<3, 2>(y) + pow(x, y)));
  constexpr auto m = trace([](auto a, auto b) { return extremes(a, b); }, x, y);
  static_assert(same(m, kobai::max(x, y) + kobai::min(x, 0.5_c) + abs(x - y) + (x * y + 1_c) + kobai::max(2_c, y)));
  constexpr auto r = trace([](auto a) { return leaky_relu(a); }, x);
  static_assert(same(r, where(x > 0_c, x, 0.125_c * x)));
  constexpr auto u = trace([](auto a) { return functions_of_one(a); }, x);
  static_assert(same(u, sin(x) + tan(x) + tanh(x) + erf(x) + expm1(x) + log1p(x * x)));
  for (double v : {-1.5, -0.25, 0.3, 2.0}) {
    INFO("at " << v);
    CHECK(eval(r, at(x = v)) == leaky_relu(v));
    CHECK(eval(u, at(x = v)) == doctest::Approx(functions_of_one(v)).epsilon(1e-14));
    CHECK(eval(m, at(x = v, y = 0.7)) == doctest::Approx(extremes(v, 0.7)).epsilon(1e-14));
    CHECK(eval(p, at(x = std::abs(v), y = 0.7)) == doctest::Approx(powers(std::abs(v), 0.7)).epsilon(1e-14));
  }
}

TEST_CASE("run-time parameters are input<> leaves") {
  constexpr auto k = input<"k">;
  constexpr auto f = trace([](auto a, auto c) { return c * a * a; }, x, k);
  static_assert(same(f, k * pow<2>(x)));
  static_assert(same(grad(f, x), 2_c * k * x));
  CHECK(eval(grad(f, x), at(x = 1.5, k = 4.0)) == 12.0);
  CHECK(eval(grad(f, x), at(x = -0.5, k = 3.0)) == -3.0);
}

TEST_CASE("numbers become exact constants") {
  // An integer stays an integer; a double is its exact binary value.
  static_assert(same(trace([](auto a) { return 3 * a; }, x), 3_c * x));
  static_assert(same(trace([](auto a) { return 3.0 * a; }, x), 3_c * x));
  static_assert(same(trace([](auto a) { return 0.1 * a; }, x), literal<3602879701896397, 36028797018963968> * x));
  // Known numbers fold exactly before they meet a traced value: T(1) / 3 is 1/3.
  static_assert(same(trace([](auto a) { return decltype(a)(1) / 3 * a; }, x), literal<1, 3> * x));
  // kobai's exact constants stay exact, and with a plain number they are plain arithmetic.
  static_assert(same(trace([](auto a) { return 0.1_c * a; }, x), literal<1, 10> * x));
  static_assert(1_c - 0.5 == 0.5);
  static_assert(2_c * 3.0 == 6.0);
  static_assert(0.25_c < 0.5);
  // A function that ignores its argument is a constant.
  static_assert(same(trace([](auto) { return 2.5; }, x), 2.5_c));
  // Products of long binary fractions are rounded past 64 bits, not refused: 0.1·0.1·x.
  constexpr auto tiny = trace([](auto a) { return 0.1 * (0.1 * a); }, x);
  CHECK(eval(tiny, at(x = 1.0)) == doctest::Approx(0.1 * 0.1).epsilon(1e-15));
}

// What generic code meets beyond arithmetic: std::numeric_limits, names a user defines too,
// std::clamp's unqualified form, functions of plain numbers, and logical not.
namespace mine {
/// A user's own leaky relu, of the same name as kobai's relu: the user's function is traced.
template <class T>
constexpr T relu(T z) {
  return kobai::where(z > 0, z, 0.125 * z);
}
template <class T>
constexpr T model(T a) {
  return relu(2 * a);
}
}  // namespace mine

TEST_CASE("numeric_limits, a user's function named like kobai's, std::clamp, functions of numbers, not") {
  // epsilon() is 2^-52 exactly.
  constexpr auto guarded = trace(
      [](auto a) {
        using std::log;
        return log(a + std::numeric_limits<decltype(a)>::epsilon());
      },
      x);
  static_assert(same(guarded, log(x + literal<1, 4503599627370496>)));
  // The user's relu, not kobai's: −0.25 at −1, where kobai's relu would give 0.
  constexpr auto leaky = trace([](auto a) { return mine::model(a); }, x);
  static_assert(same(leaky, where(2_c * x > 0_c, 2_c * x, 0.25_c * x)));
  CHECK(eval(leaky, at(x = -1.0)) == mine::model(-1.0));
  CHECK(eval(leaky, at(x = -1.0)) == -0.25);
  // The unqualified clamp with three traced values is kobai's, not std::clamp's branches.
  constexpr auto z = var<"z">;
  constexpr auto clamped = trace(
      [](auto a, auto lo, auto hi) {
        using std::clamp;
        return clamp(a, lo, hi);
      },
      x, y, z);
  static_assert(same(clamped, clamp(x, y, z)));
  CHECK(eval(clamped, at(x = 3.0, y = 0.0, z = 1.0)) == std::clamp(3.0, 0.0, 1.0));
  CHECK(eval(clamped, at(x = 0.5, y = 0.0, z = 1.0)) == 0.5);
  // A function of plain numbers without an exact value is traced as that function of constants.
  constexpr auto gelu_scale = trace(
      [](auto a) {
        using std::exp, std::pow, std::sqrt;
        return sqrt(decltype(a)(2)) * a + exp(decltype(a)(1)) + pow(decltype(a)(3), 0.5);
      },
      x);
  static_assert(same(gelu_scale, sqrt(2_c) * x + exp(1_c) + sqrt(3_c)));
  CHECK(eval(gelu_scale, at(x = 1.0)) == doctest::Approx(std::sqrt(2.0) + std::exp(1.0) + std::sqrt(3.0)));
  // Logical not is a 0/1 value, as x == 0.
  constexpr auto flipped = trace([](auto a) { return kobai::where(!(a > 0), -a, a); }, x);
  CHECK(eval(flipped, at(x = -2.0)) == 2.0);
  CHECK(eval(flipped, at(x = 3.0)) == 3.0);
  static_assert(kobai::where(!(2.0 > 0), -2.0, 2.0) == 2.0);  // the same code on doubles
}
