// A double whose exact binary value does not fit a 64-bit rational is refused, with the reason.
// expect: kobai::trace: a number in the function does not fit kobai's exact 64-bit rationals
// expect: input<> leaf
#include <kobai/kobai.hpp>
template <class T>
constexpr T scaled(T x) {
  return 1e-30 * x;
}
int main() {
  constexpr auto f = kobai::trace([](auto x) { return scaled(x); }, kobai::var<"x">);
  (void)f;
}
