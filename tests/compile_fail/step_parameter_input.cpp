// Training an input<> leaf: parameters are var<> leaves.
// expect: kobai::train::parameters: each parameter is a var<> leaf
// expect: leaf_named<'X'>
#include <kobai/kobai.hpp>
#include <kobai/train.hpp>
using namespace kobai;
int main() {
  constexpr auto X = input<"X", 1>;
  auto step = train::compile_step(mean(pow<2>(X)), train::parameters(X), train::sgd({.learning_rate = 0.1}));
  static_cast<void>(step);
}
