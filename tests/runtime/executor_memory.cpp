// The GPU executor against the CPU (executor.hpp): reproducible bits, allocation, per-thread rows, outputs over inputs.
#include "executor.hpp"

TEST_CASE("the same bits on every run, and no device allocation once shapes settle") {
  constexpr auto loss = bce_with_logits(matmul(X, W) + b, y);
  const auto step = compile(under_test(), loss, grad(loss, W), grad(loss, b));
  const auto& m = step.backend();
  const auto Xs = to_device(random_tensor<float, 2>({513, 16}, 20), m);
  const auto ys = to_device(random_tensor<float, 1>({513}, 21), m);
  const auto Ws = to_device(random_tensor<float, 1>({16}, 22), m);
  const auto first = step(X = Xs, y = ys, W = Ws, b = 0.1);
  auto again = step(X = Xs, y = ys, W = Ws, b = 0.1);  // tensors of its own
  const float* gradient_memory = std::get<1>(again).data();
  const std::size_t allocations = m->allocations(), launches = m->launches();
  step.into(again, X = Xs, y = ys, W = Ws, b = 0.1);
  CHECK(m->allocations() == allocations);               // the workspace and the outputs were reused
  CHECK(std::get<1>(again).data() == gradient_memory);  // the output tensor was written in place
  CHECK(m->launches() - launches == 2);                 // one pass over the rows, and the fold of partials
  CHECK(std::get<0>(again) == std::get<0>(first));
  CHECK(std::get<2>(again) == std::get<2>(first));
  const auto g1 = to_host(std::get<1>(first)), g2 = to_host(std::get<1>(again));
  CHECK(std::equal(g1.begin(), g1.end(), g2.begin()));
}

TEST_CASE("a per-row value read by a later loop: each thread owns its rows, with no copies per thread") {
  constexpr auto z = matmul(X, W);
  const auto bind = [&](const auto& p, unsigned call) {
    return std::tuple{X = to_device(random_tensor<float, 2>({300, 9}, 23 + 100 * call), p.backend()),
                      W = to_device(random_tensor<float, 1>({9}, 24 + 100 * call), p.backend())};
  };
  CHECK(difference_from_cpu(bind, mean(z), z - mean(z), sum(z * z)) <= 1e-5);
  const auto& source = device_program<decltype(mean(z)), decltype(z - mean(z))>::cuda_source<float>().source;
  CHECK(source.find("a.results[a.f6_sum + i0 * slice + e] = 0;") != std::string::npos);  // its row's slice
}

TEST_CASE("a view of a value without axes, as an output and read by a loop") {
  constexpr auto v = var<"v", 1>;
  constexpr auto u = input<"u", 1>;
  const auto bind = [&](const auto& p, unsigned call) {
    return std::tuple{v = to_device(random_tensor<double, 1>({13}, 25 + 100 * call), p.backend()),
                      u = to_device(random_tensor<double, 1>({1}, 26 + 100 * call), p.backend())};
  };
  CHECK(difference_from_cpu(bind, reshape_as(sum(v), u) * u, reshape_as(sum(v), u)) <= 1e-12);
}

TEST_CASE("an output written over a tensor bound as an input gets memory of its own") {
  constexpr auto v = var<"v", 1>;
  const auto step = compile(under_test(), v * 2_c);
  auto vs = to_device(xt::xtensor<double, 1>{1.0, 2.0, 3.0}, step.backend());
  auto out = vs;  // the same memory as the input
  step.into(out, v = vs);
  CHECK(out.data() != vs.data());
  CHECK(to_host(out) == xt::xtensor<double, 1>{2.0, 4.0, 6.0});
  CHECK(to_host(vs) == xt::xtensor<double, 1>{1.0, 2.0, 3.0});
}
