// On a device, an integer leaf binds to a host container of its element type (copied with each call),
// not to a device tensor of floating-point values: one error that says so.
// expect: bind an integer leaf (input<"y", 1, std::int64_t>) to a container of exactly that type
#include <cstdint>
#include <kobai/device_program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto E = var<"E", 2>;
  constexpr auto idx = input<"idx", 1, std::int64_t>;
  auto program = compile(device::emulated, sum(take<0>(E, idx)));
  xt::xtensor<double, 2> e = xt::zeros<double>({3, 2});
  xt::xtensor<double, 1> at = {0, 2};
  auto value = program(E = to_device(e, program.backend()), idx = to_device(at, program.backend()));
  (void)value;
}
