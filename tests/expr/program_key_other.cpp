// The second translation unit of the program_key test: one program that program_key.cpp also
// compiles, and one of its own.
#include "program_key_other.hpp"

#include "kobai/cpu/program.hpp"
#include "kobai/expr/literals.hpp"
#include "kobai/expr/operators.hpp"

namespace program_key_other {
using namespace kobai;
using namespace kobai::literals;
constexpr auto x = input<"x", 1>;

double times_two(const xt::xtensor<double, 1>& data) {
  static const auto program = compile(sum(x * 2_c));
  return program(x = data);
}
double times_five(const xt::xtensor<double, 1>& data) {
  static const auto program = compile(sum(x * 5_c));
  return program(x = data);
}
}  // namespace program_key_other
