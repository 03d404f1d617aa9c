// The loop-nest executor at scale: a logistic-regression step over (N, D) data runs as one pass
// over the rows on several threads, gives the same bits run to run for a thread count, agrees in
// float32 with a float64 reference, and allocates nothing after its first call.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;

namespace {
constexpr auto X = input<"X", 2>;
constexpr auto y = input<"y", 1>;
constexpr auto w = var<"w", 1>;
constexpr auto b = var<"b">;
constexpr auto loss = bce_with_logits(matmul(X, w) + b, y);

template <class T>
struct data {
  xt::xtensor<T, 2> features;
  xt::xtensor<T, 1> labels;
  xt::xtensor<T, 1> weights;
};
template <class T>
data<T> make_data(std::size_t n, std::size_t d) {
  data<T> out{xt::xtensor<T, 2>::from_shape({n, d}), xt::xtensor<T, 1>::from_shape({n}),
              xt::xtensor<T, 1>::from_shape({d})};
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < d; ++j)
      out.features(i, j) = static_cast<T>(std::sin(0.37 * static_cast<double>(i) + 1.3 * static_cast<double>(j)));
    out.labels(i) = static_cast<T>((i * 7 + 3) % 5 < 2 ? 1 : 0);
  }
  for (std::size_t j = 0; j < d; ++j) out.weights(j) = static_cast<T>(0.05 * static_cast<double>(j) - 0.4);
  return out;
}

// The step written out by hand in float64.
struct reference {
  double loss = 0, db = 0;
  std::vector<double> dw;
};
template <class T>
reference by_hand(const data<T>& in, double bias) {
  const std::size_t n = in.labels.size(), d = in.weights.size();
  reference r;
  r.dw.assign(d, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    double z = bias;
    for (std::size_t j = 0; j < d; ++j)
      z += static_cast<double>(in.features(i, j)) * static_cast<double>(in.weights(j));
    const double label = static_cast<double>(in.labels(i));
    r.loss += (std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z))) - z * label) / static_cast<double>(n);
    const double g = (1 / (1 + std::exp(-z)) - label) / static_cast<double>(n);
    r.db += g;
    for (std::size_t j = 0; j < d; ++j) r.dw[j] += g * static_cast<double>(in.features(i, j));
  }
  return r;
}
}  // namespace

TEST_CASE("logistic regression over (N, 16) features: float32 agrees with a float64 loop, on any thread count") {
  const auto in = make_data<float>(300'000, 16);
  const auto expected = by_hand(in, 0.1);
  for (unsigned threads : {1u, 3u, 0u}) {
    const auto step = compile(loss, grad(loss, w), grad(loss, b)).threads(threads);
    const auto [L, dw, db] = step(X = in.features, y = in.labels, w = in.weights, b = 0.1f);
    CHECK(L == doctest::Approx(expected.loss).epsilon(1e-5));
    CHECK(db == doctest::Approx(expected.db).epsilon(1e-4));
    REQUIRE(dw.size() == 16);
    for (std::size_t j = 0; j < 16; ++j) CHECK(dw(j) == doctest::Approx(expected.dw[j]).epsilon(1e-4));
  }
}

TEST_CASE("nested loops give the same bits run to run for a thread count") {
  const auto in = make_data<double>(200'000, 16);
  for (unsigned threads : {1u, 4u}) {
    const auto step = compile(loss, grad(loss, w), grad(loss, b), sum<0>(X), max<1>(X)).threads(threads);
    const auto first = step(X = in.features, y = in.labels, w = in.weights, b = 0.1);
    for (int run = 0; run < 3; ++run) {
      const auto again = step(X = in.features, y = in.labels, w = in.weights, b = 0.1);
      CHECK(std::bit_cast<std::uint64_t>(std::get<0>(first)) == std::bit_cast<std::uint64_t>(std::get<0>(again)));
      CHECK(std::get<1>(first) == std::get<1>(again));
      CHECK(std::get<3>(first) == std::get<3>(again));
      CHECK(std::get<4>(first) == std::get<4>(again));
    }
  }
}

TEST_CASE("column sums and row maxima of a large matrix on several threads") {
  const auto in = make_data<double>(100'000, 5);
  const auto [columns, rows] = compile(sum<0>(X), max<1>(X)).threads(4)(X = in.features);
  for (std::size_t j = 0; j < 5; ++j) {
    double s = 0;
    for (std::size_t i = 0; i < 100'000; ++i) s += in.features(i, j);
    CHECK(columns(j) == doctest::Approx(s).epsilon(1e-12));
  }
  for (std::size_t i = 0; i < 100'000; i += 997) {
    double m = -INFINITY;
    for (std::size_t j = 0; j < 5; ++j) m = std::max(m, in.features(i, j));
    CHECK(rows(i) == m);
  }
}

TEST_CASE("softmax cross-entropy over (1001, 7) logits: rows as SIMD lanes with a scalar tail") {
  constexpr auto Z = var<"Z", 2>;
  constexpr auto P = input<"P", 2>;
  constexpr auto ce = cross_entropy(Z, P);
  const std::size_t n = 1001, c = 7;
  auto logits = xt::xtensor<double, 2>::from_shape({n, c});
  auto targets = xt::xtensor<double, 2>(xt::zeros<double>({n, c}));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < c; ++j) logits(i, j) = 3 * std::sin(0.7 * static_cast<double>(i * c + j));
    targets(i, (i * 3) % c) = 1;
  }
  const auto [L, dZ] = compile(ce, grad(ce, Z))(Z = logits, P = targets);
  double expected = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double m = -INFINITY, s = 0;
    for (std::size_t j = 0; j < c; ++j) m = std::max(m, logits(i, j));
    for (std::size_t j = 0; j < c; ++j) s += std::exp(logits(i, j) - m);
    const double lse = m + std::log(s);
    for (std::size_t j = 0; j < c; ++j) {
      expected += targets(i, j) * (lse - logits(i, j)) / static_cast<double>(n);
      CHECK(dZ(i, j) ==
            doctest::Approx((std::exp(logits(i, j) - lse) - targets(i, j)) / static_cast<double>(n)).epsilon(1e-12));
    }
  }
  CHECK(L == doctest::Approx(expected).epsilon(1e-12));
}
