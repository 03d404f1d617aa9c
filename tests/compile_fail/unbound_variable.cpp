// An unbound leaf is a compile error naming the leaf.
// expect: kobai: a leaf of the expression is not bound
// expect: leaf_named<'y'>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x">;
  constexpr auto y = var<"y">;
  return static_cast<int>(eval(x * y, at(x = 1.0)));
}
