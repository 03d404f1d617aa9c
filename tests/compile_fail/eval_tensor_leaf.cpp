// eval binds numbers to scalar leaves; a reduction over a tensor leaf needs a container.
// expect: kobai::eval: evaluates scalar leaves bound to numbers
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = var<"x", 1>;
  return static_cast<int>(eval(mean(x), at(x = 2.0)));
}
