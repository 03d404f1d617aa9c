// select<Axis, Index> and narrow<Axis, Start, Length> (torch.select and torch.narrow: x[:, j] and
// x[:, a:b]), with their gradients: a per-row model reading the columns of a parameter matrix as
// bundle adjustment reads a camera's parameters, a narrow of a computed tensor differentiated twice,
// and reads past the end of an axis as errors. Each against float64 loops written here, in float and
// double, in every configuration, twice: the second call with new data and new extents.
#include <cmath>
#include <string>

#include "contractions.hpp"
#include "kobai/ir/plan.hpp"

using namespace kobai;
using namespace kobai::literals;
using namespace contraction_test;

namespace {
constexpr auto P = var<"P", 2>;
constexpr auto X = var<"X", 2>;
}  // namespace

TEST_CASE_TEMPLATE("select and narrow: a per-row model reading the columns of its parameters", T, float, double) {
  // r_n = P[n, 0]·P[n, 1] + Σ_j sin(P[n, 2 + j]) over j < 3 − obs_n, loss = ½ Σ r², for P (N, M ≥ 5)
  constexpr auto obs = input<"obs", 1>;
  constexpr auto r = select<1, 0>(P) * select<-1, 1>(P) + sum<1>(sin(narrow<1, 2, 3>(P))) - obs;
  constexpr auto loss = sum(pow<2>(r)) / 2_c;
  auto program = compile(narrow<1, 2, 3>(P), loss, grad(loss, P));
  unsigned seed = 900;
  for (const auto& [rows, columns] : {std::pair<std::size_t, std::size_t>{7, 5}, {1, 9}, {257, 6}, {33, 5}})
    for (int call = 0; call < 2; ++call, seed += 2) {
      const std::size_t n = rows + 3 * call, m = columns + call;  // the second call: new extents
      const matrix p = rounded<T>(random_matrix(n, m, 1.0, seed)), o = rounded<T>(random_matrix(1, n, 1.0, seed + 1));
      std::vector<double> middle(n * 3), dp(n * m);
      double value = 0;
      for (std::size_t i = 0; i < n; ++i) {
        double residual = p(i, 0) * p(i, 1) - o.data[i];
        for (std::size_t j = 0; j < 3; ++j) {
          middle[i * 3 + j] = p(i, 2 + j);
          residual += std::sin(p(i, 2 + j));
        }
        value += residual * residual / 2;
        dp[i * m] = residual * p(i, 1);
        dp[i * m + 1] = residual * p(i, 0);
        for (std::size_t j = 0; j < 3; ++j) dp[i * m + 2 + j] = residual * std::cos(p(i, 2 + j));
      }
      for (const configuration& setting : configurations) {
        configure(program, setting);
        INFO(n << " × " << m << ", call " << call << ", " << setting);
        const auto [got_middle, got_loss, got_dp] = program(P = tensor<T>(p), obs = vector<T>(o));
        CHECK(got_middle.shape() == std::array<std::size_t, 2>{n, 3});
        CHECK(relative_error(got_middle, middle) == 0);  // copied, not computed
        CHECK(relative_error(static_cast<double>(got_loss), value) < tolerance<T>);
        CHECK(relative_error(got_dp, dp) < tolerance<T>);
      }
    }
}

TEST_CASE_TEMPLATE("narrow of a computed tensor along its first axis, differentiated twice", T, float, double) {
  // Y = tanh(X)·2, f = Σ narrow<0, 1, 2>(Y)³: rows 1 and 2; ∇f and (∇²f)·U by hand
  constexpr auto U = input<"U", 2>;
  constexpr auto f = sum(pow<3>(narrow<0, 1, 2>(tanh(X) * 2_c)));
  constexpr auto g = grad(f, X);
  auto program = compile(f, g, grad(sum(g * U), X));
  unsigned seed = 950;
  for (const auto& [rows, columns] : {std::pair<std::size_t, std::size_t>{3, 4}, {5, 1}, {9, 33}})
    for (int call = 0; call < 2; ++call, seed += 2) {
      const std::size_t n = rows + call, m = columns + 2 * call;
      const matrix x = rounded<T>(random_matrix(n, m, 1.0, seed)), u = rounded<T>(random_matrix(n, m, 1.0, seed + 1));
      double value = 0;
      std::vector<double> gradient(n * m), hvp(n * m);
      for (std::size_t i = 1; i < 3; ++i)
        for (std::size_t j = 0; j < m; ++j) {
          const double t = std::tanh(x(i, j)), y = 2 * t, dy = 2 * (1 - t * t), d2y = -4 * t * (1 - t * t);
          value += y * y * y;
          gradient[i * m + j] = 3 * y * y * dy;
          hvp[i * m + j] = (6 * y * dy * dy + 3 * y * y * d2y) * u(i, j);
        }
      for (const configuration& setting : configurations) {
        configure(program, setting);
        INFO(n << " × " << m << ", call " << call << ", " << setting);
        const auto [got_f, got_g, got_hvp] = program(X = tensor<T>(x), U = tensor<T>(u));
        CHECK(relative_error(static_cast<double>(got_f), value) < tolerance<T>);
        CHECK(relative_error(got_g, gradient) < tolerance<T>);
        CHECK(relative_error(got_hvp, hvp) < tolerance<T>);
      }
    }
}

TEST_CASE("a slice past the end of its axis is a shape_error naming it") {
  const auto message = [](auto program, std::size_t columns) {
    try {
      const matrix p = random_matrix(2, columns, 1.0, 3);
      program(P = tensor<double>(p));
    } catch (const kobai::shape_error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  CHECK(message(compile(sum(select<1, 4>(P))), 4) == "kobai: select<1, 4> of an axis of extent 4: past its end");
  CHECK(message(compile(sum(narrow<1, 2, 3>(P))), 4) == "kobai: narrow<1, 2, 3> of an axis of extent 4: past its end");
  CHECK(message(compile(sum(narrow<1, 2, 3>(P))), 5) == "no error");
}

TEST_CASE("the per-row model's program: the columns copied before the rows' one loop") {
  constexpr auto obs = input<"obs", 1>;
  constexpr auto r = select<1, 0>(P) * select<-1, 1>(P) + sum<1>(sin(narrow<1, 2, 3>(P))) - obs;
  constexpr auto loss = sum(pow<2>(r)) / 2_c;
  using plan = ir::program_plan<decltype(loss), decltype(grad(loss, P))>;
  int fills = 0;
  for (int i = 0; i < plan::value.size; ++i)
    fills += plan::value.code[static_cast<std::size_t>(i)].op == ir::instr::indirect;
  CHECK(fills == 6);              // three slices, and three gradients put back
  CHECK(plan::value.loops == 2);  // the rows (the loss, the slices' gradients), then ∂P's sum of the three
}

TEST_CASE_TEMPLATE("concat: features joined before a linear layer, each part's gradient its slices", T, float, double) {
  // Z = [A, tanh(B)] along axis 1, R = Z·W − Y, loss = ½ Σ R²: W's rows meet the joined axis
  constexpr auto A = var<"A", 2>;
  constexpr auto B = var<"B", 2>;
  constexpr auto W = var<"W", 2>;
  constexpr auto Y = input<"Y", 2>;
  constexpr auto joined = concat<1>(A, tanh(B));
  constexpr auto loss = sum(pow<2>(matmul(joined, W) - Y)) / 2_c;
  auto program = compile(joined, loss, grad(loss, A, B, W));
  unsigned seed = 1000;
  struct size {
    std::size_t n, m1, m2, k;
  };
  for (const size& s : {size{5, 2, 3, 4}, size{1, 1, 1, 1}, size{40, 7, 17, 3}})
    for (int call = 0; call < 2; ++call, seed += 4) {
      const std::size_t n = s.n + 3 * call, m1 = s.m1 + call, m2 = s.m2, k = s.k + call, m = m1 + m2;
      const matrix a = rounded<T>(random_matrix(n, m1, 1.0, seed)), b = rounded<T>(random_matrix(n, m2, 1.0, seed + 1));
      const matrix w = rounded<T>(random_matrix(m, k, 1.0, seed + 2)),
                   y = rounded<T>(random_matrix(n, k, 1.0, seed + 3));
      matrix z(n, m);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j) z(i, j) = j < m1 ? a(i, j) : std::tanh(b(i, j - m1));
      std::vector<double> da(n * m1), db(n * m2), dw(m * k);
      double value = 0;
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < k; ++c) {
          double r = -y(i, c);
          for (std::size_t j = 0; j < m; ++j) r += z(i, j) * w(j, c);
          value += r * r / 2;
          for (std::size_t j = 0; j < m; ++j) {
            dw[j * k + c] += z(i, j) * r;
            if (j < m1)
              da[i * m1 + j] += w(j, c) * r;
            else
              db[i * m2 + j - m1] += w(j, c) * r * (1 - z(i, j) * z(i, j));
          }
        }
      for (const configuration& setting : configurations) {
        configure(program, setting);
        INFO(n << " rows, " << m1 << " + " << m2 << " features, call " << call << ", " << setting);
        const auto [got_z, got_loss, got_da, got_db, got_dw] =
            program(A = tensor<T>(a), B = tensor<T>(b), W = tensor<T>(w), Y = tensor<T>(y));
        CHECK(got_z.shape() == std::array<std::size_t, 2>{n, m});
        CHECK(relative_error(got_z, z.data) < tolerance<T>);
        CHECK(relative_error(static_cast<double>(got_loss), value) < tolerance<T>);
        CHECK(relative_error(got_da, da) < tolerance<T>);
        CHECK(relative_error(got_db, db) < tolerance<T>);
        CHECK(relative_error(got_dw, dw) < tolerance<T>);
      }
    }
}

TEST_CASE("a joined axis that meets another extent is a shape_error naming both") {
  constexpr auto A = var<"A", 2>;
  constexpr auto W = var<"W", 2>;
  auto program = compile(sum(matmul(concat<1>(A, A), W)));
  const matrix a = random_matrix(2, 3, 1.0, 5), w = random_matrix(5, 2, 1.0, 6);
  CHECK_THROWS_WITH_AS(program(A = tensor<double>(a), W = tensor<double>(w)),
                       "kobai: a concatenation's axis of extent 6 meets an axis of extent 5 (from 'W')",
                       kobai::shape_error);
}
