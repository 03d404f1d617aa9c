// The VJP seed must have the output's shape (rank), or be a scalar.
// expect: kobai::vjp: the seed v must have the output's shape
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  auto d = vjp(exp(x), x, input<"v", 2>);
  (void)d;
}
