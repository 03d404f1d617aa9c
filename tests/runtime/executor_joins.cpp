// The GPU executor against the CPU (executor.hpp) on select, narrow, concat and stack with their
// gradients, and on indirect views outside every loop (split from executor_slices.cpp, so that each
// file compiles in under 30 s).
#include "executor.hpp"

namespace {
constexpr auto E = var<"E", 2>;
constexpr auto V = var<"V", 2>;
}  // namespace

TEST_CASE("select, narrow, concat and stack, of leaves and of computed values, with gradients, on the device") {
  constexpr auto P = var<"P", 2>;
  constexpr auto obs = input<"obs", 1>;
  constexpr auto r = select<1, 0>(P) * select<-1, 1>(P) + sum<1>(sin(narrow<1, 2, 3>(P))) - obs;
  constexpr auto columns = sum(pow<2>(r)) + sum(pow<3>(narrow<0, 1, 2>(tanh(P) * 2_c)));
  constexpr auto joined = concat<1>(P, tanh(E));
  constexpr auto linear = sum(pow<2>(matmul(joined, V)));
  constexpr auto c = var<"c", 1>;
  constexpr auto stacked = stack<0>(c, c * 2_c, c * c);
  constexpr auto s = sum(stacked * stacked) + sum(stack<-1>(c, c * c)) * sum(select<0, 1>(stacked));
  const auto bind = [&](const auto& p, unsigned call) {
    const std::size_t n = 23 + 6 * call, width = 6 + call, extra = 3 + call, out = 4;
    return std::tuple{P = to_device(random_tensor<double, 2>({n, width}, 51 + 100 * call), p.backend()),
                      obs = to_device(random_tensor<double, 1>({n}, 52 + 100 * call), p.backend()),
                      E = to_device(random_tensor<double, 2>({n, extra}, 53 + 100 * call), p.backend()),
                      V = to_device(random_tensor<double, 2>({width + extra, out}, 54 + 100 * call), p.backend()),
                      c = to_device(random_tensor<double, 1>({5 + call}, 55 + 100 * call), p.backend())};
  };
  CHECK(difference_from_cpu(bind, r, columns, grad(columns, P), joined, linear, grad(linear, P), grad(linear, E),
                            stacked, s, grad(s, c)) <= 1e-12);
}

TEST_CASE("indirect views outside every loop: stacked scalars, a selected element, as outputs, on the device") {
  // v = stack<0>(sin(a), a², b) for scalar vars a, b: the parts are values without axes, computed
  // outside every loop; g = select<0, 1>(tanh(x)·f) is a view of one element, an output, read by a
  // scalar output computed after the last loop (an independent review found each of these wrong or
  // crashing on the emulator before the fill kernels were ordered and given the parts' values).
  constexpr auto a = var<"a", 0>;
  constexpr auto bb = var<"bb", 0>;
  constexpr auto wv = input<"wv", 1>;
  constexpr auto xv = var<"xv", 1>;
  constexpr auto f = sum(stack<0>(sin(a), a * a, bb) * wv);
  constexpr auto g = select<0, 1>(tanh(xv) * f);
  constexpr auto stacked_sums = stack<0>(sum(xv), sum(xv * xv));
  const auto bind = [&](const auto& p, unsigned call) {
    return std::tuple{a = 0.3 + 0.4 * call, bb = -0.7 + call,
                      wv = to_device(random_tensor<double, 1>({3}, 81 + 100 * call), p.backend()),
                      xv = to_device(random_tensor<double, 1>({5 + 12 * call}, 82 + 100 * call), p.backend())};
  };
  CHECK(difference_from_cpu(bind, f, grad(f, a), grad(f, bb), g, grad(g, xv), grad(g, a),
                            stack<0>(sin(a), a * a, bb)) <= 1e-12);
  CHECK(difference_from_cpu(bind, select<0, 1>(sin(xv)) * 2_c, sum(xv)) <= 1e-12);  // filled after the last loop
  CHECK(difference_from_cpu(bind, stacked_sums, sum(stacked_sums * stacked_sums),
                            grad(sum(stacked_sums * stacked_sums), xv)) <= 1e-12);
  CHECK(difference_from_cpu(bind, select<0, 1>(xv), sum(xv), select<0, 2>(tanh(xv) * 2_c)) <= 1e-12);
}
