// The smallest kobai user: one derivative, evaluated.
#include <cstdio>
#include <kobai/kobai.hpp>

int main() {
  constexpr auto x = kobai::var<"x">;
  std::printf("d/dx x^4 at 5 = %g\n", kobai::eval(kobai::grad(kobai::pow<4>(x), x), kobai::at(x = 5.0)));
}
