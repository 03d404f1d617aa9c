// A traced function runs at compile time: a lambda that captures is refused, naming the fix.
// expect: kobai::trace: the function must be a captureless lambda
// expect: input<> leaves
#include <kobai/kobai.hpp>
int main(int argc, char**) {
  const double k = argc;
  auto f = kobai::trace([k](auto x) { return k * x; }, kobai::var<"x">);
  (void)f;
}
