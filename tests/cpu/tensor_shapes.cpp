// Tensor algebra on the CPU (tensor_algebra.hpp): broadcasting, axis reductions, softmax, cross-entropy and views.
#include "tensor_algebra.hpp"

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
