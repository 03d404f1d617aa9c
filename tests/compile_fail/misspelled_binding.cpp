// A misspelled binding: a name the program has no leaf for is ignored, so the leaf it meant is
// reported unbound, and nothing else.
// expect: kobai: a leaf of the expression is not bound
// expect: leaf_named<'x'>
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  xt::xtensor<double, 1> X = {1, 2};
  return static_cast<int>(compile(exp(x))(input<"y", 1> = X)(0));
}
