// stack and single elements (select of a vector) as outputs, with their gradients, split from
// slices.cpp so that each file compiles in under 30 s: three vectors stacked along a new first or
// last axis, differentiated twice; scalars stacked outside every loop. Each against float64 values
// written here, in float and double, in every configuration, twice: the second call with new data
// and new extents.
#include <cmath>
#include <string>

#include "contractions.hpp"
#include "kobai/ir/plan.hpp"

using namespace kobai;
using namespace kobai::literals;
using namespace contraction_test;

TEST_CASE_TEMPLATE("stack: three vectors along a new first or last axis, differentiated twice", T, float, double) {
  // S = stack<0>(c, 2c, c²) (3, N), L = stack<-1>(c, c²) (N, 2); f = Σ S² + Σ L·Q
  constexpr auto c = var<"c", 1>;
  constexpr auto Q = input<"Q", 2>;
  constexpr auto S = stack<0>(c, c * 2_c, c * c);
  constexpr auto L = stack<-1>(c, c * c);
  constexpr auto f = sum(S * S) + sum(L * Q);
  auto program = compile(S, L, f, grad(f, c), grad(sum(grad(f, c)), c));
  for (int call = 0; call < 2; ++call) {
    const std::size_t n = 5 + 12 * call;
    const matrix cs = rounded<T>(random_matrix(1, n, 1.0, 70 + call)),
                 q = rounded<T>(random_matrix(n, 2, 1.0, 80 + call));
    std::vector<double> s(3 * n), l(n * 2), gradient(n), second(n);
    double value = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double x = cs.data[i];
      s[i] = x;
      s[n + i] = 2 * x;
      s[2 * n + i] = x * x;
      l[2 * i] = x;
      l[2 * i + 1] = x * x;
      value += 5 * x * x + x * x * x * x + x * q(i, 0) + x * x * q(i, 1);
      gradient[i] = 10 * x + 4 * x * x * x + q(i, 0) + 2 * x * q(i, 1);
      second[i] = 10 + 12 * x * x + 2 * q(i, 1);
    }
    for (const configuration& setting : configurations) {
      configure(program, setting);
      INFO(n << " elements, call " << call << ", " << setting);
      const auto [got_s, got_l, got_f, got_g, got_second] = program(c = vector<T>(cs), Q = tensor<T>(q));
      CHECK(got_s.shape() == std::array<std::size_t, 2>{3, n});
      CHECK(got_l.shape() == std::array<std::size_t, 2>{n, 2});
      CHECK(relative_error(got_s, s) < tolerance<T>);
      CHECK(relative_error(got_l, l) < tolerance<T>);
      CHECK(relative_error(static_cast<double>(got_f), value) < tolerance<T>);
      CHECK(relative_error(got_g, gradient) < tolerance<T>);
      CHECK(relative_error(got_second, second) < tolerance<T>);
    }
  }
}

TEST_CASE_TEMPLATE("scalars stacked, and one element selected, as outputs and outside every loop", T, float, double) {
  // v = stack<0>(sin(a), a², b) for scalar vars a, b; f = Σ_j v_j·w_j, g = select<0, 1>(tanh(x)·f)
  // for a vector x. ∂f/∂a reads the gradient's slices of the stacked scalars outside every loop
  // (fuzz seed 104: it read them before they were filled), and g is a scalar view (fuzz seed 104,
  // program 39: it had no memory, and crashed).
  constexpr auto a = var<"a", 0>;
  constexpr auto b = var<"b", 0>;
  constexpr auto w = input<"w", 1>;
  constexpr auto x = var<"x", 1>;
  constexpr auto f = sum(stack<0>(sin(a), a * a, b) * w);
  constexpr auto g = select<0, 1>(tanh(x) * f);
  auto program = compile(f, grad(f, a), grad(f, b), g, grad(g, x), grad(g, a));
  for (int call = 0; call < 2; ++call) {
    const std::size_t n = 3 + 14 * call;
    const matrix ws = rounded<T>(random_matrix(1, 3, 1.0, 40 + call)),
                 xs = rounded<T>(random_matrix(1, n, 1.0, 50 + call));
    const double av = static_cast<T>(0.3 + 0.4 * call), bv = static_cast<T>(-0.7 + call);
    const double value = std::sin(av) * ws.data[0] + av * av * ws.data[1] + bv * ws.data[2];
    const double da = std::cos(av) * ws.data[0] + 2 * av * ws.data[1];
    const double t = std::tanh(xs.data[1]);
    std::vector<double> dx(n, 0.0);
    dx[1] = (1 - t * t) * value;
    for (const configuration& setting : configurations) {
      configure(program, setting);
      INFO("call " << call << ", " << setting);
      const auto [got_f, got_da, got_db, got_g, got_dx, got_ga] =
          program(a = static_cast<T>(av), b = static_cast<T>(bv), w = vector<T>(ws), x = vector<T>(xs));
      CHECK(relative_error(static_cast<double>(got_f), value) < tolerance<T>);
      CHECK(relative_error(static_cast<double>(got_da), da) < tolerance<T>);
      CHECK(relative_error(static_cast<double>(got_db), ws.data[2]) < tolerance<T>);
      CHECK(relative_error(static_cast<double>(got_g), t * value) < tolerance<T>);
      CHECK(relative_error(got_dx, dx) < tolerance<T>);
      CHECK(relative_error(static_cast<double>(got_ga), t * da) < tolerance<T>);
    }
  }
}
