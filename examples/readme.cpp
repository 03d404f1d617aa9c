// The README's example, verbatim, so it stays true.
#include <cstdio>
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
using namespace kobai::literals;  // 4_c, 0.5_c: exact constants

constexpr auto x = var<"x">;  // differentiable (requires_grad=True)
constexpr auto w = var<"w">;
constexpr auto t = input<"t">;  // data, never differentiated

static_assert(same(grad(pow<4>(x), x), 4_c * pow<3>(x)));                       // symbolic, exact
static_assert(eval(grad(pow<4>(x), x), at(x = 5.0)) == 500.0);                  // evaluated by the compiler
static_assert(gradcheck(sin(x) * exp(w * x), at(x = 0.5, w = -1.5)).passed());  // vs finite differences

int main() {
  auto [dw, dx] = grad(tanh(w * x - t), w, x);  // several variables at once
  std::printf("dw = %s\ndx = %s\n", to_string(dw).c_str(), to_string(dx).c_str());

  constexpr auto X = var<"X", 1>;
  auto y = sigmoid(w * X + t);
  auto step = compile(y, vjp(y, X, 1_c));  // value and gradient, one loop
  auto [Y, dY] = step(X = xt::xtensor<float, 1>{0.5f, -1.f, 2.f}, w = 2.0, t = 0.1);
  std::printf("y = [%g, %g, %g]\ndy/dX = [%g, %g, %g]\n", Y(0), Y(1), Y(2), dY(0), dY(1), dY(2));
}
