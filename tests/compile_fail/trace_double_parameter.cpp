// A lambda with a double parameter would only see numbers: its parameters must be of a template type.
// expect: kobai::trace: the function's parameters must be of a template type
#include <kobai/kobai.hpp>
int main() {
  constexpr auto f = kobai::trace([](double a) { return a * a; }, kobai::var<"x">);
  (void)f;
}
