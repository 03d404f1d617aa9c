// Every op's gradient against central finite differences in float64, at many points and at kinks.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;

// Central difference of g at v with step h; independent of kobai's own gradcheck.
template <class G>
double central_difference(G g, double v, double h = 1e-6) {
  return (g(v + h) - g(v - h)) / (2 * h);
}

void check_close(double symbolic, double numeric, const std::string& what) {
  INFO(what << ": symbolic " << symbolic << ", finite difference " << numeric);
  CHECK(std::abs(symbolic - numeric) <= 1e-6 * std::max(1.0, std::abs(numeric)));
}

// f as a function of x alone, at each point.
template <class F>
void check_unary(F f, const std::vector<double>& points, const char* name) {
  const auto df = grad(f, x);
  for (double p : points) {
    const double numeric = central_difference([&](double v) { return eval(f, at(x = v)); }, p);
    check_close(eval(df, at(x = p)), numeric, std::string(name) + " at x = " + std::to_string(p));
  }
}

// f(x, y), both partials, at each point.
template <class F>
void check_binary(F f, const std::vector<std::pair<double, double>>& points, const char* name) {
  const auto [dfdx, dfdy] = grad(f, x, y);
  for (const auto& point : points) {
    const double px = point.first, py = point.second;  // (clang 14 cannot capture structured bindings)
    const std::string where = std::string(name) + " at (" + std::to_string(px) + ", " + std::to_string(py) + ")";
    check_close(eval(dfdx, at(x = px, y = py)),
                central_difference([&](double v) { return eval(f, at(x = v, y = py)); }, px), where + " d/dx");
    check_close(eval(dfdy, at(x = px, y = py)),
                central_difference([&](double v) { return eval(f, at(x = px, y = v)); }, py), where + " d/dy");
  }
}

const std::vector<double> everywhere = {-2.5, -1.1, -0.3, 0.2, 0.9, 1.7, 3.1};
const std::vector<double> positive = {0.05, 0.3, 0.9, 1.7, 3.1, 12.0};
}  // namespace

TEST_CASE("arithmetic") {
  check_binary(x + y, {{1, 2}, {-0.5, 3}, {0.1, -0.2}, {4, 4}, {-3, 0.7}}, "x + y");
  check_binary(x - y, {{1, 2}, {-0.5, 3}, {0.1, -0.2}, {4, 4}, {-3, 0.7}}, "x - y");
  check_binary(x * y, {{1, 2}, {-0.5, 3}, {0.1, -0.2}, {4, 4}, {-3, 0.7}}, "x * y");
  check_binary(x / y, {{1, 2}, {-0.5, 3}, {0.1, -0.2}, {4, 4}, {-3, 0.7}}, "x / y");
  check_unary(-x, everywhere, "-x");
}

TEST_CASE("powers and roots") {
  check_unary(pow<4>(x), everywhere, "x^4");
  check_unary(pow<-3>(x), {-2.5, -1.1, -0.3, 0.2, 0.9, 3.1}, "x^-3");
  check_unary(pow<2, 3>(x), positive, "x^(2/3)");
  check_unary(pow<5, 2>(x), positive, "x^(5/2)");
  check_unary(sqrt(x), positive, "sqrt");
  check_binary(pow(x, y), {{0.5, 2}, {1.5, -0.5}, {2, 3.3}, {3, 0.1}, {0.9, 7}}, "pow(x, y)");
}

TEST_CASE("exponentials and logarithms") {
  check_unary(exp(x), everywhere, "exp");
  check_unary(log(x), positive, "log");
  check_unary(log1p(x), {-0.9, -0.3, 1e-4, 0.2, 0.9, 5.0}, "log1p");
  check_unary(expm1(x), everywhere, "expm1");
}

TEST_CASE("trigonometric and activations") {
  check_unary(sin(x), everywhere, "sin");
  check_unary(cos(x), everywhere, "cos");
  check_unary(tan(x), {-1.2, -0.6, -0.1, 0.2, 0.7, 1.3}, "tan");
  check_unary(tanh(x), everywhere, "tanh");
  check_unary(erf(x), everywhere, "erf");
  check_unary(sigmoid(x), {-40, -2.5, -0.3, 0.0, 0.9, 3.1, 40}, "sigmoid");
  check_unary(softplus(x), {-40, -2.5, -0.3, 0.0, 0.9, 3.1, 40}, "softplus");
}

TEST_CASE("piecewise ops near and at their kinks") {
  // Near a kink the finite difference is valid once the step is smaller than the distance to it.
  const std::vector<double> near_zero = {-2.0, -1e-3, -1e-5, 1e-5, 1e-3, 2.0};
  check_unary(relu(x), near_zero, "relu");
  check_unary(abs(x), near_zero, "abs");
  check_unary(clamp(x, -1_c, 1_c), {-1.5, -1 - 1e-4, -1 + 1e-4, 0.3, 1 - 1e-4, 1 + 1e-4, 2}, "clamp");
  check_binary(max(x, y), {{1, 2}, {2, 1}, {0.5, 0.5 + 1e-4}, {-3, -3 - 1e-4}, {7, -7}}, "max");
  check_binary(min(x, y), {{1, 2}, {2, 1}, {0.5, 0.5 + 1e-4}, {-3, -3 - 1e-4}, {7, -7}}, "min");
  check_binary(where(x > y, x * y, x + y), {{1, 2}, {2, 1}, {-1, 3}, {3, -1}, {0.5, 0.4}}, "where");

  // At the kink itself: PyTorch's subgradients, derived by hand.
  CHECK(eval(grad(relu(x), x), at(x = 0.0)) == 0.0);
  CHECK(eval(grad(abs(x), x), at(x = 0.0)) == 0.0);
  const auto [dx, dy] = grad(max(x, y), x, y);
  CHECK(eval(dx, at(x = 2.0, y = 2.0)) == 0.5);
  CHECK(eval(dy, at(x = 2.0, y = 2.0)) == 0.5);
  CHECK(eval(grad(clamp(x, -1_c, 1_c), x), at(x = -1.0)) == 1.0);
  CHECK(eval(grad(sign(x) * x, x), at(x = -3.0)) == -1.0);  // sign itself carries no gradient
}

TEST_CASE("detach passes values and blocks gradients") {
  const auto f = detach(x * x) * x;  // value x³, gradient x²
  CHECK(eval(f, at(x = 3.0)) == 27.0);
  CHECK(eval(grad(f, x), at(x = 3.0)) == 9.0);
}

TEST_CASE("a composite function: shared subexpressions, several variables") {
  const auto s = sin(x * y);
  const auto f = s * exp(s) + log1p(pow<2>(s)) / (y + 3_c) - sqrt(pow<2>(x) + 1_c) * tanh(y);
  check_binary(f, {{0.3, 0.7}, {-1.2, 0.4}, {2.5, -1.1}, {0.01, 2.0}, {1.5, 1.5}}, "composite");
}
