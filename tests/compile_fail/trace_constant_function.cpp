// A transcendental function of plain numbers alone has no exact value.
// expect: kobai::trace: a function of plain numbers alone, such as exp(T(1)), has no exact value
#include <cmath>
#include <kobai/kobai.hpp>
template <class T>
constexpr T scaled(T x) {
  using std::exp;
  return exp(T(1)) * x;
}
int main() {
  constexpr auto f = kobai::trace([](auto x) { return scaled(x); }, kobai::var<"x">);
  (void)f;
}
