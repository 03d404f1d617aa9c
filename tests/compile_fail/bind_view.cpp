// A strided view is not flat row-major memory: binding it is an error that says to copy it.
// expect: kobai: bind a number or a row-major xtensor container
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
#include <xtensor/xview.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  xt::xtensor<double, 2> A = {{1, 2}, {3, 4}};
  return static_cast<int>(compile(sum(x))(x = xt::view(A, xt::all(), 1)));
}
