// std::exp(x) on a traced value converts it to a double (g++, whose std::exp is constexpr) or is
// not constexpr (clang++): either way the message gives the argument-dependent form.
// expect: kobai::trace:
// expect: using std::exp; exp(x), not std::exp(x)
#include <cmath>
#include <kobai/kobai.hpp>
template <class T>
constexpr T growth(T x) {
  return std::exp(x) - 1;
}
int main() {
  constexpr auto f = kobai::trace([](auto x) { return growth(x); }, kobai::var<"x">);
  (void)f;
}
