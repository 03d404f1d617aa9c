// into() writes into a result of this program, not into anything else.
// expect: kobai::program::into: pass a result this program returned
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  xt::xtensor<double, 1> X = {1, 2};
  std::tuple<double, double> wrong;
  compile(x * x, sum(x)).into(wrong, x = X);
}
