// A number bound to a rank-1 leaf.
// expect: kobai: a binding's rank does not match its leaf
// expect: leaf_named<'x'>, kobai::detail::leaf_rank<1>, kobai::detail::bound_rank<0>
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  return static_cast<int>(compile(exp(x))(x = 2.0)(0));
}
