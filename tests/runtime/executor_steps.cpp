// The GPU executor against the CPU (executor.hpp): regression steps and a two-loop program.
#include "executor.hpp"

TEST_CASE("the linear-regression step: one loop kernel and its finishing kernel, as on the CPU") {
  constexpr auto loss = mse(w * x + b, t);
  const auto [dw, db] = grad(loss, w, b);
  const auto xs = random_tensor<float, 1>({1000}, 1), ts = random_tensor<float, 1>({1000}, 2);
  same_as_cpu(
      1e-5,
      [&](const auto& p) {
        return std::tuple{x = to_device(xs, p.backend()), t = to_device(ts, p.backend()), w = 0.7, b = -0.2};
      },
      loss, dw, db);
  const auto& source = device_program<decltype(loss)>::cuda_source<float>();
  REQUIRE(source.kernels.size() == 2);
  CHECK(source.kernels[1].finish);
}

TEST_CASE("logistic regression on (N, D): a per-row reduction in a register, a D-vector gradient per thread") {
  constexpr auto loss = bce_with_logits(matmul(X, W) + b, y);
  const auto Xs = random_tensor<float, 2>({301, 7}, 3);
  auto ys = random_tensor<float, 1>({301}, 4);
  for (auto& v : ys) v = v > 0 ? 1.f : 0.f;
  const auto Ws = random_tensor<float, 1>({7}, 5);
  same_as_cpu(
      1e-5,
      [&](const auto& p) {
        return std::tuple{X = to_device(Xs, p.backend()), y = to_device(ys, p.backend()),
                          W = to_device(Ws, p.backend()), b = 0.3};
      },
      loss, grad(loss, W), grad(loss, b));
}

TEST_CASE("mean-centred variance: two loops, the second reading the first's result, and a tensor output") {
  constexpr auto u = var<"u", 1>;
  constexpr auto variance = mean(pow<2>(u - mean(u)));
  const auto us = random_tensor<double, 1>({777}, 6);
  same_as_cpu(
      1e-12, [&](const auto& p) { return std::tuple{u = to_device(us, p.backend())}; }, variance, u - mean(u),
      grad(variance, u));
}
