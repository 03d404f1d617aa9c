// The smallest kobai user: one derivative, evaluated; and a program on the CPU's threads, which
// runs on the compiled runtime (libkobai-runtime) that kobai::kobai links.
#include <cstdio>
#include <kobai/device_program.hpp>
#include <kobai/kobai.hpp>

int main() {
  constexpr auto x = kobai::var<"x">;
  std::printf("d/dx x^4 at 5 = %g\n", kobai::eval(kobai::grad(kobai::pow<4>(x), x), kobai::at(x = 5.0)));
  constexpr auto v = kobai::input<"v", 1>;
  auto total = kobai::compile(kobai::device::cpu, kobai::sum(v));
  total.threads(2);
  const xt::xtensor<double, 1> values{1.0, 2.0, 3.0, 4.0};
  std::printf("sum on %s = %g\n", total.backend()->name().c_str(),
              total(v = kobai::to_device(values, total.backend())));
}
