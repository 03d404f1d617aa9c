// take runs on the CPU: a device program that takes rows is one error that says so.
// expect: run on the CPU for now; compile the program with device::cpu
#include <cstdint>
#include <kobai/device_program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto E = var<"E", 2>;
  constexpr auto idx = input<"idx", 1, std::int64_t>;
  auto program = compile(device::emulated, sum(take<0>(E, idx)));
  xt::xtensor<double, 2> e = xt::zeros<double>({3, 2});
  xt::xtensor<std::int64_t, 1> at = {0, 2};
  auto value = program(E = to_device(e, program.backend()), idx = at);
  (void)value;
}
