// Tensor algebra on the CPU (tensor_algebra.hpp): matmul, transpose, batched matmul, vjp, jacobian and hessian.
#include "tensor_algebra.hpp"

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
