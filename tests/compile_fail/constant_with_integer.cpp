// An exact constant with a plain integer: as a double it would lose the exact 1/3, so it is
// refused, saying to write the integer as a constant too (1_c / 3_c). With a double it is plain
// arithmetic.
// expect: kobai: a plain C++ number cannot be part of an expression's type
// expect: 2_c
#include <kobai/kobai.hpp>
using namespace kobai::literals;
int main() {
  constexpr double half = 1_c - 0.5;  // plain arithmetic
  constexpr auto third = 1_c / 3;
  (void)half;
  (void)third;
}
