// Binding a parameter in a call of a training step, which owns its parameters.
// expect: kobai::train: a step owns its parameters; bind only the data
#include <kobai/kobai.hpp>
#include <kobai/train.hpp>
using namespace kobai;
int main() {
  constexpr auto X = input<"X", 1>;
  constexpr auto w = var<"w">;
  auto step = train::compile_step(mean(pow<2>(w * X)), train::parameters(w), train::sgd({.learning_rate = 0.1}));
  xt::xtensor<double, 1> data = {1, 2};
  return static_cast<int>(step(X = data, w = 2.0));
}
