// Data is never differentiated: grad with respect to an input<> is an error.
// expect: kobai::grad: cannot differentiate with respect to an input<>
// expect: leaf_named<'x'>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto w = var<"w">;
  constexpr auto x = input<"x">;
  auto d = grad(w * x, x);
  (void)d;
}
