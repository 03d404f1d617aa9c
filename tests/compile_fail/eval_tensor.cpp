// eval(…, at(…)) is for scalar expressions.
// expect: kobai::eval: evaluates scalar expressions
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  return static_cast<int>(eval(exp(x), at(x = 1.0)));
}
