// Branching on a plain number that did not fit a 64-bit rational would take a branch on a wrong
// value; the trace fails with the message that names it.
// expect: kobai::trace: the function could not be evaluated at compile time
// expect: T(1e-30)
#include <kobai/kobai.hpp>
template <class T>
constexpr T guarded(T x) {
  const T eps = 1e-30;
  if (eps > 0) return x;
  return -x;
}
int main() {
  constexpr auto f = kobai::trace([](auto a) { return guarded(a); }, kobai::var<"x">);
  (void)f;
}
