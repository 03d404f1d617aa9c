// Symbolic Hessians are for scalar variables; the message points to the run-time one.
// expect: kobai::hessian: symbolic Hessians take scalar variables
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto W = var<"W", 1>;
  auto h = hessian(sum(pow<3>(W)), W);
  (void)h;
}
