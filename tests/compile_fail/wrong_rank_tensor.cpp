// A rank-2 xtensor bound to a rank-1 leaf.
// expect: kobai: a binding's rank does not match its leaf
// expect: leaf_named<'x'>, kobai::detail::leaf_rank<1>, kobai::detail::bound_rank<2>
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  xt::xtensor<double, 2> X = {{1, 2}, {3, 4}};
  return static_cast<int>(compile(exp(x))(x = X)(0));
}
