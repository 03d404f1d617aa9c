// Programs that once gave plausible wrong numbers (issue 11), each against a float64 reference
// written here: stale or uninitialised reads, ties recomputed differently, dropped shapes, float32
// sums that drift, zero gradients of tensor variables. Every program runs twice, the second time
// with new data.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

TEST_CASE("a buffered value is read only after the loop that completes it: f and ∂f/∂v compiled together") {
  constexpr auto P = input<"P", 2>;  // (N, H)
  constexpr auto v = var<"v", 1>;    // (H)
  constexpr auto f = sum(exp(sum<0>(P * v)));
  const auto step = compile(f, grad(f, v));
  xt::xtensor<double, 2> Pv{{0.5, -1}, {1.5, 0.25}, {-0.75, 2}};
  xt::xtensor<double, 1> vv{0.3, -0.4};
  for (int call = 0; call < 2; ++call) {
    // By hand: s_h = Σ_n P[n,h]·v[h], f = Σ_h exp(s_h), ∂f/∂v_h = exp(s_h)·Σ_n P[n,h].
    double f_ref = 0;
    std::vector<double> g_ref(2);
    for (std::size_t h = 0; h < 2; ++h) {
      double column = 0;
      for (std::size_t n = 0; n < 3; ++n) column += Pv(n, h);
      f_ref += std::exp(column * vv(h));
      g_ref[h] = std::exp(column * vv(h)) * column;
    }
    const auto [F, G] = step(P = Pv, v = vv);
    INFO("call " << call);
    CHECK(F == doctest::Approx(f_ref).epsilon(1e-13));
    CHECK(G(0) == doctest::Approx(g_ref[0]).epsilon(1e-13));
    CHECK(G(1) == doctest::Approx(g_ref[1]).epsilon(1e-13));
    Pv(1, 0) = -2.0;  // new data for the second call
    vv = {0.7, 0.1};
  }
}

TEST_CASE("hvp of a two-level reduction reads its inner sums after they complete") {
  constexpr auto y = input<"y", 1>;
  constexpr auto v = var<"v", 1>;
  constexpr auto q = input<"q", 1>;
  constexpr auto f = log(sum(exp(sum<1>(exp(unsqueeze<1>(y) * v)))));
  const auto Hq = compile(hvp(f, v, q));
  // By hand: a_ij = exp(y_i v_j), s_i = Σ_j a_ij, p = softmax(s), ∂f/∂v_j = Σ_i p_i·y_i·a_ij; H·q by
  // central differences of that gradient along q.
  auto gradient = [](const std::vector<double>& ys, const std::vector<double>& vs) {
    std::vector<double> s(ys.size()), g(vs.size());
    double total = 0;
    for (std::size_t i = 0; i < ys.size(); ++i) {
      for (double vj : vs) s[i] += std::exp(ys[i] * vj);
      total += std::exp(s[i]);
    }
    for (std::size_t i = 0; i < ys.size(); ++i)
      for (std::size_t j = 0; j < vs.size(); ++j) g[j] += std::exp(s[i]) / total * ys[i] * std::exp(ys[i] * vs[j]);
    return g;
  };
  std::vector<double> ys{0.3, -0.2, 0.5, 0.05}, vs{0.1, 0.4, -0.3}, qs{1.0, -0.5, 0.25};
  for (int call = 0; call < 2; ++call) {
    const double eps = 1e-5;
    std::vector<double> plus = vs, minus = vs;
    for (std::size_t j = 0; j < vs.size(); ++j) plus[j] += eps * qs[j], minus[j] -= eps * qs[j];
    const auto gp = gradient(ys, plus), gm = gradient(ys, minus);
    const auto H = Hq(y = xt::adapt(ys, {ys.size()}), v = xt::adapt(vs, {vs.size()}), q = xt::adapt(qs, {qs.size()}));
    INFO("call " << call);
    for (std::size_t j = 0; j < vs.size(); ++j)
      CHECK(H(j) == doctest::Approx((gp[j] - gm[j]) / (2 * eps)).epsilon(1e-7));
    ys = {-0.4, 0.9, 0.2, -0.1};
    vs = {0.5, -0.2, 0.3};
  }
}

TEST_CASE_TEMPLATE("the gradient through max after logsumexp: a value recomputed in a SIMD loop and a scalar one ties",
                   T, float, double) {
  constexpr auto X = input<"X", 2>;  // (6, 3)
  constexpr auto v = var<"v", 1>;    // (5)
  constexpr auto f = sum(max<-1>(logsumexp<-2>(tanh(unsqueeze<2>(X) * v))));
  const auto step = compile(f, grad(f, v));
  xt::xtensor<double, 2> Xv{{-0.8472, -0.2506, -0.852},  {-0.8027, 0.9188, -0.373}, {0.3548, -0.6706, -0.577},
                            {-0.5722, -1.0187, -0.0415}, {1.158, -0.7307, 0.2051},  {0.8061, 0.4032, 0.2726}};
  std::vector<double> vs{0.3726, 0.0401, -0.8684, 0.2294, -0.04};
  // By hand: f(v) = Σ_n max_j log Σ_i exp(tanh(X[n,i]·v[j])), differentiated by central differences.
  auto by_hand = [&](const std::vector<double>& at) {
    double total = 0;
    for (std::size_t n = 0; n < Xv.shape()[0]; ++n) {
      double best = -INFINITY;
      for (double vj : at) {
        double s = 0;
        for (std::size_t i = 0; i < 3; ++i) s += std::exp(std::tanh(Xv(n, i) * vj));
        best = std::max(best, std::log(s));
      }
      total += best;
    }
    return total;
  };
  // The data, then 37 values of v: SIMD batches and a scalar tail at any batch width.
  for (int call = 0; call < 2; ++call) {
    const auto [F, G] = step(X = xt::xtensor<T, 2>(xt::cast<T>(Xv)), v = xt::xtensor<T, 1>(xt::cast<T>(xt::adapt(vs))));
    const double tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-9;
    INFO("call " << call);
    CHECK(F == doctest::Approx(by_hand(vs)).epsilon(tolerance));
    for (std::size_t j = 0; j < vs.size(); ++j) {
      std::vector<double> plus = vs, minus = vs;
      plus[j] += 1e-6;
      minus[j] -= 1e-6;
      INFO("j = " << j);
      CHECK(static_cast<double>(G(j)) ==
            doctest::Approx((by_hand(plus) - by_hand(minus)) / 2e-6).epsilon(tolerance * 100).scale(1));
    }
    Xv = xt::xtensor<double, 2>::from_shape({20, 3});
    for (std::size_t e = 0; e < Xv.size(); ++e) Xv.data()[e] = std::sin(1.7 * static_cast<double>(e) + 0.3);
    vs.resize(37);
    for (std::size_t j = 0; j < vs.size(); ++j) vs[j] = std::cos(2.3 * static_cast<double>(j));
  }
}

TEST_CASE_TEMPLATE(
    "a value computed outside every loop has the bits it has inside one: the cube and tanh of a max "
    "tie with the argmax's",
    T, float, double) {
  // pow<3>(max(x)) and tanh(max(x)) are computed once, outside the loop; pow<3>(x) and tanh(x) per
  // element, in SIMD batches and a scalar tail. At the maximum both are the same value, so each
  // count is the number of maximal elements (the fuzzer's seed 71, program 20, in small).
  constexpr auto x = input<"x", 1>;
  constexpr auto cubes = sum(where(pow<3>(x) >= pow<3>(max(x)), 1_c, 0_c));
  constexpr auto tanhs = sum(where(tanh(x) >= tanh(max(x)), 1_c, 0_c));
  const auto count = compile(cubes, tanhs);
  std::mt19937 random(71);
  std::uniform_real_distribution<double> value(-2.0, 2.0);
  std::uniform_int_distribution<std::size_t> extent(1, 40);
  for (int call = 0; call < 300; ++call) {  // new data on every call
    xt::xtensor<T, 1> xv = xt::xtensor<T, 1>::from_shape({extent(random)});
    for (auto& e : xv) e = static_cast<T>(value(random));
    if (call % 3 == 0) xv(xv.size() / 2) = *std::max_element(xv.begin(), xv.end());  // two maxima
    const T top = *std::max_element(xv.begin(), xv.end());
    const auto maxima = static_cast<double>(std::count(xv.begin(), xv.end(), top));
    const auto [C, H] = count(x = xv);
    INFO("call " << call << ", max " << static_cast<double>(top) << ", " << xv.size() << " elements");
    CHECK(static_cast<double>(C) == maxima);
    CHECK(static_cast<double>(H) >= maxima);  // tanh is flat in float far out: more may tie, none may be lost
  }
}

TEST_CASE("float32 sums over nested loops accumulate in double: no drift with N or with the thread count") {
  constexpr auto P = input<"P", 2>;  // (N, H)
  constexpr auto u = input<"u", 1>;  // (D)
  constexpr auto x = input<"x", 1>;  // short
  constexpr auto y = input<"y", 1>;  // long, iterated inside x's loop
  auto over_n_h_d = compile(sum(unsqueeze<2>(P) * u));
  auto outer = compile(sum(unsqueeze<1>(x) * y), sum<0>(unsqueeze<1>(y) * x));
  const std::size_t n = 1'600'000, h = 3, d = 5;
  for (int call = 0; call < 2; ++call) {
    xt::xtensor<float, 2> Pv = xt::xtensor<float, 2>::from_shape({n, h});
    xt::xtensor<float, 1> uv = xt::xtensor<float, 1>::from_shape({d}), xv = xt::xtensor<float, 1>::from_shape({3});
    double reference = 0, u_total = 0, x_total = 0, y_total = 0;
    for (std::size_t k = 0; k < d; ++k) u_total += uv(k) = 0.5f + 0.1f * static_cast<float>(k + call);
    for (std::size_t k = 0; k < 3; ++k) x_total += xv(k) = 0.25f * static_cast<float>(k + 1) - 0.1f * call;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < h; ++j) {
        Pv(i, j) = static_cast<float>((i * 7 + j * 3 + call) % 11) * 0.25f;
        reference += static_cast<double>(Pv(i, j)) * u_total;
      }
    const xt::xtensor<float, 1> yv = xt::flatten(Pv);
    for (float e : yv) y_total += e;
    for (unsigned threads : {1U, 3U}) {
      INFO("call " << call << ", " << threads << " threads");
      CHECK(static_cast<double>(over_n_h_d.threads(threads)(P = Pv, u = uv)) ==
            doctest::Approx(reference).epsilon(1e-6));
      const auto [total, columns] = outer.threads(threads)(x = xv, y = yv);
      CHECK(static_cast<double>(total) == doctest::Approx(x_total * y_total).epsilon(1e-6));
      for (std::size_t k = 0; k < 3; ++k)
        CHECK(static_cast<double>(columns(k)) == doctest::Approx(xv(k) * y_total).epsilon(1e-6));
    }
  }
}

TEST_CASE(
    "float32 local reductions over long loops accumulate in double: a middle axis, a long matrix product, rows "
    "run as SIMD lanes") {
  constexpr auto A = input<"A", 3>;
  constexpr auto M = input<"M", 2>;
  constexpr auto B = input<"B", 2>;
  auto middle = compile(sum<1>(A));                          // (b, n, h): b outermost, n folded around the h loop
  auto rows = compile(log(sum<1, 2>(A)));                    // per row, computed per row: rows run as lanes
  auto product = compile(matmul(M, B));                      // (m, k)·(k, p) with a long k
  auto filled = [](auto& t, unsigned call, unsigned salt) {  // not dyadic, so float sums round
    for (std::size_t i = 0; i < t.size(); ++i)
      t.data()[i] = static_cast<float>((i * 7 + call + salt) % 11) * 0.1f + 0.013f;
  };
  for (unsigned call = 0; call < 2; ++call) {
    auto Av = xt::xtensor<float, 3>::from_shape({2, 1'600'000, 3});
    auto Lv = xt::xtensor<float, 3>::from_shape({16, 20'000, 85});
    auto Mv = xt::xtensor<float, 2>::from_shape({2, 1'600'000});
    auto Bv = xt::xtensor<float, 2>::from_shape({1'600'000, 3});
    filled(Av, call, 0);
    filled(Lv, call, 1);
    filled(Mv, call, 2);
    filled(Bv, call, 3);
    std::vector<double> by_column(6, 0), by_row(16, 0), products(6, 0);
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t n = 0; n < 1'600'000; ++n)
        for (std::size_t j = 0; j < 3; ++j) {
          by_column[i * 3 + j] += Av(i, n, j);
          products[i * 3 + j] += static_cast<double>(Mv(i, n)) * Bv(n, j);
        }
    for (std::size_t i = 0; i < Lv.size(); ++i) by_row[i / (20'000 * 85)] += Lv.data()[i];
    for (unsigned threads : {1U, 3U}) {
      INFO("call " << call << ", " << threads << " threads");
      const xt::xtensor<float, 2> columns = middle.threads(threads)(A = Av);
      const xt::xtensor<float, 1> logs = rows.threads(threads)(A = Lv);
      const xt::xtensor<float, 2> matrix = product.threads(threads)(M = Mv, B = Bv);
      for (std::size_t e = 0; e < 6; ++e) {
        CHECK(static_cast<double>(columns.data()[e]) == doctest::Approx(by_column[e]).epsilon(1e-6));
        CHECK(static_cast<double>(matrix.data()[e]) == doctest::Approx(products[e]).epsilon(1e-6));
      }
      for (std::size_t r = 0; r < 16; ++r)  // a relative error of ε in the sum is ε in its log
        CHECK(std::abs(static_cast<double>(logs(r)) - std::log(by_row[r])) < 2e-6);
    }
  }
}

TEST_CASE(
    "simplified zeros and ones keep the shape of what they replace: reductions, numel and gradients agree with "
    "NumPy") {
  constexpr auto X = input<"X", 2>;
  constexpr auto w = var<"w">;
  const auto step = compile(sum(exp(X - X)), sum(softmax(X - X)), mean(X - X + w), numel(X - X), sum(X / X),
                            sum(where(X > w, 2_c, 2_c)), grad(sum(w + (X - X)), w));
  for (std::size_t rows : {2U, 4U}) {  // (2, 3), then (4, 5)
    const std::size_t columns = rows + 1, count = rows * columns;
    const xt::xtensor<double, 2> Xv = xt::ones<double>({rows, columns}) * 0.3;
    const auto [exps, softmaxes, average, elements, ratios, twos, dw] = step(X = Xv, w = 0.7);
    INFO(rows << " × " << columns);
    CHECK(exps == doctest::Approx(static_cast<double>(count)));        // Σ e⁰ over every element
    CHECK(softmaxes == doctest::Approx(static_cast<double>(rows)));    // each row's softmax sums to 1
    CHECK(average == doctest::Approx(0.7));                            // mean(0 + w) = w
    CHECK(elements == doctest::Approx(static_cast<double>(count)));    // numel(X − X) = numel(X)
    CHECK(ratios == doctest::Approx(static_cast<double>(count)));      // X/X is ones shaped like X
    CHECK(twos == doctest::Approx(2.0 * static_cast<double>(count)));  // where(c, 2, 2) has c's shape
    CHECK(dw == doctest::Approx(static_cast<double>(count)));          // w is broadcast to every element
  }
}

TEST_CASE("a gradient that simplifies to zero is zeros of the variable's shape, and differentiates again") {
  constexpr auto v = var<"v", 1>;
  constexpr auto b = var<"b">;
  constexpr auto q = input<"q", 1>;
  constexpr auto W = var<"W", 2>;
  constexpr auto f = mse(v, v) - b;  // (v − v)² is zero: ∂f/∂v = 0, H·q = 0
  const auto hessian_vector = compile(hvp(f, v, q), grad(f, v), grad(f, b), grad(sum(v) * b, W));
  for (std::size_t n : {3U, 5U}) {
    const xt::xtensor<double, 1> vv = xt::arange<double>(static_cast<double>(n)), qv = vv + 1.0;
    const xt::xtensor<double, 2> Wv = xt::ones<double>(std::array<std::size_t, 2>{n, 2});
    // q and b simplify away: the program binds only the leaves it has (a program ignores the rest).
    const auto [Hq, dv, db, dW] = hessian_vector(v = vv, q = qv, b = 1.5, W = Wv);
    INFO("n = " << n);
    REQUIRE(Hq.shape() == std::array<std::size_t, 1>{n});
    REQUIRE(dv.shape() == std::array<std::size_t, 1>{n});
    REQUIRE(dW.shape() == std::array<std::size_t, 2>{n, 2});
    for (std::size_t i = 0; i < n; ++i) {
      CHECK(Hq(i) == 0.0);
      CHECK(dv(i) == 0.0);
      CHECK(dW(i, 0) == 0.0);
      CHECK(dW(i, 1) == 0.0);
    }
    CHECK(db == -1.0);
  }
}
