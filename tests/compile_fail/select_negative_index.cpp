// select's index counts from 0 along the axis: a negative one is one error that says so.
// expect: kobai::select<Axis, Index>(x): Index counts from 0 along the axis
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto X = var<"X", 2>;
  auto program = compile(sum(select<1, -1>(X)));
  xt::xtensor<double, 2> x = xt::zeros<double>({3, 2});
  double value = program(X = x);
  (void)value;
}
