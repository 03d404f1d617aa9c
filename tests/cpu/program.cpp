// The CPU executor: bound xtensor containers, several outputs in one pass, float and double, errors.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto x = var<"x", 1>;
constexpr auto t = input<"t", 1>;
constexpr auto w = var<"w">;
constexpr auto b = var<"b">;
constexpr auto M = var<"M", 2>;

template <class T>
xt::xtensor<T, 1> random_vector(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-2, 2);
  xt::xtensor<T, 1> v = xt::xtensor<T, 1>::from_shape({n});
  for (auto& e : v) e = static_cast<T>(u(rng));
  return v;
}
}  // namespace

TEST_CASE_TEMPLATE("elementwise outputs agree with scalar evaluation at every element", T, float, double) {
  const auto build = [](auto xl, auto tl) { return tanh(w * xl + b) * exp(-pow<2>(xl)) + sigmoid(xl * tl); };
  const auto y = build(x, t);
  const auto y_scalar = build(var<"x">, input<"t">);  // the same function on scalar leaves
  const auto dy = vjp(y, x, 1_c);  // elementwise derivative: y depends on x[i] only through element i
  const auto program = compile(y, dy);
  // Sizes around the SIMD width exercise both the batch loop and the scalar tail.
  for (std::size_t n : {0u, 1u, 3u, 4u, 5u, 8u, 17u, 1000u}) {
    const auto X = random_vector<T>(n, 1), Tv = random_vector<T>(n, 2);
    const auto [Y, DY] = program(x = X, t = Tv, w = 0.7, b = -0.2);
    static_assert(std::is_same_v<std::remove_cvref_t<decltype(Y)>, xt::xtensor<T, 1>>);
    REQUIRE(Y.size() == n);
    REQUIRE(DY.size() == n);
    for (std::size_t i = 0; i < n; ++i) {
      const double xi = X[i], ti = Tv[i];
      const double want = std::tanh(0.7 * xi - 0.2) * std::exp(-xi * xi) + 1 / (1 + std::exp(-xi * ti));
      const double h = 1e-6;  // the derivative against finite differences of the scalar function
      auto yi = [&](double v) { return eval(y_scalar, at(var<"x"> = v, input<"t"> = ti, w = 0.7, b = -0.2)); };
      const double tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-12;
      CHECK(static_cast<double>(Y[i]) == doctest::Approx(want).epsilon(tolerance));
      CHECK(static_cast<double>(DY[i]) ==
            doctest::Approx((yi(xi + h) - yi(xi - h)) / (2 * h)).epsilon(std::max(tolerance, 1e-7)));
    }
  }
}

TEST_CASE("a rank-2 leaf, scalar outputs next to tensor outputs, and xarray bindings") {
  const auto program = compile(w * M + b, w * b);
  xt::xarray<double> A = {{1, 2, 3}, {4, 5, 6}};
  const auto [out, scalar] = program(M = A, w = 2.0, b = 1.0);
  CHECK(out.shape()[0] == 2);
  CHECK(out.shape()[1] == 3);
  CHECK(out(1, 2) == 13.0);
  CHECK(scalar == 2.0);
}

TEST_CASE("mismatched extents name both variables and their shapes") {
  const auto program = compile(x * t);
  xt::xtensor<double, 1> X = {1, 2, 3}, Tv = {1, 2};
  CHECK_THROWS_WITH_AS(program(x = X, t = Tv),
                       "kobai: extents do not match: 't' has shape (2,) but 'x' has shape (3,); its axis 0 meets an "
                       "axis of extent 2 (kobai broadcasts missing axes and axes made by unsqueeze or keepdims, not "
                       "extents of 1 found at run time)",
                       kobai::shape_error);
}

TEST_CASE("a broadcast against the wrong axis names the axis") {
  constexpr auto X = input<"X", 2>;
  constexpr auto v = var<"v", 1>;
  const auto program = compile(X * v);  // v runs along X's last axis
  xt::xtensor<double, 2> A = xt::zeros<double>({3, 4});
  xt::xtensor<double, 1> V = xt::zeros<double>({3});
  CHECK_THROWS_WITH_AS(program(X = A, v = V),
                       doctest::Contains("'X' has shape (3, 4) but 'v' has shape (3,); its axis 0 meets an axis of "
                                         "extent 4"),
                       kobai::shape_error);
}

TEST_CASE("a container of the wrong dynamic rank is a binding error naming the variable") {
  const auto program = compile(x * t);
  xt::xarray<double> X = {{1, 2}, {3, 4}};
  xt::xtensor<double, 1> Tv = {1, 2};
  CHECK_THROWS_WITH_AS(program(x = X, t = Tv),
                       "kobai: 'x' is a rank-1 leaf but was bound to a container of shape (2, 2)",
                       kobai::binding_error);
}

TEST_CASE("programs run again and again with new data, no state carried over") {
  const auto program = compile(pow<2>(x) * w);
  xt::xtensor<float, 1> X = {1, 2, 3};
  for (float scale : {1.0f, 2.0f, -1.0f}) {
    const auto Y = program(x = X, w = scale);
    CHECK(Y(2) == 9.0f * scale);
  }
}

TEST_CASE("a temporary container is held by the binding, not referenced") {
  const auto binding = (x = xt::xtensor<double, 1>{1, 2, 3});  // the temporary dies here
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(binding.value)>, xt::xtensor<double, 1>>);
  const auto program = compile(sum(x));
  CHECK(program(binding) == 6.0);
  xt::xtensor<double, 1> named = {4, 5};
  const auto reference = (x = named);  // a named container is referenced, not copied
  CHECK(&reference.value == &named);
}

TEST_CASE_TEMPLATE("max, min and relu propagate NaN in SIMD batches and in the scalar tail alike", T, float, double) {
  constexpr auto a = input<"a", 1>;
  constexpr auto c = input<"c", 1>;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  // 19 elements: whole batches and a tail, with NaN in either operand, both, and neither.
  xt::xtensor<T, 1> A = xt::xtensor<T, 1>::from_shape({19}), C = A;
  for (std::size_t i = 0; i < 19; ++i) {
    A[i] = i % 3 == 0 ? nan : static_cast<T>(i);
    C[i] = i % 4 == 1 ? nan : static_cast<T>(10) - static_cast<T>(i);
  }
  const auto [high, low, rectified] = compile(max(a, c), min(a, c), relu(a - 5_c))(a = A, c = C);
  for (std::size_t i = 0; i < 19; ++i) {
    INFO("element " << i);
    const bool any_nan = std::isnan(A[i]) || std::isnan(C[i]);
    CHECK(std::isnan(high[i]) == any_nan);
    CHECK(std::isnan(low[i]) == any_nan);
    if (!any_nan) {
      CHECK(high[i] == std::max(A[i], C[i]));
      CHECK(low[i] == std::min(A[i], C[i]));
    }
    CHECK(std::isnan(rectified[i]) == std::isnan(A[i]));
  }
}

TEST_CASE("the same expression asked for twice fills both outputs") {
  constexpr auto A = var<"A", 1>;
  constexpr auto B = var<"B", 1>;
  const auto [dA, dB] = grad(sum((A + B) * t), A, B);
  static_assert(std::is_same_v<decltype(dA), decltype(dB)>);  // both are t
  const xt::xtensor<double, 1> Tv = {1, 2, 3, 4, 5, 6, 7};
  const auto [first, second] = compile(dA, dB)(t = Tv);
  for (std::size_t i = 0; i < Tv.size(); ++i) {
    CHECK(first(i) == Tv(i));
    CHECK(second(i) == Tv(i));
  }
}

TEST_CASE("xt::adapt binds existing memory without a copy") {
  std::vector<double> memory = {1, 2, 3, 4, 5};
  auto view = xt::adapt(memory, std::array<std::size_t, 1>{5});
  CHECK(compile(sum(x * x))(x = view) == 55.0);
}

TEST_CASE_TEMPLATE("erf and its gradient over a tensor: libm's erf and 2/sqrt(pi)·exp(-x²) by hand, twice", T, float,
                   double) {
  // 1003 elements: SIMD batches and a scalar tail; the loss sums w·erf(x) so dloss/dx = w·erf'(x).
  constexpr auto loss = sum(w * erf(x));
  const auto program = compile(loss, grad(loss, x), grad(loss, w));
  const double tolerance = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  for (unsigned seed : {1U, 2U}) {  // the second run has new data
    const auto X = random_vector<T>(1003, seed);
    const T scale = seed == 1 ? T(0.75) : T(-1.5);
    const auto [value, dx, dw] = program(x = X, w = scale);
    double sum_erf = 0;
    for (std::size_t i = 0; i < X.size(); ++i) {
      const double xi = X(i), slope = 2 / std::sqrt(std::acos(-1.0)) * std::exp(-xi * xi);
      sum_erf += std::erf(xi);
      CHECK(std::abs(dx(i) - scale * slope) <= tolerance * 2);
    }
    CHECK(std::abs(dw - sum_erf) <= tolerance * 1003);
    CHECK(std::abs(value - scale * sum_erf) <= tolerance * 1003 * 1.5);
  }
}

TEST_CASE("compile spreads the tuples grad returns: auto [L, dw, db] = step(...), against the hand-derived gradient") {
  constexpr auto loss = sum(pow<2>(w * t + b - x));  // x as the target here
  auto step = compile(loss, grad(loss, w, b));
  for (int call = 0; call < 2; ++call) {
    const auto tv = random_vector<double>(9 + call, 40 + call), xv = random_vector<double>(9 + call, 50 + call);
    const double wv = 0.5 - call, bv = 0.25 * call;
    const auto [L, dw, db] = step(t = tv, x = xv, w = wv, b = bv);
    double want_l = 0, want_dw = 0, want_db = 0;  // L = Σ r², dL/dw = 2Σ r·t, dL/db = 2Σ r
    for (std::size_t i = 0; i < tv.size(); ++i) {
      const double r = wv * tv(i) + bv - xv(i);
      want_l += r * r;
      want_dw += 2 * r * tv(i);
      want_db += 2 * r;
    }
    INFO("call " << call);
    CHECK(L == doctest::Approx(want_l).epsilon(1e-12));
    CHECK(dw == doctest::Approx(want_dw).epsilon(1e-12));
    CHECK(db == doctest::Approx(want_db).epsilon(1e-12));
  }
  // Nested tuples (a Hessian's rows) spread too, in order.
  constexpr auto f = w * w * b;
  auto second = compile(f, hessian(f, w, b));
  const auto [v, hww, hwb, hbw, hbb] = second(w = 3.0, b = 2.0);
  CHECK(v == 18.0);
  CHECK(hww == 4.0);  // 2b
  CHECK(hwb == 6.0);  // 2w
  CHECK(hbw == 6.0);
  CHECK(hbb == 0.0);
}

TEST_CASE("one set of bindings serves several programs: names a program has no leaf for are ignored") {
  constexpr auto loss = sum(pow<2>(x - t));
  auto train = compile(loss, grad(loss, x));
  auto predict = compile(2_c * x);
  for (int call = 0; call < 2; ++call) {
    const auto xv = random_vector<double>(5 + call, 60 + call), tv = random_vector<double>(5 + call, 70 + call);
    const auto bindings = std::tuple{x = xv, t = tv, w = 1.5};  // w is no leaf of either program
    const auto [L, dx] = std::apply(train, bindings);
    const xt::xtensor<double, 1> doubled = std::apply(predict, bindings);  // t and w unused
    double want = 0;
    for (std::size_t i = 0; i < xv.size(); ++i) {
      want += (xv(i) - tv(i)) * (xv(i) - tv(i));
      CHECK(dx(i) == doctest::Approx(2 * (xv(i) - tv(i))));
      CHECK(doubled(i) == 2 * xv(i));
    }
    CHECK(L == doctest::Approx(want).epsilon(1e-12));
    // An unused binding may be anything a binding can hold, even of another element type.
    const xt::xtensor<float, 1> unused = {1.f, 2.f};
    const xt::xtensor<double, 1> again = predict(x = xv, t = unused);
    CHECK(again == doubled);
    // strict asks for every name to be a leaf; with the used names alone it runs as before.
    const xt::xtensor<double, 1> strictly = predict(strict, x = xv);
    CHECK(strictly == doubled);
  }
}

TEST_CASE_TEMPLATE("an output written over the input it is computed from: x ← 2x + 1 in place, and sums with tails", T,
                   float, double) {
  // A loop's last SIMD batch overlaps the one before it when its extent is not a whole number of
  // batches: the elements done already keep the bits they have (not recomputed from an input
  // already overwritten), and sums do not count them twice.
  const auto step = compile(2_c * x + 1_c);
  const auto total = compile(sum(x * x), max(x));
  for (std::size_t n : {1U, 5U, 16U, 17U, 37U, 100U, 1001U})
    for (const std::size_t threads : {1U, 3U}) {
      const xt::xtensor<T, 1> start = random_vector<T>(n, static_cast<unsigned>(n + threads));
      auto configured = step;
      configured.threads(static_cast<unsigned>(threads)).grain(8);
      xt::xtensor<T, 1> results = configured(x = start);
      results = start;
      for (int round = 0; round < 3; ++round) configured.into(results, x = results);
      const auto [squares, largest] = total(x = start);
      double want_squares = 0;
      T want_largest = start(0);
      for (std::size_t i = 0; i < n; ++i) {
        T value = start(i);
        for (int round = 0; round < 3; ++round) value = static_cast<T>(T(2) * value + T(1));
        INFO("n = " << n << ", " << threads << " threads, element " << i);
        CHECK(results(i) == value);
        want_squares += static_cast<double>(start(i)) * static_cast<double>(start(i));
        want_largest = std::max(want_largest, start(i));
      }
      CHECK(static_cast<double>(squares) == doctest::Approx(want_squares).epsilon(1e-6));
      CHECK(largest == want_largest);
    }
}
