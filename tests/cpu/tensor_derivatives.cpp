// Tensor algebra on the CPU (tensor_algebra.hpp): gradients through matmul and softmax, hvp, repeated outputs, a
// two-layer network.
#include "tensor_algebra.hpp"

TEST_CASE("gradients through matmul, transpose and softmax match finite differences") {
  CHECK(gradcheck(sum(pow<2>(matmul(A, B))), A = Av, B = Bv).passed());
  CHECK(gradcheck(sum(sigmoid(matmul(A, u) + r)), A = Av, u = uv, r = rv).passed());
  CHECK(gradcheck(sum(cos(matmul(r, A))) + dot(u, u), A = Av, r = rv, u = uv).passed());
  CHECK(gradcheck(sum(transpose(A) * B), A = Av, B = filled<2>({4, 3}, 0.9)).passed());
  CHECK(gradcheck(sum(pow<2>(softmax(A) - 0.25_c)), A = Av).passed());
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
