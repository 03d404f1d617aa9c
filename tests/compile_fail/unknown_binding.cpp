// A strict call refuses a binding that names no leaf of the program (a misspelt name no output
// uses); without strict such a binding is ignored.
// expect: kobai: a binding names a leaf the program does not have
// expect: leaf_named<'t'>
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  constexpr auto t = input<"t", 1>;
  xt::xtensor<double, 1> X = {1, 2};
  return static_cast<int>(compile(exp(x))(kobai::strict, x = X, t = X)(0));
}
