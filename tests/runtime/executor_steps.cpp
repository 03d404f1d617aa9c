// The GPU executor against the CPU (executor.hpp): regression steps and a two-loop program.
#include "executor.hpp"

TEST_CASE("the linear-regression step: one loop kernel and its finishing kernel, as on the CPU") {
  constexpr auto loss = mse(w * x + b, t);
  const auto [dw, db] = grad(loss, w, b);
  const auto bind = [&](const auto& p, unsigned call) {
    return std::tuple{x = to_device(random_tensor<float, 1>({1000}, 1 + 100 * call), p.backend()),
                      t = to_device(random_tensor<float, 1>({1000}, 2 + 100 * call), p.backend()), w = 0.7 - call,
                      b = -0.2 + call};
  };
  CHECK(difference_from_cpu(bind, loss, dw, db) <= 1e-5);
  const auto& source = device_program<decltype(loss)>::cuda_source<float>();
  REQUIRE(source.kernels.size() == 2);
  CHECK(source.kernels[1].finish);
}

TEST_CASE("logistic regression on (N, D): a per-row reduction in a register, a D-vector gradient per thread") {
  constexpr auto loss = bce_with_logits(matmul(X, W) + b, y);
  const auto bind = [&](const auto& p, unsigned call) {
    const auto labels =
        mapped(random_tensor<float, 1>({301}, 4 + 100 * call), [](float v) { return v > 0 ? 1.f : 0.f; });
    return std::tuple{X = to_device(random_tensor<float, 2>({301, 7}, 3 + 100 * call), p.backend()),
                      y = to_device(labels, p.backend()),
                      W = to_device(random_tensor<float, 1>({7}, 5 + 100 * call), p.backend()), b = 0.3 - call};
  };
  CHECK(difference_from_cpu(bind, loss, grad(loss, W), grad(loss, b)) <= 1e-5);
}

TEST_CASE("mean-centred variance: two loops, the second reading the first's result, and a tensor output") {
  constexpr auto u = var<"u", 1>;
  constexpr auto variance = mean(pow<2>(u - mean(u)));
  const auto bind = [&](const auto& p, unsigned call) {
    return std::tuple{u = to_device(random_tensor<double, 1>({777}, 6 + 100 * call), p.backend())};
  };
  CHECK(difference_from_cpu(bind, variance, u - mean(u), grad(variance, u)) <= 1e-12);
}
