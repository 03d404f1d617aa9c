// Gradients checked by the compiler: symbolic identities and constexpr values (static_assert).
#include <doctest/doctest.h>

#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;
constexpr auto w = var<"w">;
constexpr auto b = var<"b">;
constexpr auto t = input<"t">;

constexpr bool close(double a, double b, double tolerance = 1e-14) {
  const double d = a - b;
  const double m = (a < 0 ? -a : a) > 1 ? (a < 0 ? -a : a) : 1.0;
  return (d < 0 ? -d : d) <= tolerance * m;
}
}  // namespace

// d/dx x⁴ is exactly 4x³, and evaluates exactly.
static_assert(same(grad(pow<4>(x), x), 4_c * pow<3>(x)));
static_assert(eval(grad(pow<4>(x), x), at(x = 5.0)) == 500.0);
static_assert(same(grad(x * y + x, y), x));
static_assert(same(grad(x * y + x, x), y + 1_c));

// Several variables come back as a tuple that structured bindings take apart.
constexpr auto affine = w * t + b;
constexpr auto affine_grads = grad(affine, w, b);
static_assert(same(std::get<0>(affine_grads), t) && same(std::get<1>(affine_grads), 1_c));

// allow_unused: a variable the function does not use has gradient 0, at compile time.
static_assert(same(grad(pow<2>(x), y), 0_c));
static_assert(same(std::get<1>(grad(exp(x), x, y)), 0_c));

// detach stops the gradient; comparisons inside where carry none.
static_assert(same(grad(detach(x) * x, x), detach(x)));
static_assert(same(grad(x * y + detach(x * y), x), y));
static_assert(same(grad(where(x > 0_c, x, 2_c * x), x), where(x > 0_c, 1_c, 2_c)));

// Textbook derivatives, symbolically.
static_assert(same(grad(exp(x), x), exp(x)));
static_assert(same(grad(log(x), x), 1_c / x));
static_assert(same(grad(sin(x), x), cos(x)));
static_assert(same(grad(cos(x), x), -sin(x)));
static_assert(same(grad(sqrt(x), x), 0.5_c / sqrt(x)));
static_assert(same(grad(tanh(x), x), 1_c - pow<2>(tanh(x))));
static_assert(same(grad(sigmoid(x), x), sigmoid(x) * (1_c - sigmoid(x))));
static_assert(same(grad(softplus(x), x), sigmoid(x)));
static_assert(same(grad(1_c / x, x), -1_c / pow<2>(x)));
static_assert(same(grad(exp(2_c * x), x), 2_c * exp(2_c * x)));

// Values at compile time, against hand-derived formulas (1e-14 relative).
static_assert(close(eval(grad(exp(sin(x)), x), at(x = 0.5)), 0.8775825618903728 * 1.6151462964420837));  // cos·e^sin
static_assert(close(eval(grad(log(x * x + 1_c), x), at(x = 2.0)), 0.8));                                 // 2x/(x²+1)
static_assert(close(eval(grad(tanh(x), x), at(x = 0.5)), 1 - 0.46211715726000974 * 0.46211715726000974));
static_assert(close(eval(grad(sqrt(x), x), at(x = 4.0)), 0.25));
static_assert(close(eval(grad(pow(x, y), y), at(x = 2.0, y = 3.0)), 8 * 0.6931471805599453));  // xʸ·ln x
static_assert(close(eval(grad(sigmoid(x), x), at(x = 0.0)), 0.25));
static_assert(close(eval(grad(log1p(x), x), at(x = 1e-10)), 1 / (1 + 1e-10)));
static_assert(close(eval(grad(expm1(x), x), at(x = -0.25)), 0.7788007830714049));
static_assert(close(eval(grad(tan(x), x), at(x = 0.25)), 1 / (0.9689124217106447 * 0.9689124217106447)));

// Subgradients at kinks follow PyTorch.
static_assert(eval(grad(relu(x), x), at(x = 0.0)) == 0.0);
static_assert(eval(grad(abs(x), x), at(x = 0.0)) == 0.0);
static_assert(eval(grad(max(x, y), x), at(x = 1.0, y = 1.0)) == 0.5);
static_assert(eval(grad(min(x, y), y), at(x = 1.0, y = 1.0)) == 0.5);
static_assert(eval(grad(clamp(x, -1_c, 1_c), x), at(x = 1.0)) == 1.0);
static_assert(eval(grad(clamp(x, -1_c, 1_c), x), at(x = 1.5)) == 0.0);

// gradcheck runs inside the compiler too.
static_assert(gradcheck(sin(x) * exp(w * x) / (x + 1_c), at(x = 0.5, w = -1.5)).passed());
static_assert(gradcheck(softplus(x * w) - log(1_c + pow<2>(x)), at(x = 0.3, w = 2.0)).variables_checked == 2);

// erf: erf(½) = 0.5204998778130465 (libm); d/dx = 2/√π·e^(−x²) and d²/dx² = −2x·2/√π·e^(−x²), by
// hand, at x = ½: 0.8787825789354448 and −0.8787825789354448; erf(0) folds to the exact 0.
static_assert(close(eval(erf(x), at(x = 0.5)), 0.5204998778130465));
static_assert(close(eval(grad(erf(x), x), at(x = 0.5)), 0.8787825789354448));
static_assert(close(eval(grad(grad(erf(x), x), x), at(x = 0.5)), -0.8787825789354448));
static_assert(same(erf(0_c), 0_c));

TEST_CASE("structured bindings over grad") {
  auto [dw, db] = grad(affine, w, b);
  CHECK(eval(dw, at(t = 5.0)) == 5.0);
  CHECK(eval(db, at()) == 1.0);
  CHECK(eval(affine, at(w = 2.0, t = 5.0, b = 1.0)) == 11.0);
}

TEST_CASE("vjp seeds the reverse pass with v") {
  constexpr auto v = input<"v">;
  CHECK(same(vjp(pow<3>(x), x, v), 3_c * (v * pow<2>(x))));
  auto [gx, gy] = vjp(x * y, std::tuple{x, y}, v);
  CHECK(same(gx, v * y));
  CHECK(same(gy, v * x));
}
