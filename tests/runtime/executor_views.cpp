// The GPU executor against the CPU (executor.hpp): views, cached parameter values, scalars and repeated outputs.
#include "executor.hpp"

TEST_CASE("flatten of a computed value: written out by one loop and read by the next") {
  constexpr auto A = input<"A", 2>;
  constexpr auto v = var<"v", 1>;
  constexpr auto f = dot(flatten(exp(A)), v);
  const auto bind = [&](const auto& p, unsigned call) {
    return std::tuple{A = to_device(random_tensor<double, 2>({6, 5}, 15 + 100 * call), p.backend()),
                      v = to_device(random_tensor<double, 1>({30}, 16 + 100 * call), p.backend())};
  };
  CHECK(difference_from_cpu(bind, f, grad(f, v), flatten(exp(A))) <= 1e-12);
}

TEST_CASE("a cached value of the parameters alone, computed once per step in its own loop") {
  constexpr auto v = var<"v", 1>;
  constexpr auto f = sum(matmul(X, exp(v)));
  const auto bind = [&](const auto& p, unsigned call) {
    return std::tuple{X = to_device(random_tensor<double, 2>({50, 4}, 17 + 100 * call), p.backend()),
                      v = to_device(random_tensor<double, 1>({4}, 18 + 100 * call), p.backend())};
  };
  CHECK(difference_from_cpu(bind, f, grad(f, v)) <= 1e-12);
}

TEST_CASE("scalars only, a repeated output and a leaf as an output") {
  const auto scalars = [&](const auto&, unsigned call) { return std::tuple{w = 1.5 + call, b = -2.0 * (1 + call)}; };
  CHECK(difference_from_cpu(scalars, w * w + b, exp(w), w) <= 1e-12);
  const auto bind = [&](const auto& p, unsigned call) {
    return std::tuple{x = to_device(random_tensor<float, 1>({40}, 19 + 100 * call), p.backend()), w = 2.0 - call};
  };
  CHECK(difference_from_cpu(bind, x * w, x * w, x, sum(x) * w) <= 1e-6);
}
