// reshape<E...>(x): a shape given by numbers (one of them −1 for the count the others leave), of
// leaves and of computed values, with gradients, an extent of 1 that broadcasts, and the count checks
// as shape errors; against loops written here, in every configuration and on a second call with new
// extents.
#include <cmath>
#include <string>

#include "contractions.hpp"

using namespace kobai;
using namespace kobai::literals;
using namespace contraction_test;

namespace {
constexpr auto p = var<"p", 1>;
constexpr auto A = input<"A", 2>;
constexpr auto v = var<"v", 1>;
}  // namespace

TEST_CASE_TEMPLATE("reshape<-1, 3> of packed points: per-point norms and their gradient", T, float, double) {
  constexpr auto points = reshape<-1, 3>(p);
  constexpr auto f = sum(sqrt(sum<1>(points * points) + 1_c));
  auto program = compile(points, f, grad(f, p), reshape<2, -1>(exp(p)));
  unsigned seed = 3;
  for (std::size_t count : {1U, 4U, 50U})
    for (int call = 0; call < 2; ++call, ++seed) {
      const std::size_t n = 2 * (count + call);  // an even number of points: reshape<2, -1> of 3n values
      const matrix packed = rounded<T>(random_matrix(1, 3 * n, 1.0, seed));
      double value = 0;
      std::vector<double> gradient(3 * n), exps(3 * n);
      for (std::size_t i = 0; i < n; ++i) {
        double squares = 1;
        for (std::size_t k = 0; k < 3; ++k) squares += packed.data[3 * i + k] * packed.data[3 * i + k];
        value += std::sqrt(squares);
        for (std::size_t k = 0; k < 3; ++k) gradient[3 * i + k] = packed.data[3 * i + k] / std::sqrt(squares);
      }
      for (std::size_t e = 0; e < 3 * n; ++e) exps[e] = std::exp(packed.data[e]);
      for (const configuration& setting : configurations) {
        configure(program, setting);
        const auto [P, F, dp, E] = program(p = vector<T>(packed));
        INFO(n << " points, call " << call << ", " << setting);
        REQUIRE(P.shape(0) == n);
        REQUIRE(P.shape(1) == 3);
        CHECK(relative_error(P, packed.data) == 0);
        CHECK(relative_error(static_cast<double>(F), value) < tolerance<T>);
        CHECK(relative_error(dp, gradient) < tolerance<T>);
        REQUIRE(E.shape(0) == 2);
        REQUIRE(E.shape(1) == 3 * n / 2);
        CHECK(relative_error(E, exps) < tolerance<T>);
      }
    }
}

TEST_CASE("an extent of 1 given to reshape broadcasts; its other axes meet the axes of other tensors") {
  constexpr auto scaled = reshape<-1, 1>(v) * A;  // v as a column: row i of A times v[i]
  constexpr auto f = sum(scaled * scaled);
  auto program = compile(scaled, grad(f, v));
  for (std::size_t rows : {1U, 6U})
    for (int call = 0; call < 2; ++call) {
      const std::size_t n = rows + call, m = 3 + call;
      const matrix a = random_matrix(n, m, 1.0, static_cast<unsigned>(10 + n + call));
      const matrix column = random_matrix(1, n, 1.0, static_cast<unsigned>(20 + n + call));
      std::vector<double> want(n * m), dv(n);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j) {
          want[i * m + j] = column.data[i] * a(i, j);
          dv[i] += 2 * column.data[i] * a(i, j) * a(i, j);
        }
      const auto [S, dV] = program(v = vector<double>(column), A = tensor<double>(a));
      CHECK(relative_error(S, want) < 1e-12);
      CHECK(relative_error(dV, dv) < 1e-12);
    }
  // reshape<2, 3> of a 2 × 3 computed value meets A's axes: A must be 2 × 3.
  auto fixed = compile(reshape<2, 3>(exp(v)) + A);
  CHECK_THROWS_WITH_AS(
      fixed(v = xt::xtensor<double, 1>{1, 2, 3, 4, 5, 6}, A = xt::xtensor<double, 2>({{1, 2}, {3, 4}})),
      doctest::Contains("reshaped tensor's axis of extent 3 meets an axis of extent 2"), kobai::shape_error);
}

TEST_CASE("reshape's counts are checked when the program is called") {
  auto inferred = compile(reshape<-1, 3>(p));
  CHECK_THROWS_WITH_AS(inferred(p = xt::xtensor<double, 1>{1, 2, 3, 4}),
                       "kobai: reshape<-1, 3> of a tensor of 4 elements: 4 is not a multiple of 3", kobai::shape_error);
  auto given = compile(reshape<2, 3>(p));
  CHECK_THROWS_WITH_AS(given(p = xt::xtensor<double, 1>{1, 2, 3, 4, 5, 6, 7}),
                       "kobai: reshape<2, 3> of a tensor of 7 elements: 7 is not 6", kobai::shape_error);
  const xt::xtensor<double, 2> six = given(p = xt::xtensor<double, 1>{1, 2, 3, 4, 5, 6});  // then it runs
  CHECK(six(1, 0) == 4);
}
