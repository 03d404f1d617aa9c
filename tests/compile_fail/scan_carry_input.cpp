// The state a scan carries is a var<> leaf (its gradient is the initial state's): an input<> is one
// error that says so, and nothing after it fails.
// expect: kobai::carry(h, next): h, the carried state, is a var<> leaf
#include <kobai/cpu/scan.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto h = input<"h", 1>;
  constexpr auto x = input<"x", 1>;
  auto loop = scan(carry(h, tanh(h + x)), over(x), final_loss(sum(h)));
  xt::xtensor<double, 1> h0 = xt::zeros<double>({3});
  xt::xtensor<double, 2> xs = xt::zeros<double>({4, 3});
  const auto r = loop.gradient(h = h0, x = xs);
  double loss = r.loss;
  (void)loss;
}
