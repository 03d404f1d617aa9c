// A function of plain numbers is traced as that function of constants (exp(T(1)) is exp(1_c)), but
// one whose argument is itself such a function has no value to carry: the message says what to do.
// expect: kobai::trace: a function of plain numbers whose arguments are themselves such functions
// expect: exp(sqrt(2_c))
#include <cmath>
#include <kobai/kobai.hpp>
template <class T>
constexpr T scaled(T x) {
  using std::exp, std::sqrt;
  return exp(sqrt(T(2))) * x;
}
int main() {
  constexpr auto f = kobai::trace([](auto x) { return scaled(x); }, kobai::var<"x">);
  (void)f;
}
