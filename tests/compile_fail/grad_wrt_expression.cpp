// grad takes leaves, not expressions.
// expect: kobai::grad: differentiate with respect to leaves
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto w = var<"w">;
  auto d = grad(exp(w), w * w);
  (void)d;
}
