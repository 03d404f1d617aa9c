// float and double tensors in one call.
// expect: kobai: the bound tensors mix element types
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  constexpr auto t = input<"t", 1>;
  xt::xtensor<double, 1> X = {1, 2};
  xt::xtensor<float, 1> T = {1, 2};
  return static_cast<int>(compile(x * t)(x = X, t = T)(0));
}
