// grad needs a scalar function, as PyTorch's backward() does without an argument.
// expect: kobai::grad: the function must be a scalar (rank 0)
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  auto d = grad(exp(x), x);
  (void)d;
}
