// take<Axis>(table, idx), an embedding lookup or torch.index_select, and its gradient, a
// scatter-add of the adjoint's slices (put_add): in an embedding classifier's step, along an inner
// axis with a matrix of indices from a computed table, with the table used elsewhere too and
// differentiated twice (a Hessian-vector product), and gathering cameras and points by observation
// as bundle adjustment does. Each against float64 loops written here (gradients derived by hand, or
// central differences), in float and double, in every configuration, twice: the second call with
// new data and new extents. Indices outside the table are errors naming the leaf.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <xtensor/xtensor.hpp>

#include "contractions.hpp"
#include "kobai/ir/plan.hpp"

using namespace kobai;
using namespace kobai::literals;
using namespace contraction_test;

namespace {
constexpr auto E = var<"E", 2>;
constexpr auto W = var<"W", 2>;
constexpr auto X = var<"X", 2>;
constexpr auto idx = input<"idx", 1, std::int64_t>;
constexpr auto labels = input<"y", 1, std::int64_t>;

/// n indices in [0, length), every one of them at least once when n allows (repeats elsewhere).
std::vector<std::int64_t> random_indices(std::size_t n, std::size_t length, unsigned seed) {
  std::mt19937 generator(seed);
  std::vector<std::int64_t> out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<std::int64_t>(i < length && n >= 2 * length ? i : generator() % length);
  return out;
}
template <class I = std::int64_t>
xt::xtensor<I, 1> index_tensor(const std::vector<std::int64_t>& values) {
  auto t = xt::xtensor<I, 1>::from_shape({values.size()});
  for (std::size_t i = 0; i < values.size(); ++i) t(i) = static_cast<I>(values[i]);
  return t;
}
template <class Tensor>
std::vector<double> values_of(const Tensor& t) {
  return {t.data(), t.data() + t.size()};
}
}  // namespace

TEST_CASE_TEMPLATE("take<0>: an embedding classifier's step, the table's gradient a scatter-add", T, float, double) {
  constexpr auto rows = take<0>(E, idx);
  constexpr auto loss = cross_entropy(matmul(rows, W), labels);
  auto program = compile(rows, loss, grad(loss, E, W));
  unsigned seed = 100;
  struct size {
    std::size_t v, d, c, n;
  };
  for (const size& s : {size{5, 3, 4, 7}, size{1, 1, 2, 1}, size{40, 17, 10, 257}, size{9, 33, 3, 20}})
    for (int call = 0; call < 2; ++call, seed += 4) {
      const std::size_t v = s.v + call, d = s.d + call, c = s.c, n = s.n + 3 * call;  // the second call: new extents
      const matrix e = rounded<T>(random_matrix(v, d, 1.0, seed)), w = rounded<T>(random_matrix(d, c, 1.0, seed + 1));
      const std::vector<std::int64_t> at = random_indices(n, v, seed + 2), y = random_indices(n, c, seed + 3);
      // reference: the rows, logits, mean cross-entropy; its gradient by hand, scattered back by index
      std::vector<double> gathered(n * d), de(v * d), dw(d * c);
      double value = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const auto r = static_cast<std::size_t>(at[i]);
        for (std::size_t k = 0; k < d; ++k) gathered[i * d + k] = e(r, k);
        std::vector<double> z(c), dz, target(c);
        for (std::size_t j = 0; j < c; ++j)
          for (std::size_t k = 0; k < d; ++k) z[j] += e(r, k) * w(k, j);
        target[static_cast<std::size_t>(y[i])] = 1;
        value += cross_entropy_row(z, target.data(), dz) / static_cast<double>(n);
        for (std::size_t j = 0; j < c; ++j)
          for (std::size_t k = 0; k < d; ++k) {
            dw[k * c + j] += e(r, k) * dz[j] / static_cast<double>(n);
            de[r * d + k] += w(k, j) * dz[j] / static_cast<double>(n);
          }
      }
      for (const configuration& setting : configurations) {
        configure(program, setting);
        INFO(v << " rows of " << d << ", " << n << " indices, call " << call << ", " << setting);
        const auto [got_rows, got_loss, got_de, got_dw] =
            program(E = tensor<T>(e), W = tensor<T>(w), idx = index_tensor(at), labels = index_tensor(y));
        CHECK(relative_error(got_rows, gathered) == 0);  // copied, not computed
        CHECK(relative_error(static_cast<double>(got_loss), value) < tolerance<T>);
        CHECK(relative_error(got_de, de) < tolerance<T>);
        CHECK(relative_error(got_dw, dw) < tolerance<T>);
        // the scatter-add runs in order: the same bits on every call with the same setting
        const auto again =
            program(E = tensor<T>(e), W = tensor<T>(w), idx = index_tensor(at), labels = index_tensor(y));
        CHECK(values_of(std::get<2>(again)) == values_of(got_de));
      }
    }
}

TEST_CASE_TEMPLATE("take<1> with a matrix of indices, from a computed table, against central differences", T, float,
                   double) {
  // f = Σ tanh(take<1>(2X + 1, J)) · R: X (B, V), J (N, K) of int32, R (B, N, K)
  constexpr auto J = input<"J", 2, std::int32_t>;
  constexpr auto R = input<"R", 3>;
  constexpr auto picked = take<1>(2_c * X + 1_c, J);
  constexpr auto f = sum(tanh(picked) * R);
  auto program = compile(picked, f, grad(f, X));
  unsigned seed = 300;
  for (const auto& [b, v, n, k] : {std::array<std::size_t, 4>{2, 5, 3, 4}, {1, 1, 1, 1}, {7, 12, 9, 17}})
    for (int call = 0; call < 2; ++call, seed += 3) {
      const std::size_t bb = b + call, vv = v + 2 * call, nn = n, kk = k + call;
      const matrix x = rounded<T>(random_matrix(bb, vv, 0.5, seed));
      const matrix r = rounded<T>(random_matrix(bb, nn * kk, 1.0, seed + 1));
      const std::vector<std::int64_t> at = random_indices(nn * kk, vv, seed + 2);
      const auto value_at = [&](const matrix& point) {
        double total = 0;
        for (std::size_t i = 0; i < bb; ++i)
          for (std::size_t e = 0; e < nn * kk; ++e)
            total += std::tanh(2 * point(i, static_cast<std::size_t>(at[e])) + 1) * r(i, e);
        return total;
      };
      std::vector<double> gathered(bb * nn * kk), dx(bb * vv);
      for (std::size_t i = 0; i < bb; ++i)
        for (std::size_t e = 0; e < nn * kk; ++e)
          gathered[i * nn * kk + e] = 2 * x(i, static_cast<std::size_t>(at[e])) + 1;
      for (std::size_t e = 0; e < dx.size(); ++e) {  // central differences in float64
        const double h = 1e-5;
        matrix up = x, down = x;
        up.data[e] += h;
        down.data[e] -= h;
        dx[e] = (value_at(up) - value_at(down)) / (2 * h);
      }
      auto j = xt::xtensor<std::int32_t, 2>::from_shape({nn, kk});
      for (std::size_t e = 0; e < at.size(); ++e) j.data()[e] = static_cast<std::int32_t>(at[e]);
      auto rr = xt::xtensor<T, 3>::from_shape({bb, nn, kk});
      for (std::size_t e = 0; e < r.data.size(); ++e) rr.data()[e] = static_cast<T>(r.data[e]);
      for (const configuration& setting : configurations) {
        configure(program, setting);
        INFO(bb << " × " << vv << " table, " << nn << " × " << kk << " indices, call " << call << ", " << setting);
        const auto [got, value, got_dx] = program(X = tensor<T>(x), J = j, R = rr);
        CHECK(got.shape() == std::array<std::size_t, 3>{bb, nn, kk});
        CHECK(relative_error(got, gathered) < tolerance<T>);
        CHECK(relative_error(static_cast<double>(value), value_at(x)) < tolerance<T>);
        CHECK(relative_error(got_dx, dx) < std::max(tolerance<T>, 1e-8));
      }
    }
}

TEST_CASE_TEMPLATE("a table read by take and by itself, differentiated twice: a Hessian-vector product", T, float,
                   double) {
  // f = Σ take(E, idx)³ + ½ Σ E²: ∇f = put_add(3t²) + E, and (∇²f)·U = put_add(6t·take(U)) + U
  constexpr auto U = input<"U", 2>;
  constexpr auto f = sum(pow<3>(take<0>(E, idx))) + sum(E * E) / 2_c;
  constexpr auto g = grad(f, E);
  auto program = compile(f, g, grad(sum(g * U), E));
  unsigned seed = 500;
  for (const auto& [v, d, n] : {std::array<std::size_t, 3>{4, 3, 9}, {1, 5, 2}, {30, 8, 100}})
    for (int call = 0; call < 2; ++call, seed += 3) {
      const std::size_t vv = v + call, dd = d + call, nn = n + 5 * call;
      const matrix e = rounded<T>(random_matrix(vv, dd, 1.0, seed)),
                   u = rounded<T>(random_matrix(vv, dd, 1.0, seed + 1));
      const std::vector<std::int64_t> at = random_indices(nn, vv, seed + 2);
      double value = 0;
      std::vector<double> gradient(e.data), hvp(u.data);
      for (double x : e.data) value += x * x / 2;
      for (std::size_t i = 0; i < nn; ++i)
        for (std::size_t k = 0; k < dd; ++k) {
          const std::size_t at_e = static_cast<std::size_t>(at[i]) * dd + k;
          const double t = e.data[at_e];
          value += t * t * t;
          gradient[at_e] += 3 * t * t;
          hvp[at_e] += 6 * t * u.data[at_e];
        }
      for (const configuration& setting : configurations) {
        configure(program, setting);
        INFO(vv << " × " << dd << " table, " << nn << " indices, call " << call << ", " << setting);
        const auto [got_f, got_g, got_hvp] = program(E = tensor<T>(e), idx = index_tensor(at), U = tensor<T>(u));
        CHECK(relative_error(static_cast<double>(got_f), value) < tolerance<T>);
        CHECK(relative_error(got_g, gradient) < tolerance<T>);
        CHECK(relative_error(got_hvp, hvp) < tolerance<T>);
      }
    }
}

TEST_CASE_TEMPLATE("cameras and points gathered by observation: two tables, two index leaves", T, float, double) {
  // residual_i = C[ci] ⊙ P[pi] − obs_i + s·P[ci mod points] (one index leaf into two tables)
  constexpr auto C = var<"C", 2>;
  constexpr auto P = var<"P", 2>;
  constexpr auto ci = input<"ci", 1, std::int64_t>;
  constexpr auto pi = input<"pi", 1, std::int32_t>;
  constexpr auto obs = input<"obs", 2>;
  constexpr auto residual = take<0>(C, ci) * take<0>(P, pi) - obs + take<0>(P, ci) / 4_c;
  constexpr auto loss = sum(pow<2>(residual)) / 2_c;
  auto program = compile(loss, grad(loss, C, P));
  unsigned seed = 700;
  for (const auto& [cameras, points, n] : {std::array<std::size_t, 3>{3, 5, 11}, {1, 1, 1}, {16, 40, 300}})
    for (int call = 0; call < 2; ++call, seed += 5) {
      const std::size_t nc = cameras + call, np = std::max(points + call, cameras + call), nn = n + 2 * call;
      const matrix c = rounded<T>(random_matrix(nc, 3, 1.0, seed)), p = rounded<T>(random_matrix(np, 3, 1.0, seed + 1));
      const matrix o = rounded<T>(random_matrix(nn, 3, 1.0, seed + 2));
      const std::vector<std::int64_t> at_c = random_indices(nn, nc, seed + 3), at_p = random_indices(nn, np, seed + 4);
      double value = 0;
      std::vector<double> dc(nc * 3), dp(np * 3);
      for (std::size_t i = 0; i < nn; ++i)
        for (std::size_t k = 0; k < 3; ++k) {
          const auto a = static_cast<std::size_t>(at_c[i]), b = static_cast<std::size_t>(at_p[i]);
          const double r = c(a, k) * p(b, k) - o(i, k) + p(a, k) / 4;
          value += r * r / 2;
          dc[a * 3 + k] += r * p(b, k);
          dp[b * 3 + k] += r * c(a, k);
          dp[a * 3 + k] += r / 4;
        }
      auto pts = xt::xtensor<std::int32_t, 1>::from_shape({nn});
      for (std::size_t i = 0; i < nn; ++i) pts(i) = static_cast<std::int32_t>(at_p[i]);
      for (const configuration& setting : configurations) {
        configure(program, setting);
        INFO(nc << " cameras, " << np << " points, " << nn << " observations, call " << call << ", " << setting);
        const auto [got, got_dc, got_dp] =
            program(C = tensor<T>(c), P = tensor<T>(p), ci = index_tensor(at_c), pi = pts, obs = tensor<T>(o));
        CHECK(relative_error(static_cast<double>(got), value) < tolerance<T>);
        CHECK(relative_error(got_dc, dc) < tolerance<T>);
        CHECK(relative_error(got_dp, dp) < tolerance<T>);
      }
    }
}

TEST_CASE_TEMPLATE("a vector table, a scalar adjoint, and the second derivative: counts of each index", T, float,
                   double) {
  // f = 3·Σ E[idx] (the adjoint a scalar: dE counts each row's uses), h = Σ x[idx]², dh = 2·x·count,
  // and the Hessian's row sums 2·count
  constexpr auto x = var<"x", 1>;
  constexpr auto f = sum(take<0>(E, idx)) * 3_c;
  constexpr auto h = sum(take<0>(x, idx) * take<0>(x, idx));
  auto program = compile(f, grad(f, E), h, grad(h, x), grad(sum(grad(h, x)), x));
  for (int call = 0; call < 2; ++call) {
    const std::size_t v = 6 + 5 * call, d = 3 + call, n = 40 + 9 * call;
    const matrix e = rounded<T>(random_matrix(v, d, 1.0, 40 + call)),
                 xs = rounded<T>(random_matrix(1, v, 1.0, 50 + call));
    const std::vector<std::int64_t> at = random_indices(n, v - 1, 60 + call);  // row v − 1 unused: zero gradient
    double f_value = 0, h_value = 0;
    std::vector<double> count(v), de(v * d), dx(v), hessian_sums(v);
    for (std::int64_t i : at) {
      const auto r = static_cast<std::size_t>(i);
      ++count[r];
      for (std::size_t k = 0; k < d; ++k) f_value += 3 * e(r, k);
      h_value += xs.data[r] * xs.data[r];
    }
    for (std::size_t r = 0; r < v; ++r) {
      for (std::size_t k = 0; k < d; ++k) de[r * d + k] = 3 * count[r];
      dx[r] = 2 * xs.data[r] * count[r];
      hessian_sums[r] = 2 * count[r];
    }
    for (const configuration& setting : configurations) {
      configure(program, setting);
      INFO(v << " rows, " << n << " indices, call " << call << ", " << setting);
      const auto [got_f, got_de, got_h, got_dx, got_hessian] =
          program(E = tensor<T>(e), x = vector<T>(xs), idx = index_tensor(at));
      CHECK(relative_error(static_cast<double>(got_f), f_value) < tolerance<T>);
      CHECK(relative_error(got_de, de) == 0);
      CHECK(relative_error(static_cast<double>(got_h), h_value) < tolerance<T>);
      CHECK(relative_error(got_dx, dx) < tolerance<T>);
      CHECK(relative_error(got_hessian, hessian_sums) == 0);
    }
  }
}

TEST_CASE("an index outside the table is an error naming the leaf, the index and the extent") {
  constexpr auto loss = sum(pow<2>(take<0>(E, idx)));
  auto program = compile(loss, grad(loss, E));
  const matrix e = random_matrix(4, 2, 1.0, 9);
  const auto message = [&](std::vector<std::int64_t> at) {
    try {
      program(E = tensor<double>(e), idx = index_tensor(at));
    } catch (const kobai::binding_error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  CHECK(message({0, 3, 4}) ==
        "kobai: 'idx' holds 4 at element 2, an index out of range for take<0>'s axis of extent 4");
  CHECK(message({-1}) == "kobai: 'idx' holds -1 at element 0, an index out of range for take<0>'s axis of extent 4");
  // and the program still runs on good indices afterwards
  const auto [value, de] = program(E = tensor<double>(e), idx = index_tensor({3, 3}));
  CHECK(value == doctest::Approx(2 * (e(3, 0) * e(3, 0) + e(3, 1) * e(3, 1))));
  CHECK(relative_error(de, {0, 0, 0, 0, 0, 0, 4 * e(3, 0), 4 * e(3, 1)}) < 1e-15);
}

TEST_CASE("take's program: the lookup before the rows' one loop, the scatter-add after it") {
  constexpr auto loss = cross_entropy(matmul(take<0>(E, idx), W), labels);
  using plan = ir::program_plan<decltype(loss), decltype(grad(loss, E)), decltype(grad(loss, W))>;
  int fills = 0;
  for (int i = 0; i < plan::value.size; ++i)
    fills += plan::value.code[static_cast<std::size_t>(i)].op == ir::instr::indirect;
  CHECK(fills == 2);              // the lookup, then the scatter-add
  CHECK(plan::value.loops == 1);  // one pass over the rows (loss, dW, the rows' gradient), as with a leaf for the rows
}
