// A traced function runs at compile time, so what it calls must be constexpr; the message says so
// and names the limits that fail the same way.
// expect: kobai::trace: the function could not be evaluated at compile time
// expect: a helper without constexpr
// expect: -fconstexpr-ops-limit=N
#include <kobai/kobai.hpp>
template <class T>
T cube(T x) {  // not constexpr
  return x * x * x;
}
int main() {
  constexpr auto f = kobai::trace([](auto x) { return cube(x) + x; }, kobai::var<"x">);
  (void)f;
}
