// A rank-1 tensor broadcast against a rank-2 tensor has no gradient rule yet: a clear error, not a
// wrong gradient.
// expect: kobai: broadcasting a tensor against a tensor of higher rank is not supported yet
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto w = var<"w", 1>;
  constexpr auto X = input<"X", 2>;
  auto g = grad(sum(w * X), w);
  (void)g;
}
