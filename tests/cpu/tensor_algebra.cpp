// Tensor algebra on the CPU executor: broadcasting between shapes, reductions along axes, matmul,
// transpose and the losses built from them. Values are checked against hand-written loops, and
// gradients against float64 central differences (gradcheck).
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

void check_close(double actual, double expected) { CHECK(actual == doctest::Approx(expected).epsilon(1e-12)); }
}  // namespace

TEST_CASE("broadcasting: a row vector along the last axis, a column against a row") {
  const auto rowwise = compile(A * u + 1_c)(A = Av, u = uv);
  REQUIRE(rowwise.shape() == std::array<std::size_t, 2>{3, 4});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 4; ++j) check_close(rowwise(i, j), Av(i, j) * uv(j) + 1);

  const auto grid = compile(unsqueeze<1>(r) - unsqueeze<0>(u))(r = rv, u = uv);  // (3, 1) − (1, 4)
  REQUIRE(grid.shape() == std::array<std::size_t, 2>{3, 4});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 4; ++j) check_close(grid(i, j), rv(i) - uv(j));

  // keepdims results broadcast back: rows centred on their means
  const auto centred = compile(A - mean<1>(A, keepdims))(A = Av);
  for (std::size_t i = 0; i < 3; ++i) {
    double m = 0;
    for (std::size_t j = 0; j < 4; ++j) m += Av(i, j) / 4;
    for (std::size_t j = 0; j < 4; ++j) check_close(centred(i, j), Av(i, j) - m);
  }
}

TEST_CASE("reductions along axes, with and without keepdims") {
  const auto [rows, columns, kept, largest, smallest, total] =
      compile(sum<1>(A), sum<0>(A), sum<0>(A, keepdims), max<1>(A), min<0>(A), sum<0, 1>(A))(A = Av);
  REQUIRE(rows.shape() == std::array<std::size_t, 1>{3});
  REQUIRE(columns.shape() == std::array<std::size_t, 1>{4});
  REQUIRE(kept.shape() == std::array<std::size_t, 2>{1, 4});
  double all = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    double s = 0, m = -INFINITY;
    for (std::size_t j = 0; j < 4; ++j) s += Av(i, j), m = std::max(m, Av(i, j)), all += Av(i, j);
    check_close(rows(i), s);
    check_close(largest(i), m);
  }
  for (std::size_t j = 0; j < 4; ++j) {
    double s = 0, m = INFINITY;
    for (std::size_t i = 0; i < 3; ++i) s += Av(i, j), m = std::min(m, Av(i, j));
    check_close(columns(j), s);
    check_close(kept(0, j), s);
    check_close(smallest(j), m);
  }
  check_close(total, all);
}

TEST_CASE("logsumexp and softmax along an axis are stable and match their definitions") {
  const auto [lse, soft] = compile(logsumexp<1>(A), softmax(A))(A = Av);
  for (std::size_t i = 0; i < 3; ++i) {
    double s = 0, norm = 0;
    for (std::size_t j = 0; j < 4; ++j) s += std::exp(Av(i, j));
    check_close(lse(i), std::log(s));
    for (std::size_t j = 0; j < 4; ++j) check_close(soft(i, j), std::exp(Av(i, j)) / s), norm += soft(i, j);
    check_close(norm, 1.0);
  }
  const xt::xtensor<double, 2> huge = {{1000, 1001}, {-1000, -1002}};  // exp overflows and underflows
  const auto stable = compile(logsumexp<1>(A))(A = huge);
  check_close(stable(0), 1001 + std::log1p(std::exp(-1.0)));
  check_close(stable(1), -1000 + std::log1p(std::exp(-2.0)));
}

TEST_CASE("matmul: matrix·matrix, matrix·vector, vector·matrix and vector·vector") {
  const auto [AB, Au, rA, uu] =
      compile(matmul(A, B), matmul(A, u), matmul(r, A), matmul(u, u))(A = Av, B = Bv, u = uv, r = rv);
  REQUIRE(AB.shape() == std::array<std::size_t, 2>{3, 5});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 5; ++j) {
      double s = 0;
      for (std::size_t k = 0; k < 4; ++k) s += Av(i, k) * Bv(k, j);
      check_close(AB(i, j), s);
    }
  for (std::size_t i = 0; i < 3; ++i) {
    double s = 0;
    for (std::size_t k = 0; k < 4; ++k) s += Av(i, k) * uv(k);
    check_close(Au(i), s);
  }
  for (std::size_t j = 0; j < 4; ++j) {
    double s = 0;
    for (std::size_t i = 0; i < 3; ++i) s += rv(i) * Av(i, j);
    check_close(rA(j), s);
  }
  double d = 0;
  for (std::size_t k = 0; k < 4; ++k) d += uv(k) * uv(k);
  check_close(uu, d);
}

TEST_CASE("transpose reads the other axis order, and Aᵀ·A is formed through a copy of A") {
  const auto At = compile(transpose(A))(A = Av);
  REQUIRE(At.shape() == std::array<std::size_t, 2>{4, 3});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 4; ++j) check_close(At(j, i), Av(i, j));
  constexpr auto C = input<"C", 2>;  // Aᵀ·A uses A along two axes: bind A to a second leaf too
  const auto gram = compile(matmul(transpose(A), C))(A = Av, C = Av);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 4; ++j) {
      double s = 0;
      for (std::size_t k = 0; k < 3; ++k) s += Av(k, i) * Av(k, j);
      check_close(gram(i, j), s);
    }
}

TEST_CASE("gradients through broadcasting, axis reductions, matmul and transpose match finite differences") {
  CHECK(gradcheck(sum(pow<2>(A * u - 1_c)), A = Av, u = uv).passed());                     // u broadcast over rows
  CHECK(gradcheck(sum(exp(unsqueeze<1>(r) * unsqueeze<0>(u))), r = rv, u = uv).passed());  // outer product
  CHECK(gradcheck(sum(tanh(A - mean<1>(A, keepdims))), A = Av).passed());
  CHECK(gradcheck(sum(sin(sum<0>(A)) * u) + sum(sum<1>(A, keepdims) * A), A = Av, u = uv).passed());
  CHECK(gradcheck(sum(max<1>(A) * r) + sum(min<0>(A) * u), A = Av, r = rv, u = uv).passed());
  CHECK(gradcheck(sum(logsumexp<1>(A) * r) + logsumexp(A), A = Av, r = rv).passed());
  CHECK(gradcheck(sum(pow<2>(matmul(A, B))), A = Av, B = Bv).passed());
  CHECK(gradcheck(sum(sigmoid(matmul(A, u) + r)), A = Av, u = uv, r = rv).passed());
  CHECK(gradcheck(sum(cos(matmul(r, A))) + dot(u, u), A = Av, r = rv, u = uv).passed());
  CHECK(gradcheck(sum(transpose(A) * B), A = Av, B = filled<2>({4, 3}, 0.9)).passed());
  CHECK(gradcheck(sum(pow<2>(softmax(A) - 0.25_c)), A = Av).passed());
}

TEST_CASE("cross-entropy over logits, with probability targets, and its gradient (softmax − y)/N") {
  const xt::xtensor<double, 2> targets = {{0, 1, 0, 0}, {0.25, 0.25, 0.5, 0}, {1, 0, 0, 0}};
  constexpr auto loss = cross_entropy(A, Y);
  const auto [L, dA] = compile(loss, grad(loss, A))(A = Av, Y = targets);
  double expected = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < 4; ++j) s += std::exp(Av(i, j));
    for (std::size_t j = 0; j < 4; ++j) {
      expected -= targets(i, j) * (Av(i, j) - std::log(s)) / 3;
      check_close(dA(i, j), (std::exp(Av(i, j)) / s - targets(i, j)) / 3);
    }
  }
  check_close(L, expected);
  CHECK(gradcheck(loss, A = Av, Y = targets).passed());
}

TEST_CASE("tensor-valued outputs: vjp with a seed, jacobian and hessian") {
  const auto seed = filled<1>({3}, 0.5);
  constexpr auto s = input<"s", 1>;
  const auto product = vjp(matmul(A, u), u, s);           // Aᵀ·s
  const auto value = compile(product)(A = Av, s = seed);  // Aᵀ·s does not depend on u
  for (std::size_t k = 0; k < 4; ++k) {
    double e = 0;
    for (std::size_t i = 0; i < 3; ++i) e += Av(i, k) * seed(i);
    check_close(value(k), e);
  }
  const auto J = jacobian(matmul(A, u), u, A = Av, u = uv);  // = A
  REQUIRE(J.shape() == std::array<std::size_t, 2>{3, 4});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t k = 0; k < 4; ++k) check_close(J(i, k), Av(i, k));
  // f(u) = Σᵢ exp((A·u)ᵢ): H = Aᵀ·diag(exp(A·u))·A
  const auto H = hessian(sum(exp(matmul(A, u))), u, A = Av, u = uv);
  for (std::size_t k = 0; k < 4; ++k)
    for (std::size_t l = 0; l < 4; ++l) {
      double e = 0;
      for (std::size_t i = 0; i < 3; ++i) {
        double z = 0;
        for (std::size_t m = 0; m < 4; ++m) z += Av(i, m) * uv(m);
        e += Av(i, k) * std::exp(z) * Av(i, l);
      }
      CHECK(H(k, l) == doctest::Approx(e).epsilon(1e-10));
    }
}

TEST_CASE("flatten and reshape_as: views of leaves, and of computed values materialized between loops") {
  constexpr auto v = var<"v", 1>;  // 12 elements, like A
  const auto vv = filled<1>({12}, 0.4);
  const auto [flat, scaled, back] = compile(flatten(A), flatten(exp(A)) * v, reshape_as(v * 2_c, A))(A = Av, v = vv);
  REQUIRE(flat.shape() == std::array<std::size_t, 1>{12});
  REQUIRE(back.shape() == std::array<std::size_t, 2>{3, 4});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 4; ++j) {
      check_close(flat(4 * i + j), Av(i, j));  // row-major
      check_close(scaled(4 * i + j), std::exp(Av(i, j)) * vv(4 * i + j));
      check_close(back(i, j), 2 * vv(4 * i + j));
    }
  CHECK(ir::loop_count(flatten(exp(A)) * v) == 2);  // exp(A) is written out, then read as a vector
  CHECK(gradcheck(sum(flatten(tanh(A)) * v) + sum(pow<2>(reshape_as(sin(v), A) - A)), A = Av, v = vv).passed());
  CHECK(gradcheck(sum(exp(flatten(matmul(A, B)))), A = Av, B = Bv).passed());
  const xt::xtensor<double, 1> wrong = xt::zeros<double>({11});
  CHECK_THROWS_WITH_AS(compile(flatten(A) * v)(A = Av, v = wrong), doctest::Contains("12 elements"),
                       kobai::shape_error);
}

TEST_CASE("batched matmul: stacks of matrices, and a stack against one matrix") {
  constexpr auto S = var<"S", 3>;
  const auto Sv = filled<3>({2, 3, 4}, 0.8);
  const auto Tv = filled<3>({2, 4, 5}, -0.2);
  constexpr auto T3 = var<"T3", 3>;
  const auto [stacked, shared] = compile(matmul(S, T3), matmul(S, B))(S = Sv, T3 = Tv, B = Bv);
  REQUIRE(stacked.shape() == std::array<std::size_t, 3>{2, 3, 5});
  REQUIRE(shared.shape() == std::array<std::size_t, 3>{2, 3, 5});
  for (std::size_t k = 0; k < 2; ++k)
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < 5; ++j) {
        double a = 0, c = 0;
        for (std::size_t m = 0; m < 4; ++m) a += Sv(k, i, m) * Tv(k, m, j), c += Sv(k, i, m) * Bv(m, j);
        check_close(stacked(k, i, j), a);
        check_close(shared(k, i, j), c);
      }
  CHECK(gradcheck(sum(tanh(matmul(S, T3))) + sum(pow<2>(matmul(S, B))), S = Sv, T3 = Tv, B = Bv).passed());
}

TEST_CASE("hvp on a vector variable: H·s without forming H") {
  constexpr auto s = input<"s", 1>;
  const auto sv = filled<1>({4}, 1.9);
  const auto Hs = compile(hvp(sum(exp(matmul(A, u))), u, s))(A = Av, u = uv, s = sv);
  REQUIRE(Hs.shape() == std::array<std::size_t, 1>{4});
  for (std::size_t k = 0; k < 4; ++k) {  // H = Aᵀ·diag(exp(A·u))·A
    double e = 0;
    for (std::size_t i = 0; i < 3; ++i) {
      double z = 0, as = 0;
      for (std::size_t m = 0; m < 4; ++m) z += Av(i, m) * uv(m), as += Av(i, m) * sv(m);
      e += Av(i, k) * std::exp(z) * as;
    }
    check_close(Hs(k), e);
  }
}

TEST_CASE(
    "a value is read only after the loop that produces it: a reduction over a computed view, a view of a reduction") {
  // exp(A) (3, 4) read back in the shape (4, 3): the reduction's loops run in another order than
  // the loops writing exp(A), so it has to wait for all of them.
  const auto folded = compile(sum<1>(reshape_as(exp(A), transpose(A))))(A = Av);
  REQUIRE(folded.shape() == std::array<std::size_t, 1>{4});
  for (std::size_t r = 0; r < 4; ++r) {
    double s = 0;
    for (std::size_t c = 0; c < 3; ++c) s += std::exp(Av.data()[3 * r + c]);
    check_close(folded(r), s);
  }
  constexpr auto S = var<"S", 3>;
  const auto Sv = filled<3>({2, 3, 4}, 0.1);
  constexpr auto rows = sum<2>(S);
  const auto [flat, centred] = compile(flatten(rows), rows - mean(rows))(S = Sv);
  double total = 0;
  for (std::size_t i = 0; i < 6; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < 4; ++j) s += Sv.data()[4 * i + j];
    check_close(flat(i), s);
    total += s / 6;
  }
  for (std::size_t i = 0; i < 6; ++i) check_close(centred.data()[i], flat(i) - total);
}

TEST_CASE("the same expression asked for twice fills both outputs") {
  constexpr auto v = var<"v", 1>;
  const auto [value, gradient] = compile(exp(v), grad(sum(exp(v)), v))(v = uv);  // d/dv Σ exp(v) = exp(v)
  for (std::size_t k = 0; k < 4; ++k) {
    check_close(value(k), std::exp(uv(k)));
    check_close(gradient(k), std::exp(uv(k)));
  }
  const auto [rows, again] = compile(sum<1>(A), sum<1>(A))(A = Av);
  for (std::size_t i = 0; i < 3; ++i) check_close(again(i), rows(i));
}

TEST_CASE("a two-layer network: loss and gradients against a hand-written forward pass and finite differences") {
  constexpr auto X = input<"X", 2>;  // (5, 3)
  constexpr auto W1 = var<"W1", 2>;  // (3, 4)
  constexpr auto w2 = var<"w2", 1>;  // (4)
  constexpr auto y = input<"y", 1>;  // (5)
  constexpr auto loss = mse(matmul(tanh(matmul(X, W1)), w2), y);
  const auto Xv = filled<2>({5, 3}, 0.2), W1v = filled<2>({3, 4}, 1.3);
  const auto w2v = filled<1>({4}, -0.4), yv = filled<1>({5}, 2.2);
  double expected = 0;
  for (std::size_t n = 0; n < 5; ++n) {
    double out = 0;
    for (std::size_t h = 0; h < 4; ++h) {
      double z = 0;
      for (std::size_t d = 0; d < 3; ++d) z += Xv(n, d) * W1v(d, h);
      out += std::tanh(z) * w2v(h);
    }
    expected += (out - yv(n)) * (out - yv(n)) / 5;
  }
  check_close(compile(loss)(X = Xv, W1 = W1v, w2 = w2v, y = yv), expected);
  CHECK(gradcheck(loss, X = Xv, W1 = W1v, w2 = w2v, y = yv).passed());
}
