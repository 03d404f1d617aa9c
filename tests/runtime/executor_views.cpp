// The GPU executor against the CPU (executor.hpp): views, cached parameter values, scalars and repeated outputs.
#include "executor.hpp"

TEST_CASE("flatten of a computed value: written out by one loop and read by the next") {
  constexpr auto A = input<"A", 2>;
  constexpr auto v = var<"v", 1>;
  const auto As = random_tensor<double, 2>({6, 5}, 15);
  const auto vs = random_tensor<double, 1>({30}, 16);
  constexpr auto f = dot(flatten(exp(A)), v);
  same_as_cpu(
      1e-12,
      [&](const auto& p) {
        return std::tuple{A = to_device(As, p.backend()), v = to_device(vs, p.backend())};
      },
      f, grad(f, v), flatten(exp(A)));
}

TEST_CASE("a cached value of the parameters alone, computed once per step in its own loop") {
  constexpr auto v = var<"v", 1>;
  constexpr auto f = sum(matmul(X, exp(v)));
  const auto Xs = random_tensor<double, 2>({50, 4}, 17);
  const auto vs = random_tensor<double, 1>({4}, 18);
  same_as_cpu(
      1e-12,
      [&](const auto& p) {
        return std::tuple{X = to_device(Xs, p.backend()), v = to_device(vs, p.backend())};
      },
      f, grad(f, v));
}

TEST_CASE("scalars only, a repeated output and a leaf as an output") {
  same_as_cpu(
      1e-12,
      [&](const auto&) {
        return std::tuple{w = 1.5, b = -2.0};
      },
      w * w + b, exp(w), w);
  const auto xs = random_tensor<float, 1>({40}, 19);
  same_as_cpu(
      1e-6,
      [&](const auto& p) {
        return std::tuple{x = to_device(xs, p.backend()), w = 2.0};
      },
      x * w, x * w, x, sum(x) * w);
}
