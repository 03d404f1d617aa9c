// A graph past the compiler's constant-evaluation limits is refused with the flags that raise them.
// expect: kobai::trace: the function could not be evaluated at compile time
// expect: -fconstexpr-ops-limit=N
// expect: -fconstexpr-steps=N
#include <kobai/kobai.hpp>
template <class T>
constexpr T long_polynomial(T x) {
  T p = 1;
  for (int k = 0; k < 1000000; ++k) p = p * x + k;  // a million distinct operations
  return p;
}
int main() {
  constexpr auto f = kobai::trace([](auto x) { return long_polynomial(x); }, kobai::var<"x">);
  (void)f;
}
