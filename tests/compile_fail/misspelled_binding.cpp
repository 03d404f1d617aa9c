// A misspelled binding: the wrong name is reported, and nothing else (not also the leaf it left unbound).
// expect: kobai: a binding names a leaf the program does not have
// expect: leaf_named<'y'>
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  xt::xtensor<double, 1> X = {1, 2};
  return static_cast<int>(compile(exp(x))(input<"y", 1> = X)(0));
}
