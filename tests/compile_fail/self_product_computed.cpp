// The tensor read along two axes is a computed value (x - mu), not a leaf: the message's trace
// names that subexpression.
// expect: kobai: an expression combines a tensor with itself along two different axes
// expect: used_along_two_axes<kobai::node<kobai::ops::add
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = input<"x", 1>;
  constexpr auto mu = var<"mu", 1>;
  auto outer = compile(sum(unsqueeze<1>(x - mu) * unsqueeze<0>(x - mu)));
  (void)outer;
}
