// Binding float data to a double training step on a device (it copies the batch to the device).
// expect: kobai::train: the data's element type must be the step's
#include <kobai/kobai.hpp>
#include <kobai/train.hpp>
using namespace kobai;
int main() {
  constexpr auto X = input<"X", 1>;
  constexpr auto w = var<"w">;
  auto step = train::compile_step(device::emulated, mean(pow<2>(w * X)), train::parameters(w),
                                  train::sgd({.learning_rate = 0.1}));
  step.set(w, 1.0);
  xt::xtensor<float, 1> data = {1, 2};
  return static_cast<int>(step(X = data));
}
