// A container bound to arange<"n">(), whose binding is the number n.
// expect: kobai: a binding's rank does not match its leaf: bind numbers to rank-0 leaves and to arange<"n">()
// expect: leaf_named<'n'>
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
#include <xtensor/xtensor.hpp>
using namespace kobai;
int main() {
  constexpr auto n = arange<"n">();
  const xt::xtensor<double, 1> values{0, 1, 2};
  return static_cast<int>(compile(sum(n))(n = values));
}
