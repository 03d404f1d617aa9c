// concat joins tensors of one rank: a vector joined to a matrix is one error that says so.
// expect: kobai::concat<Axis>(a, b, ...): the tensors have one rank (stack adds an axis)
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto A = var<"A", 2>;
  constexpr auto b = var<"b", 1>;
  auto program = compile(sum(concat<0>(A, b)));
  xt::xtensor<double, 2> a = xt::zeros<double>({3, 2});
  xt::xtensor<double, 1> bv = {1, 2};
  double value = program(A = a, b = bv);
  (void)value;
}
