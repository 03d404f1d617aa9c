// reshape_as needs a target with at least one axis; a scalar target says what to use instead.
// expect: kobai::reshape_as: the target shape needs at least one axis
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto v = var<"v", 1>;
  auto scalar = reshape_as(v, var<"s">);
  (void)scalar;
}
