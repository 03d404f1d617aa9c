// A program for a device takes device tensors: a host container bound to it is refused at
// compile time, with the copy to make.
// expect: kobai: on a device, bind each tensor leaf to a device_tensor of its rank
#include <kobai/device_program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto x = input<"x", 1>;
  constexpr auto w = var<"w">;
  const auto step = compile(device::automatic, sum(w * x));
  xt::xtensor<float, 1> host{1.f, 2.f};
  (void)step(x = host, w = 2.0);
}
