// Finite differences in float32 would be too coarse to check anything.
// expect: kobai::gradcheck: finite differences need float64
#include <kobai/cpu/gradcheck.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  xt::xtensor<float, 1> X = {1, 2};
  return gradcheck(sum(x * x), x = X).passed() ? 0 : 1;
}
