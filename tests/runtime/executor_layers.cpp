// The GPU executor against the CPU (executor.hpp): cached values, shared math, folds other than sums, local reductions.
#include "executor.hpp"

TEST_CASE("a tanh network: cached per-row values in per-thread scratch, (D, H) gradients reordered") {
  constexpr auto W1 = var<"W1", 2>;
  constexpr auto b1 = var<"b1", 1>;
  constexpr auto w2 = var<"w2", 1>;
  constexpr auto net = mse(matmul(tanh(matmul(X, W1) + b1), w2) + b, y);
  const auto bind = [&](const auto& p, unsigned call) {
    const auto& m = p.backend();
    const unsigned s = 100 * call;
    return std::tuple{X = to_device(random_tensor<double, 2>({97, 5}, 7 + s), m),
                      y = to_device(random_tensor<double, 1>({97}, 9 + s), m),
                      W1 = to_device(random_tensor<double, 2>({5, 6}, 8 + s), m),
                      b1 = to_device(random_tensor<double, 1>({6}, 10 + s), m),
                      w2 = to_device(random_tensor<double, 1>({6}, 11 + s), m),
                      b = -0.1 - call};
  };
  CHECK(difference_from_cpu(bind, net, grad(net, W1), grad(net, b1), grad(net, w2), grad(net, b)) <= 1e-12);
}

TEST_CASE("erf and a GELU layer with their gradients: the ops' shared math on the device") {
  constexpr auto gelu = x * (1_c + erf(x * w)) / 2_c;  // GELU for w = 1/√2
  constexpr auto loss = mean(pow<2>(gelu - t));
  const auto bind = [&](const auto& p, unsigned call) {
    const auto& m = p.backend();
    return std::tuple{x = to_device(random_tensor<double, 1>({203}, 21 + 100 * call), m),
                      t = to_device(random_tensor<double, 1>({203}, 22 + 100 * call), m),
                      w = call == 0 ? 0.7071067811865476 : 0.6};
  };
  CHECK(difference_from_cpu(bind, loss, grad(loss, w), erf(x)) <= 1e-12);
}

TEST_CASE("max, min and logsumexp with its gradient: folds other than sums, and three loops") {
  constexpr auto v = var<"v", 1>;
  const auto bind = [&](const auto& p, unsigned call) {
    return std::tuple{v = to_device(random_tensor<double, 1>({1001}, 12 + 100 * call), p.backend())};
  };
  CHECK(difference_from_cpu(bind, logsumexp(v), grad(logsumexp(v), v), max(v), min(v)) <= 1e-12);
}

TEST_CASE("prod over every element and along an axis, with its gradient: a fold by multiplication") {
  constexpr auto V = var<"V", 2>;
  constexpr auto f = sum(prod<1>(V));
  const auto bind = [&](const auto& p, unsigned call) {
    // Factors near ±1, so that products of 9 stay of order 1; a zero in the second call.
    auto values = mapped(random_tensor<double, 2>({37, 9}, 15 + 100 * call), [](double v) { return 1 + v / 4; });
    if (call == 1) values(3, 4) = 0;
    return std::tuple{V = to_device(values, p.backend())};
  };
  CHECK(difference_from_cpu(bind, f, grad(f, V), prod(V), prod<0>(V, keepdims)) <= 1e-12);
}

TEST_CASE("axis reductions, keepdims and softmax cross-entropy: local reductions and stored outputs") {
  constexpr auto Z = var<"Z", 2>;
  constexpr auto P = input<"P", 2>;
  constexpr auto ce = cross_entropy(Z, P);
  const auto bind = [&](const auto& p, unsigned call) {
    const auto Ps =
        mapped(random_tensor<float, 2>({65, 7}, 14 + 100 * call), [](float v) { return std::abs(v) / 7.f; });
    return std::tuple{Z = to_device(random_tensor<float, 2>({65, 7}, 13 + 100 * call), p.backend()),
                      P = to_device(Ps, p.backend())};
  };
  CHECK(difference_from_cpu(bind, ce, grad(ce, Z), sum<1>(Z), mean<0>(Z, keepdims), max<1>(Z), softmax(Z)) <= 1e-5);
}
