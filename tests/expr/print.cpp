// to_string and to_dot: readable forms of forward and backward graphs.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "kobai/diff/grad.hpp"
#include "kobai/expr/literals.hpp"
#include "kobai/expr/print.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;
constexpr auto t = input<"t">;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("to_string gives readable infix") {
  CHECK(to_string(grad(pow<4>(x), x)) == "4*x^3");
  CHECK(to_string(x - y) == "x - y");
  CHECK(to_string(x / y) == "x/y");
  CHECK(to_string(1_c / x) == "1/x");
  CHECK(to_string(-x) == "-x");
  CHECK(to_string(x + 1_c) == "x + 1");
  CHECK(to_string(1_c - x) == "1 - x");
  CHECK(to_string(sqrt(x)) == "sqrt(x)");
  CHECK(to_string(pow<1, 3>(x)) == "x^(1/3)");
  CHECK(to_string(0.5_c * x) == "1/2*x");
  CHECK(to_string(exp(x * t)) == "exp(t*x)");
  CHECK(to_string(where(x > 0_c, x, 0_c)) == "where(x > 0, x, 0)");
  CHECK(to_string((x + y) * (x - y)) == "(x + y)*(x - y)");
  CHECK(to_string(grad(tanh(x), x)) == "1 - tanh(x)^2");
}

TEST_CASE("to_dot writes each distinct node once, with edges from arguments") {
  const std::string dot = to_dot(exp(x) * sin(exp(x)));
  CHECK(dot.starts_with("digraph kobai {"));
  CHECK(count(dot, "label=\"exp\"") == 1);  // shared subexpression drawn once
  CHECK(count(dot, "label=\"x (var)\"") == 1);
  CHECK(count(dot, " -> ") == 5);  // x→exp, exp→sin, exp→*, sin→*, *→out0
  CHECK(count(dot, "-> out0;") == 1);
}

TEST_CASE("to_dot of a gradient draws the backward graph") {
  const auto f = sin(x) * y;
  const std::string forward = to_dot(f);
  const std::string backward = to_dot(grad(f, x));
  CHECK(count(backward, "label=\"cos\"") == 1);  // ∂/∂x (sin x · y) = y·cos x
  CHECK(count(forward, "label=\"cos\"") == 0);
  const std::string both = to_dot(f, grad(f, x), grad(f, y));
  CHECK(count(both, "doublecircle") == 3);
  CHECK(count(both, "label=\"sin\"") == 1);  // shared between f and ∂f/∂y
}

TEST_CASE("to_string names lookups, slices and joins with their axes and indices") {
  constexpr auto E = var<"E", 2>;
  constexpr auto idx = input<"idx", 1, std::int64_t>;
  CHECK(to_string(take<0>(E, idx)) == "take<0>(E, idx)");
  CHECK(to_string(grad(sum(take<0>(E, idx)), E)) == "put_add<0>(expand(1, take<0>(E, idx)), idx, E)");
  CHECK(to_string(select<1, 2>(E)) == "select<1, 2>(E)");
  CHECK(to_string(narrow<-1, 1, 3>(E)) == "narrow<1, 1, 3>(E)");
  CHECK(to_string(grad(sum(narrow<1, 1, 3>(E)), E)) == "unslice<1, 1, 3>(expand(1, narrow<1, 1, 3>(E)), E)");
  CHECK(to_string(concat<0>(E, E)) == "place_first<0>(E, E) + place_second<0>(E, E)");
}
