// One computed contraction read along two axes (ir/uses.hpp), split from multi_use.cpp so that each
// file compiles in under 30 s: a maximum over a self-product's contraction, through the lower
// triangle, and Σ G⊙(Z·Z) with Z = U·V, against float64 references written here with plain loops,
// in float and double, and on a second call with new data and new extents.
#include <cmath>
#include <string>

#include "contractions.hpp"
#include "kobai/ir/plan.hpp"

using namespace kobai;
using namespace kobai::literals;
using namespace contraction_test;

namespace {
template <class T, bool Lower, class Step>
void check_max_of_self_product(Step& step) {
  constexpr auto v = var<"v", 1>;
  constexpr auto B = input<"B", 2>;
  unsigned seed = Lower ? 400 : 300;
  for (std::size_t n : {3U, 4U, 7U, 9U})
    for (int call = 0; call < 2; ++call, seed += 2) {
      const std::size_t m = 3 + 2 * static_cast<std::size_t>(call) + (Lower ? 2 : 0);
      const matrix point = rounded<T>(random_matrix(1, n, 1.0, seed));
      const matrix b = rounded<T>(random_matrix(n, m, 1.0, seed + 1));
      const auto& p = point.data;
      matrix t(n, n), z(n, m), dt(n, n);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < n; ++k) t(i, k) = std::tanh(p[i] * p[k]);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j)
          for (std::size_t k = 0; k < n; ++k) z(i, j) += t(i, k) * b(k, j);
      const auto entry = [&](std::size_t i, std::size_t j) { return !Lower || j <= i ? z(i, j) : 0.0; };
      double value = 0;
      for (std::size_t j = 0; j < m; ++j) {
        std::size_t top = 0;
        for (std::size_t i = 1; i < n; ++i) top = entry(i, j) > entry(top, j) ? i : top;
        value += entry(top, j);
        if (Lower && j > top) continue;                             // a zero above the diagonal: no gradient reaches Z
        for (std::size_t k = 0; k < n; ++k) dt(top, k) += b(k, j);  // dZ is 1 at the maximum
      }
      std::vector<double> gradient(n);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < n; ++k) {
          const double through = dt(i, k) * (1 - t(i, k) * t(i, k));
          gradient[i] += through * p[k];
          gradient[k] += through * p[i];
        }
      for (const configuration& setting : configurations) {
        configure(step, setting);
        const auto [L, dv] = step(v = vector<T>(point), B = tensor<T>(b));
        INFO("N = " << n << ", M = " << m << ", call " << call << ", " << setting);
        CHECK(relative_error(static_cast<double>(L), value) < tolerance<T>);
        CHECK(relative_error(dv, gradient) < tolerance<T>);
      }
    }
}
}  // namespace

TEST_CASE_TEMPLATE("a maximum over a self-product's contraction: its gradient's tie test compares one computed sum", T,
                   float, double) {
  constexpr auto v = var<"v", 1>;
  constexpr auto B = input<"B", 2>;
  constexpr auto loss = sum(max<0>(matmul(tanh(unsqueeze<1>(v) * unsqueeze<0>(v)), B), keepdims));
  auto step = compile(loss, grad(loss, v));
  check_max_of_self_product<T, false>(step);
}

TEST_CASE_TEMPLATE("the same through the lower triangle: max<0>(tril(Z)) (fuzz seed 109 program 29)", T, float,
                   double) {
  constexpr auto v = var<"v", 1>;
  constexpr auto B = input<"B", 2>;
  constexpr auto loss = sum(max<0>(tril(matmul(tanh(unsqueeze<1>(v) * unsqueeze<0>(v)), B)), keepdims));
  auto step = compile(loss, grad(loss, v));
  check_max_of_self_product<T, true>(step);
}

TEST_CASE_TEMPLATE("a computed product read along both axes: Σ G⊙(Z·Z) with Z = U·V, and ∂/∂V = Uᵀ(G·Zᵀ + Zᵀ·G)", T,
                   float, double) {
  // Z is summed once and read again from memory as Z[k, j] (ops::reread): a loop nest for Z, one
  // writing out its value for the reread, then Σ G⊙(Z·Z).
  constexpr auto U = input<"U", 2>;
  constexpr auto V = var<"V", 2>;
  constexpr auto G = input<"G", 2>;
  constexpr auto Zp = matmul(U, V);
  constexpr auto loss = sum(G * matmul(Zp, Zp));
  CHECK(ir::loop_count(loss) == 3);
  auto step = compile(loss, grad(loss, V), matmul(Zp, Zp));
  unsigned seed = 500;
  for (std::size_t n : {1U, 6U, 19U})
    for (int call = 0; call < 2; ++call, seed += 3) {
      const std::size_t rows = n + static_cast<std::size_t>(call), d = 3 + 2 * static_cast<std::size_t>(call);
      const matrix u = rounded<T>(random_matrix(rows, d, 1.0, seed));
      const matrix v = rounded<T>(random_matrix(d, rows, 1.0, seed + 1));
      const matrix g = rounded<T>(random_matrix(rows, rows, 1.0, seed + 2));
      matrix z(rows, rows), zz(rows, rows), dz(rows, rows), dv(d, rows);
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < rows; ++j)
          for (std::size_t k = 0; k < d; ++k) z(i, j) += u(i, k) * v(k, j);
      double value = 0;
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < rows; ++j) {
          for (std::size_t k = 0; k < rows; ++k) {
            zz(i, j) += z(i, k) * z(k, j);
            dz(i, j) += g(i, k) * z(j, k) + z(k, i) * g(k, j);  // (G·Zᵀ + Zᵀ·G)[i, j]
          }
          value += g(i, j) * zz(i, j);
        }
      for (std::size_t k = 0; k < d; ++k)
        for (std::size_t j = 0; j < rows; ++j)
          for (std::size_t i = 0; i < rows; ++i) dv(k, j) += u(i, k) * dz(i, j);
      for (const configuration& setting : configurations) {
        configure(step, setting);
        const auto [L, dV, ZZ] = step(U = tensor<T>(u), V = tensor<T>(v), G = tensor<T>(g));
        INFO("N = " << rows << ", D = " << d << ", call " << call << ", " << setting);
        CHECK(relative_error(static_cast<double>(L), value) < tolerance<T>);
        CHECK(relative_error(dV, dv.data) < tolerance<T>);
        CHECK(relative_error(ZZ, zz.data) < tolerance<T>);
      }
    }
}
