// x^T A x reads x along both axes of A: the message's trace names x, the tensor to copy, not A.
// expect: kobai: an expression combines a tensor with itself along two different axes
// expect: used_along_two_axes<kobai::detail::leaf_named<'x'>
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  constexpr auto A = input<"A", 2>;
  auto form = compile(dot(x, matmul(A, x)));
  (void)form;
}
