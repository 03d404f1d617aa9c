// A function pointer (or a function) is not a function object: the message says how to wrap it.
// expect: kobai::trace: pass a lambda or a function object, not a function or a function pointer
// expect: [](auto a) { return f(a); }
#include <kobai/kobai.hpp>
template <class T>
constexpr T square(T a) {
  return a * a;
}
int main() {
  constexpr auto f = kobai::trace(&square<double>, kobai::var<"x">);
  (void)f;
}
