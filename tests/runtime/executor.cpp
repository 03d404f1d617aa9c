// The GPU executor and its generated kernels, run by the host emulator (the same source compiled
// as C++, several blocks, one thread each) and compared with the CPU executor on random inputs
// away from zero: every kind of loop nest, buffer, view and output the planner makes. With
// KOBAI_TEST_DEVICE=cuda (scripts/gpu-test) the same tests run on the GPU instead. Every program
// here is also compiled by NVRTC to CUBIN for sm_80 and sm_90.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string_view>
#include <tuple>

#include "kobai/device_program.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {

// Uniform magnitudes in [0.5, 1.5] with random signs: never zero.
template <class T, std::size_t R>
xt::xtensor<T, R> random_tensor(const std::array<std::size_t, R>& shape, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> magnitude(0.5, 1.5);
  auto result = xt::xtensor<T, R>::from_shape(shape);
  for (auto& v : result) v = static_cast<T>((generator() % 2 ? 1 : -1) * magnitude(generator));
  return result;
}

// The backend under test: the emulator, or the GPU when KOBAI_TEST_DEVICE=cuda.
device::choice under_test() {
  const char* chosen = std::getenv("KOBAI_TEST_DEVICE");
  return chosen && std::string_view(chosen) == "cuda" ? device::cuda : device::emulated;
}

double relative_error(double got, double want) { return std::abs(got - want) / std::max(1.0, std::abs(want)); }

template <class A, class B>
void check_close(const A& got, const B& want, double tolerance) {
  if constexpr (std::is_arithmetic_v<A>) {
    CHECK(relative_error(got, want) <= tolerance);
  } else {
    const auto g = to_host(got), w = to_host(want);
    REQUIRE(g.shape() == w.shape());
    double worst = 0, scale = 1;
    for (std::size_t i = 0; i < g.size(); ++i) scale = std::max(scale, std::abs(double(w.data()[i])));
    for (std::size_t i = 0; i < g.size(); ++i)
      worst = std::max(worst, std::abs(double(g.data()[i]) - double(w.data()[i])) / scale);
    CHECK(worst <= tolerance);
  }
}

template <class Tuple, std::size_t... K>
void check_all(const Tuple& got, const Tuple& want, double tolerance, std::index_sequence<K...>) {
  (check_close(std::get<K>(got), std::get<K>(want), tolerance), ...);
}

// Runs the outputs on the CPU and in the emulator with the same bindings; `bind(program)` makes
// the bindings for a program (its tensors copied to its backend).
template <class Bind, class... Outputs>
void same_as_cpu(double tolerance, const Bind& bind, Outputs... outputs) {
  const auto cpu = compile(device::cpu, outputs...);
  const auto emulated = compile(under_test(), outputs...);
  REQUIRE(emulated.where() == under_test());
  // Its kernels are machine code for the GPUs kobai targets (NVRTC needs no GPU).
  if (const auto& nvrtc = runtime::nvrtc::instance(); nvrtc.available())
    for (int arch : {80, 90})
      CHECK(nvrtc.compile(device_program<Outputs...>::template cuda_source<float>().source, "test", arch).is_cubin);
  const auto want = std::apply(cpu, bind(cpu));
  const auto got = std::apply(emulated, bind(emulated));
  if constexpr (sizeof...(Outputs) == 1)
    check_close(got, want, tolerance);
  else
    check_all(got, want, tolerance, std::index_sequence_for<Outputs...>{});
}

constexpr auto x = input<"x", 1>;
constexpr auto t = input<"t", 1>;
constexpr auto w = var<"w">;
constexpr auto b = var<"b">;
constexpr auto X = input<"X", 2>;
constexpr auto y = input<"y", 1>;
constexpr auto W = var<"W", 1>;

}  // namespace

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
  const auto Xs = random_tensor<float, 2>({300, 9}, 23);
  const auto Ws = random_tensor<float, 1>({9}, 24);
  same_as_cpu(
      1e-5,
      [&](const auto& p) {
        return std::tuple{X = to_device(Xs, p.backend()), W = to_device(Ws, p.backend())};
      },
      mean(z), z - mean(z), sum(z * z));
  const auto& source = device_program<decltype(mean(z)), decltype(z - mean(z))>::cuda_source<float>().source;
  CHECK(source.find("a.results[a.f6_sum + i0 * slice + e] = 0;") != std::string::npos);  // its row's slice
}

TEST_CASE("a view of a value without axes, as an output and read by a loop") {
  constexpr auto v = var<"v", 1>;
  constexpr auto u = input<"u", 1>;
  const auto vs = random_tensor<double, 1>({13}, 25);
  const auto us = random_tensor<double, 1>({1}, 26);
  same_as_cpu(
      1e-12,
      [&](const auto& p) {
        return std::tuple{v = to_device(vs, p.backend()), u = to_device(us, p.backend())};
      },
      reshape_as(sum(v), u) * u, reshape_as(sum(v), u));
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
