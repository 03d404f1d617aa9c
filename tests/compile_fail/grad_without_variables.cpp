// grad must be told what to differentiate with respect to.
// expect: kobai::grad: name the variables to differentiate with respect to
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x">;
  auto d = grad(exp(x));
  (void)d;
}
