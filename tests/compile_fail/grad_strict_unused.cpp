// grad_strict is allow_unused=False: a variable the function ignores is an error.
// expect: kobai::grad_strict: the function does not use one of these variables
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x">;
  constexpr auto y = var<"y">;
  auto d = grad_strict(exp(x), x, y);
  (void)d;
}
