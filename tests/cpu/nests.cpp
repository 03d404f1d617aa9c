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

TEST_CASE("a network whose tanh layer is computed once per row into a buffer: loss and gradients by hand") {
  // D = 3 → H = 9 (tanh) → 1 with biases, MSE; 301 rows (a SIMD tail), on 1 and 3 threads. The
  // gradients are the hand-derived backward pass in float64.
  constexpr auto W1 = var<"W1", 2>;
  constexpr auto b1 = var<"b1", 1>;
  constexpr auto w2 = var<"w2", 1>;
  constexpr auto net = mse(matmul(tanh(matmul(X, W1) + b1), w2) + b, y);
  const std::size_t n = 301, d = 3, h = 9;
  const auto in = make_data<double>(n, d);
  auto W1v = xt::xtensor<double, 2>::from_shape({d, h});
  auto b1v = xt::xtensor<double, 1>::from_shape({h}), w2v = b1v;
  for (std::size_t j = 0; j < d; ++j)
    for (std::size_t k = 0; k < h; ++k) W1v(j, k) = 0.4 * std::cos(1.7 * static_cast<double>(j * h + k));
  for (std::size_t k = 0; k < h; ++k) b1v(k) = 0.1 * static_cast<double>(k) - 0.3, w2v(k) = std::sin(2.0 * k + 1);
  const double b2 = 0.2;
  double loss_ref = 0, db2_ref = 0;
  std::vector<double> dW1_ref(d * h), db1_ref(h), dw2_ref(h);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<double> a(h);
    double p = b2;
    for (std::size_t k = 0; k < h; ++k) {
      double z = b1v(k);
      for (std::size_t j = 0; j < d; ++j) z += in.features(i, j) * W1v(j, k);
      a[k] = std::tanh(z);
      p += a[k] * w2v(k);
    }
    const double r = p - in.labels(i), g = 2 * r / static_cast<double>(n);
    loss_ref += r * r / static_cast<double>(n);
    db2_ref += g;
    for (std::size_t k = 0; k < h; ++k) {
      dw2_ref[k] += g * a[k];
      const double dz = g * w2v(k) * (1 - a[k] * a[k]);
      db1_ref[k] += dz;
      for (std::size_t j = 0; j < d; ++j) dW1_ref[j * h + k] += in.features(i, j) * dz;
    }
  }
  for (unsigned threads : {1u, 3u}) {
    const auto step = compile(net, grad(net, W1), grad(net, b1), grad(net, w2), grad(net, b)).threads(threads);
    const auto [L, dW1, db1, dw2, db2] = step(X = in.features, y = in.labels, W1 = W1v, b1 = b1v, w2 = w2v, b = b2);
    CHECK(L == doctest::Approx(loss_ref).epsilon(1e-12));
    CHECK(db2 == doctest::Approx(db2_ref).epsilon(1e-10));
    for (std::size_t k = 0; k < h; ++k) {
      CHECK(db1(k) == doctest::Approx(db1_ref[k]).epsilon(1e-10));
      CHECK(dw2(k) == doctest::Approx(dw2_ref[k]).epsilon(1e-10));
      for (std::size_t j = 0; j < d; ++j) CHECK(dW1(j, k) == doctest::Approx(dW1_ref[j * h + k]).epsilon(1e-10));
    }
  }
}

TEST_CASE("a costly value of the parameters alone, read for every row, is computed once per step") {
  // f = Σₙ Σ_d X[n, d]·exp(w[d]);  ∂f/∂w[d] = exp(w[d])·Σₙ X[n, d].
  constexpr auto f = sum(matmul(X, exp(w)));
  const auto in = make_data<double>(1001, 5);
  const auto [value, dw] = compile(f, grad(f, w)).threads(2)(X = in.features, w = in.weights);
  double expected = 0;
  for (std::size_t j = 0; j < 5; ++j) {
    double column = 0;
    for (std::size_t i = 0; i < 1001; ++i) column += in.features(i, j);
    expected += column * std::exp(in.weights(j));
    CHECK(dw(j) == doctest::Approx(std::exp(in.weights(j)) * column).epsilon(1e-12));
  }
  CHECK(value == doctest::Approx(expected).epsilon(1e-12));
}
