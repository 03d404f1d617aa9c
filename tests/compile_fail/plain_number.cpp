// A run-time number cannot live in the graph's type; the message says what to write instead.
// expect: kobai: a plain C++ number cannot be part of an expression's type
// expect: 2_c
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x">;
  auto e = 2 * x;
  (void)e;
}
