// Branching on a traced value cannot be traced; the message says what to write instead.
// expect: kobai::trace: the function branches on a traced value
// expect: kobai::where(x > 0, a, b)
#include <kobai/kobai.hpp>
template <class T>
constexpr T leaky(T x) {
  if (x > 0) return x;
  return 0.1 * x;
}
int main() {
  constexpr auto f = kobai::trace([](auto x) { return leaky(x); }, kobai::var<"x">);
  (void)f;
}
