// One tensor used along two different axes of the computation (the outer product of x with
// itself) cannot be one loop index per axis: a clear error naming the way out.
// expect: kobai: an expression combines a tensor with itself along two different axes
// expect: used_along_two_axes<kobai::detail::leaf_named<'x'>
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = input<"x", 1>;
  auto outer = compile(unsqueeze<1>(x) * unsqueeze<0>(x));
  (void)outer;
}
