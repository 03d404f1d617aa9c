// A program called with a container instead of a binding: one message, saying how to bind.
// expect: kobai: call a program with bindings written as `x = X`
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto W = var<"W", 1>;
  xt::xtensor<double, 1> Wv = {1, 2};
  auto r = compile(exp(W))(Wv);
  (void)r;
}
