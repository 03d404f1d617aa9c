// Reductions on the CPU executor: values against float64 loops written here, several loops,
// determinism across runs and thread counts.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <thread>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/ir/plan.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto x = input<"x", 1>;
constexpr auto t = input<"t", 1>;
constexpr auto w = var<"w">;
constexpr auto b = var<"b">;
constexpr auto W = var<"W", 1>;

template <class T>
std::pair<xt::xtensor<T, 1>, xt::xtensor<T, 1>> regression_data(std::size_t n) {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise;
  xt::xtensor<T, 1> X = xt::xtensor<T, 1>::from_shape({n}), Tv = X;
  for (std::size_t i = 0; i < n; ++i) {
    X[i] = static_cast<T>(noise(rng));
    Tv[i] = static_cast<T>(2 * X[i] + 0.1 * noise(rng));
  }
  return {X, Tv};
}

template <class T>
bool bitwise_equal(T a, T b) {  // the same bits, not just equal values
  using bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  return std::bit_cast<bits>(a) == std::bit_cast<bits>(b);
}
}  // namespace

TEST_CASE_TEMPLATE("MSE loss and both gradients against a float64 loop", T, float, double) {
  constexpr auto loss = mse(w * x + b, t);
  const auto [dw, db] = grad(loss, w, b);
  const auto step = compile(loss, dw, db);
  for (std::size_t n : {1u, 3u, 17u, 1000u, 100003u}) {
    const auto [X, Tv] = regression_data<T>(n);
    const auto [L, gw, gb] = step(x = X, t = Tv, w = 0.5, b = -0.25);
    double loss_ref = 0, gw_ref = 0, gb_ref = 0;  // hand-derived: dL/dw = 2/n Σ r·x, dL/db = 2/n Σ r
    for (std::size_t i = 0; i < n; ++i) {
      const double r = 0.5 * static_cast<double>(X[i]) - 0.25 - static_cast<double>(Tv[i]);
      const auto count = static_cast<double>(n);
      loss_ref += r * r / count;
      gw_ref += 2 * r * static_cast<double>(X[i]) / count;
      gb_ref += 2 * r / count;
    }
    const double tolerance = std::is_same_v<T, float> ? 2e-6 : 1e-12;
    INFO("n = " << n);
    CHECK(L == doctest::Approx(loss_ref).epsilon(tolerance));
    CHECK(gw == doctest::Approx(gw_ref).epsilon(tolerance));
    CHECK(gb == doctest::Approx(gb_ref).epsilon(tolerance));
  }
}

TEST_CASE("BCE with logits and its gradients against hand-derived formulas") {
  constexpr auto loss = bce_with_logits(w * x + b, t);
  const auto step = compile(loss, grad(loss, w), grad(loss, b));
  xt::xtensor<double, 1> X = {0.5, -1.5, 2.0, 0.0, 3.0, -0.25, 40.0, -40.0};
  xt::xtensor<double, 1> Y = {1, 0, 1, 1, 0, 0.5, 1, 0};
  for (double wv : {0.0, 0.7, -2.0}) {
    const auto [L, gw, gb] = step(x = X, t = Y, w = wv, b = 0.1);
    double loss_ref = 0, gw_ref = 0, gb_ref = 0;
    const double n = static_cast<double>(X.size());
    for (std::size_t i = 0; i < X.size(); ++i) {
      const double z = wv * X[i] + 0.1, p = 1 / (1 + std::exp(-z));
      loss_ref += (std::max(z, 0.0) - z * Y[i] + std::log1p(std::exp(-std::abs(z)))) / n;
      gw_ref += (p - Y[i]) * X[i] / n;  // dL/dz = σ(z) − y
      gb_ref += (p - Y[i]) / n;
    }
    CHECK(L == doctest::Approx(loss_ref).epsilon(1e-12));
    CHECK(gw == doctest::Approx(gw_ref).epsilon(1e-12));
    CHECK(gb == doctest::Approx(gb_ref).epsilon(1e-12));
  }
}

TEST_CASE("two loops: mean-centring, with a tensor output stored by the second loop") {
  const auto program = compile(mean(pow<2>(x - mean(x))), x - mean(x));
  const auto [X, unused] = regression_data<double>(1001);
  const auto [variance, centred] = program(x = X);
  double mean_ref = 0, variance_ref = 0;
  const auto count = static_cast<double>(X.size());
  for (double v : X) mean_ref += v / count;
  for (double v : X) variance_ref += (v - mean_ref) * (v - mean_ref) / count;
  CHECK(variance == doctest::Approx(variance_ref).epsilon(1e-12));
  CHECK(centred(17) == doctest::Approx(X(17) - mean_ref).epsilon(1e-12));
}

TEST_CASE("the gradient of sum(W) is a tensor of ones shaped like W") {
  const auto ones = compile(grad(sum(W), W))(W = xt::xtensor<double, 1>{3, 4, 5});
  REQUIRE(ones.size() == 3);
  CHECK((ones(0) == 1.0 && ones(1) == 1.0 && ones(2) == 1.0));
}

TEST_CASE("the mean of no elements is NaN, as in NumPy and PyTorch") {
  CHECK(std::isnan(compile(mean(x))(x = xt::xtensor<double, 1>::from_shape({0}))));
  CHECK(compile(sum(x))(x = xt::xtensor<double, 1>::from_shape({0})) == 0.0);
}

TEST_CASE("results are bit-identical run to run for a given thread count") {
  constexpr auto loss = mse(w * x + b, t);
  const auto [dw, db] = grad(loss, w, b);
  const auto [X, Tv] = regression_data<float>(1'000'000);
  for (unsigned threads : {1u, 2u, 4u, 0u}) {
    const auto step = compile(loss, dw, db).threads(threads);
    const auto first = step(x = X, t = Tv, w = 0.5, b = 0.0);
    for (int run = 0; run < 3; ++run) {
      const auto again = step(x = X, t = Tv, w = 0.5, b = 0.0);
      CHECK(bitwise_equal(std::get<0>(first), std::get<0>(again)));
      CHECK(bitwise_equal(std::get<1>(first), std::get<1>(again)));
      CHECK(bitwise_equal(std::get<2>(first), std::get<2>(again)));
    }
  }
  // Different thread counts split the sum differently; they still agree closely.
  const auto one = compile(loss, dw, db).threads(1)(x = X, t = Tv, w = 0.5, b = 0.0);
  const auto four = compile(loss, dw, db).threads(4)(x = X, t = Tv, w = 0.5, b = 0.0);
  CHECK(std::get<1>(one) == doctest::Approx(std::get<1>(four)).epsilon(1e-6));
}

TEST_CASE("one program called from several threads at once gives the same bits as alone") {
  constexpr auto loss = bce_with_logits(w * x + b, t);
  const auto step = compile(loss, grad(loss, w), grad(loss, b)).threads(4);
  const auto data = regression_data<double>(600'000);  // (clang 14 cannot capture structured bindings)
  const auto& X = data.first;
  const auto& Tv = data.second;
  const auto alone = step(x = X, t = Tv, w = 0.3, b = 0.1);
  std::array<std::remove_cvref_t<decltype(alone)>, 2> concurrent;
  std::thread other([&] { concurrent[1] = step(x = X, t = Tv, w = 0.3, b = 0.1); });
  concurrent[0] = step(x = X, t = Tv, w = 0.3, b = 0.1);
  other.join();
  for (const auto& result : concurrent) {
    CHECK(bitwise_equal(std::get<0>(result), std::get<0>(alone)));
    CHECK(bitwise_equal(std::get<1>(result), std::get<1>(alone)));
    CHECK(bitwise_equal(std::get<2>(result), std::get<2>(alone)));
  }
}

TEST_CASE("max, min and logsumexp over every element") {
  const xt::xtensor<double, 1> X = {0.5, -2.0, 3.25, 1.0, 3.0, -7.5, 2.0, 0.0, 1.5};
  const auto [high, low, lse] = compile(max(x), min(x), logsumexp(x))(x = X);
  CHECK(high == 3.25);
  CHECK(low == -7.5);
  double naive = 0;
  for (double v : X) naive += std::exp(v);
  CHECK(lse == doctest::Approx(std::log(naive)).epsilon(1e-14));
  // Far from 0 the naive form overflows; the shifted form does not.
  const xt::xtensor<double, 1> large = X + 1000.0;
  CHECK(compile(logsumexp(x))(x = large) == doctest::Approx(1000 + std::log(naive)).epsilon(1e-14));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(compile(max(x))(x = xt::xtensor<double, 1>{1, nan, 3, 4, 5})));
  CHECK(std::isnan(compile(min(x))(x = xt::xtensor<double, 1>{1, 2, 3, 4, 5, 6, 7, 8, nan})));
}

TEST_CASE("gradients of max and logsumexp: ties share, logsumexp's gradient is the softmax") {
  const auto ties = compile(grad(max(W), W))(W = xt::xtensor<double, 1>{1, 3, 3, 2});
  CHECK(ties(0) == 0.0);
  CHECK(ties(1) == 0.5);  // as torch.amax
  CHECK(ties(2) == 0.5);
  CHECK(ties(3) == 0.0);
  const xt::xtensor<double, 1> Wv = {0.1, -1.0, 2.0, 0.5};
  const auto softmax = compile(grad(logsumexp(W), W))(W = Wv);
  double total = 0;
  for (double v : Wv) total += std::exp(v);
  for (std::size_t i = 0; i < 4; ++i) CHECK(softmax(i) == doctest::Approx(std::exp(Wv(i)) / total).epsilon(1e-14));
  CHECK(ir::loop_count(logsumexp(W)) == 2);                         // the max, then the shifted sum
  CHECK(ir::loop_count(logsumexp(W), grad(logsumexp(W), W)) == 3);  // and the softmax, which needs that sum
}

TEST_CASE("dot against a hand-written loop") {
  const xt::xtensor<double, 1> A = {1, 2, 3, 4}, B = {0.5, -1, 2, 0.25};
  CHECK(compile(dot(W, x))(W = A, x = B) == doctest::Approx(1 * 0.5 - 2 + 6 + 1));
  const auto gradient = compile(grad(dot(W, x), W))(x = B);  // ∂(w·x)/∂w = x
  for (std::size_t i = 0; i < 4; ++i) CHECK(gradient(i) == B(i));
}

namespace {
// Π of row i of a (rows × columns) matrix without element skip (skip < 0: none), by hand.
double row_product(const xt::xtensor<double, 2>& m, std::size_t i, std::ptrdiff_t skip = -1) {
  double p = 1;
  for (std::size_t j = 0; j < m.shape()[1]; ++j)
    if (static_cast<std::ptrdiff_t>(j) != skip) p *= m(i, j);
  return p;
}
}  // namespace

TEST_CASE("prod over rows and its gradient, with no zero, one zero and two zeros in a row, twice") {
  constexpr auto M = var<"M", 2>;
  constexpr auto c = input<"c", 1>;
  constexpr auto f = sum(prod<1>(M) * c);  // Σᵢ cᵢ Πⱼ Mᵢⱼ
  auto step = compile(prod<1>(M), prod(M), prod<0>(M, keepdims), f, grad(f, M));
  // A constant's product: 1s and 0s fold; another constant stays a product of its elements.
  static_assert(same(prod(M * 0_c), 0_c));
  static_assert(same(prod(M * 0_c + 1_c), 1_c));
  static_assert(!is_constant<decltype(prod(M * 0_c + 2_c))>);  // 2ⁿ: n is known at run time
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(0.5, 1.5);
  for (int call = 0; call < 2; ++call) {
    const std::size_t rows = 6 + 3 * static_cast<std::size_t>(call), columns = 5 + static_cast<std::size_t>(call);
    xt::xtensor<double, 2> m = xt::xtensor<double, 2>::from_shape({rows, columns});
    for (auto& e : m) e = u(rng) * (rng() % 2 == 0 ? 1 : -1);
    m(1, 2) = 0;            // one zero in row 1
    m(3, 0) = m(3, 4) = 0;  // two in row 3
    xt::xtensor<double, 1> cv = xt::xtensor<double, 1>::from_shape({rows});
    for (auto& e : cv) e = u(rng);
    const auto [rowwise, all, columnwise, value, dM] = step(M = m, c = cv);
    double total = 1, want_f = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      CHECK(rowwise(i) == doctest::Approx(row_product(m, i)).epsilon(1e-14));
      total *= row_product(m, i);
      want_f += cv(i) * row_product(m, i);
      for (std::size_t j = 0; j < columns; ++j) {
        INFO("call " << call << ", element (" << i << ", " << j << ")");
        CHECK(dM(i, j) == doctest::Approx(cv(i) * row_product(m, i, static_cast<std::ptrdiff_t>(j))).epsilon(1e-13));
      }
    }
    for (std::size_t j = 0; j < columns; ++j) {
      double p = 1;
      for (std::size_t i = 0; i < rows; ++i) p *= m(i, j);
      CHECK(columnwise(0, j) == doctest::Approx(p).epsilon(1e-14));
    }
    CHECK(all == doctest::Approx(total).epsilon(1e-13));
    CHECK(value == doctest::Approx(want_f).epsilon(1e-13));
    CHECK(dM(1, 2) != 0.0);  // the zero of a one-zero row gets the others' product
    CHECK(dM(3, 0) == 0.0);  // two zeros: nothing
  }
}

TEST_CASE("prod's second derivative where no element is 0: d²/ds² Π(s·vᵢ) = n(n−1)·s^(n−2)·Π vᵢ, twice") {
  constexpr auto s = var<"s">;
  constexpr auto v = input<"v", 1>;
  constexpr auto f = prod(s * v);
  auto second = compile(f, grad(f, s), grad(grad(f, s), s));
  for (int call = 0; call < 2; ++call) {
    const xt::xtensor<double, 1> vv =
        call == 0 ? xt::xtensor<double, 1>{0.5, -1.25, 2.0, 0.75} : xt::xtensor<double, 1>{1.5, 0.25, -0.5, 2.0, -1.0};
    const double sv = call == 0 ? 1.5 : -0.75;
    const double n = static_cast<double>(vv.size());
    double pv = 1;
    for (double e : vv) pv *= e;
    const auto [value, first, curvature] = second(s = sv, v = vv);
    INFO("call " << call);
    CHECK(value == doctest::Approx(std::pow(sv, n) * pv).epsilon(1e-14));
    CHECK(first == doctest::Approx(n * std::pow(sv, n - 1) * pv).epsilon(1e-14));
    CHECK(curvature == doctest::Approx(n * (n - 1) * std::pow(sv, n - 2) * pv).epsilon(1e-13));
  }
}
