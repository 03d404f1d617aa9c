// A number with a fraction bound to arange<"n">().
// expect: kobai: a binding's element type does not match its leaf
// expect: arange<"n">() to a whole number
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto n = arange<"n">();
  return static_cast<int>(compile(sum(n))(n = 2.5));
}
