// The autograd basics of PyTorch's tutorials, in kobai: the computation, shared by the example
// program and by its test.
#pragma once

#include <array>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

namespace example::autograd_basics {

struct results {
  double pow4_grad_at_5;
  double affine_y;
  std::array<double, 2> affine_grads;
  double tutorial_out;
  std::vector<double> tutorial_grad;
  std::vector<double> vjp_grad;
};

inline results compute() {
  using namespace kobai;
  using namespace kobai::literals;
  results r{};

  // d/dx x⁴ at x = 5, derived and checked by the compiler.
  constexpr auto x = var<"x">;
  constexpr auto d_pow4 = grad(pow<4>(x), x);
  static_assert(same(d_pow4, 4_c * pow<3>(x)));
  r.pow4_grad_at_5 = eval(d_pow4, at(x = 5.0));

  // y = w·x + b, and [dy/dw, dy/db], at w = 2, b = 1, x = 5.
  constexpr auto w = var<"w">;
  constexpr auto b = var<"b">;
  constexpr auto data = input<"x">;
  constexpr auto y = w * data + b;
  const auto [dw, db] = grad(y, w, b);
  const auto point = at(w = 2.0, b = 1.0, data = 5.0);
  r.affine_y = eval(y, point);
  r.affine_grads = {eval(dw, point), eval(db, point)};

  // PyTorch's tutorial: x = ones(2, 2) with requires_grad, out = mean(3·(x + 2)²), out.backward().
  constexpr auto xm = var<"x", 2>;
  constexpr auto out = mean(3_c * pow<2>(xm + 2_c));
  const auto tutorial = compile(out, grad(out, xm));
  const auto [value, gradient] = tutorial(xm = xt::xtensor<double, 2>{{1.0, 1.0}, {1.0, 1.0}});
  r.tutorial_out = value;
  r.tutorial_grad.assign(gradient.begin(), gradient.end());  // row-major

  // y = x·2ᵏ with k = 10 known only at run time; the VJP with seed v (PyTorch's y.backward(v)).
  constexpr auto xs = var<"x", 1>;
  constexpr auto k = input<"k">;
  constexpr auto v = input<"v", 1>;
  constexpr auto ys = xs * pow(2_c, k);
  const auto program = compile(ys, vjp(ys, xs, v));  // forward and backward in one pass
  const xt::xtensor<double, 1> X = {0.3, -0.7, 1.1};
  const xt::xtensor<double, 1> V = {0.1, 1.0, 0.0001};
  const auto [Y, g] = program(xs = X, k = 10.0, v = V);
  r.vjp_grad.assign(g.begin(), g.end());
  return r;
}

}  // namespace example::autograd_basics
