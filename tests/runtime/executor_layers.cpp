// The GPU executor against the CPU (executor.hpp): cached values, shared math, folds other than sums, local reductions.
#include "executor.hpp"

TEST_CASE("a tanh network: cached per-row values in per-thread scratch, (D, H) gradients reordered") {
  constexpr auto W1 = var<"W1", 2>;
  constexpr auto b1 = var<"b1", 1>;
  constexpr auto w2 = var<"w2", 1>;
  constexpr auto net = mse(matmul(tanh(matmul(X, W1) + b1), w2) + b, y);
  const auto Xs = random_tensor<double, 2>({97, 5}, 7), W1s = random_tensor<double, 2>({5, 6}, 8);
  const auto ys = random_tensor<double, 1>({97}, 9), b1s = random_tensor<double, 1>({6}, 10),
             w2s = random_tensor<double, 1>({6}, 11);
  same_as_cpu(
      1e-12,
      [&](const auto& p) {
        const auto& m = p.backend();
        return std::tuple{X = to_device(Xs, m),   y = to_device(ys, m),   W1 = to_device(W1s, m),
                          b1 = to_device(b1s, m), w2 = to_device(w2s, m), b = -0.1};
      },
      net, grad(net, W1), grad(net, b1), grad(net, w2), grad(net, b));
}

TEST_CASE("erf and a GELU layer with their gradients: the ops' shared math on the device") {
  constexpr auto gelu = x * (1_c + erf(x * w)) / 2_c;  // GELU for w = 1/√2
  constexpr auto loss = mean(pow<2>(gelu - t));
  const auto xs = random_tensor<double, 1>({203}, 21), ts = random_tensor<double, 1>({203}, 22);
  same_as_cpu(
      1e-12,
      [&](const auto& p) {
        const auto& m = p.backend();
        return std::tuple{x = to_device(xs, m), t = to_device(ts, m), w = 0.7071067811865476};
      },
      loss, grad(loss, w), erf(x));
}

TEST_CASE("max, min and logsumexp with its gradient: folds other than sums, and three loops") {
  constexpr auto v = var<"v", 1>;
  const auto vs = random_tensor<double, 1>({1001}, 12);
  same_as_cpu(
      1e-12, [&](const auto& p) { return std::tuple{v = to_device(vs, p.backend())}; }, logsumexp(v),
      grad(logsumexp(v), v), max(v), min(v));
}

TEST_CASE("axis reductions, keepdims and softmax cross-entropy: local reductions and stored outputs") {
  constexpr auto Z = var<"Z", 2>;
  constexpr auto P = input<"P", 2>;
  const auto Zs = random_tensor<float, 2>({65, 7}, 13);
  auto Ps = random_tensor<float, 2>({65, 7}, 14);
  for (auto& p : Ps) p = std::abs(p) / 7.f;
  constexpr auto ce = cross_entropy(Z, P);
  same_as_cpu(
      1e-5,
      [&](const auto& p) {
        return std::tuple{Z = to_device(Zs, p.backend()), P = to_device(Ps, p.backend())};
      },
      ce, grad(ce, Z), sum<1>(Z), mean<0>(Z, keepdims), max<1>(Z), softmax(Z));
}
