// A reduction over an axis the tensor does not have.
// expect: kobai: a reduction axis is out of range for the tensor's rank
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto X = var<"X", 2>;
  auto total = sum<2>(X);
  (void)total;
}
