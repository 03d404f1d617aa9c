// A column-major container would be read in the wrong order: an error, not a wrong answer.
// expect: kobai: bind a number or a row-major xtensor container
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 2>;
  xt::xtensor<double, 2, xt::layout_type::column_major> A = {{1, 2}, {3, 4}};
  return static_cast<int>(compile(sum(x))(x = A));
}
