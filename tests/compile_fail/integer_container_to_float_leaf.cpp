// Integers bound to a leaf of the program's element type are refused (declare the leaf
// input<"y", 1, std::int64_t> for class labels), not converted silently.
// expect: kobai: a binding's element type does not match its leaf
#include <cstdint>
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto Z = var<"Z", 2>;
  constexpr auto y = input<"y", 1>;
  auto program = compile(cross_entropy(Z, y));
  xt::xtensor<double, 2> z = xt::zeros<double>({2, 3});
  xt::xtensor<std::int64_t, 1> labels = {0, 1};
  double loss = program(Z = z, y = labels);
  (void)loss;
}
