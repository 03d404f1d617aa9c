// take's indices are an integer leaf: a float leaf bound to indices is one error that says how to
// declare them.
// expect: kobai::take<Axis>(table, idx): idx is an integer leaf
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto E = var<"E", 2>;
  constexpr auto idx = input<"idx", 1>;
  auto program = compile(sum(take<0>(E, idx)));
  xt::xtensor<double, 2> e = xt::zeros<double>({3, 2});
  xt::xtensor<double, 1> at = {0, 2};
  double value = program(E = e, idx = at);
  (void)value;
}
