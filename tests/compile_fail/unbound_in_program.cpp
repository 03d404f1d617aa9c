// A compiled program called without one of its leaves.
// expect: kobai: a leaf of the expression is not bound
// expect: leaf_named<'t'>
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  constexpr auto t = input<"t", 1>;
  xt::xtensor<double, 1> X = {1, 2};
  return static_cast<int>(compile(x * t)(x = X)(0));
}
