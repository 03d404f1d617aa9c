// W5–W7, training steps whose rows hold contractions, float32, on data shaped like scikit-learn's
// digits (64 standardised features, 10 classes; synthetic values, N = 1797 and 10^5):
//   W5  a softmax classifier 64 → 10, cross-entropy: the loss and the gradients of W and b;
//   W6  an MLP 64 → 32 tanh → 10, cross-entropy: the loss and every gradient;
//   W7  a wider MLP 64 → 256 tanh → 256 tanh → 10, cross-entropy, N = 10^5.
// Prints kobai's medians at one thread and at every thread with GFLOP/s next to a measured floor
// (a register-tiled loop of fused multiply-adds, bench::fma_floor_gflops) and the same step's time
// in float64 over its time in float32 (timed after it, not interleaved: the float64 data would
// evict the float32 data between calls), and with --out DIR records the inputs
// and kobai's numbers for the Python peers (bench/peers.py), which check them.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "harness.hpp"
#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

namespace {

using namespace kobai;
constexpr std::size_t features = 64, classes = 10;

constexpr auto X = input<"X", 2>;  // (N, 64)
constexpr auto Y = input<"Y", 2>;  // (N, 10), one-hot
constexpr auto W1 = var<"W1", 2>;
constexpr auto b1 = var<"b1", 1>;
constexpr auto W2 = var<"W2", 2>;
constexpr auto b2 = var<"b2", 1>;
constexpr auto W3 = var<"W3", 2>;
constexpr auto b3 = var<"b3", 1>;

xt::xtensor<float, 2> random_matrix(std::size_t rows, std::size_t columns, double scale, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  auto m = xt::xtensor<float, 2>::from_shape({rows, columns});
  for (auto& v : m) v = static_cast<float>(scale) * normal(rng);
  return m;
}
xt::xtensor<float, 1> random_vector(std::size_t size, double scale, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  auto v = xt::xtensor<float, 1>::from_shape({size});
  for (auto& e : v) e = static_cast<float>(scale) * normal(rng);
  return v;
}

struct data {
  xt::xtensor<float, 2> X, Y;
};
data make_data(std::size_t n, std::mt19937& rng) {
  data d{random_matrix(n, features, 1.0, rng), xt::zeros<float>({n, classes})};
  for (std::size_t i = 0; i < n; ++i) d.Y(i, rng() % classes) = 1;
  return d;
}

// Every number of a step's results, in order, as float (loss first).
template <class Tuple>
std::vector<float> numbers_of(const Tuple& results) {
  std::vector<float> out;
  std::apply(
      [&](const auto&... r) {
        (
            [&] {
              if constexpr (std::is_arithmetic_v<std::remove_cvref_t<decltype(r)>>)
                out.push_back(static_cast<float>(r));
              else
                out.insert(out.end(), r.begin(), r.end());
            }(),
            ...);
      },
      results);
  return out;
}

struct workload {
  const char* name;
  double flops_per_row;  // of the step (forward and backward), multiply-adds counted as 2
};

// The values of a float container as float64.
template <class E>
auto as_double(const E& values) {
  return xt::xtensor<double, E::rank>(xt::cast<double>(values));
}

// Times a compiled step on the data at 1 thread and at every thread, then the same step in
// float64 (step64), prints and records the rows. `with(f)` calls f with the step's
// bindings, `with64(f)` with the float64 step's.
template <class Step, class With, class Step64, class With64>
void measure(const bench::recorder& recorder, const workload& w, std::size_t n, Step step, With with, Step64 step64,
             With64 with64, double floor, int repetitions) {
  const unsigned all = std::max(1U, std::thread::hardware_concurrency());
  for (unsigned threads : {1U, all}) {
    if (threads == all && all == 1) continue;
    step.threads(threads);
    step64.threads(threads);
    auto results = with([&](auto... bindings) { return step(bindings...); });
    auto results64 = with64([&](auto... bindings) { return step64(bindings...); });
    const double seconds =
        bench::median_of([&] { with([&](auto... bindings) { step.into(results, bindings...); }); }, repetitions);
    const double seconds64 =
        bench::median_of([&] { with64([&](auto... bindings) { step64.into(results64, bindings...); }); }, repetitions);
    bench::keep(results);
    bench::keep(results64);
    const double gflops = w.flops_per_row * static_cast<double>(n) / seconds * 1e-9;
    std::printf("%-4s %9zu %8u %12.3f ms %9.2f GFLOP/s %8.0f%% of the floor %8.2f\n", w.name, n, threads, seconds * 1e3,
                gflops, 100 * gflops / (floor * threads), seconds64 / seconds);
    const std::string suffix = std::string(w.name) + "_" + std::to_string(n);
    if (threads == 1) {
      const std::vector<float> numbers = numbers_of(results);
      recorder.dump(suffix + "_kobai", numbers.data(), numbers.size());
    }
    recorder.record("{\"workload\": \"" + std::string(w.name) + "\", \"n\": " + std::to_string(n) +
                    ", \"threads\": " + std::to_string(threads) + ", \"kobai_s\": " + bench::number(seconds) +
                    ", \"gflops\": " + bench::number(gflops) + ", \"floor_gflops\": " + bench::number(floor) +
                    ", \"float64_s\": " + bench::number(seconds64) + "}");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bench::recorder recorder(argc, argv);
  const double floor = bench::fma_floor_gflops();
  std::printf("W5–W7 classifier steps, float32, medians; the floor is %.1f GFLOP/s per thread\n", floor);
  std::printf("%-4s %9s %8s %15s %41s\n", "", "N", "threads", "kobai", "float64 / float32");
  std::mt19937 rng(5);
  for (std::size_t n : {std::size_t{1797}, std::size_t{100000}}) {
    const data d = make_data(n, rng);
    const auto X64 = as_double(d.X), Y64 = as_double(d.Y);
    const std::string size = std::string("_").append(std::to_string(n));
    recorder.dump("w5_x" + size, d.X.data(), d.X.size());
    recorder.dump("w5_y" + size, d.Y.data(), d.Y.size());
    const int repetitions = n > 10000 ? 21 : 101;
    {  // W5: softmax classifier
      auto Wv = random_matrix(features, classes, 0.1, rng);
      auto bv = random_vector(classes, 0.1, rng);
      recorder.dump("W5_W" + size, Wv.data(), Wv.size());
      recorder.dump("W5_b" + size, bv.data(), bv.size());
      constexpr auto loss = cross_entropy(matmul(X, W2) + b2, Y);
      auto step = compile(loss, grad(loss, W2), grad(loss, b2));
      measure(
          recorder, {"W5", 4.0 * features * classes}, n, step,
          [&](auto f) { return f(X = d.X, Y = d.Y, W2 = Wv, b2 = bv); }, step,
          [&, W = as_double(Wv), b = as_double(bv)](auto f) { return f(X = X64, Y = Y64, W2 = W, b2 = b); }, floor,
          repetitions);
    }
    {  // W6: MLP 64 → 32 tanh → 10
      constexpr std::size_t hidden = 32;
      auto W1v = random_matrix(features, hidden, 0.2, rng), W2v = random_matrix(hidden, classes, 0.2, rng);
      auto b1v = random_vector(hidden, 0.1, rng), b2v = random_vector(classes, 0.1, rng);
      recorder.dump("W6_W1" + size, W1v.data(), W1v.size());
      recorder.dump("W6_b1" + size, b1v.data(), b1v.size());
      recorder.dump("W6_W2" + size, W2v.data(), W2v.size());
      recorder.dump("W6_b2" + size, b2v.data(), b2v.size());
      constexpr auto loss = cross_entropy(matmul(tanh(matmul(X, W1) + b1), W2) + b2, Y);
      auto step = compile(loss, grad(loss, W1), grad(loss, b1), grad(loss, W2), grad(loss, b2));
      measure(
          recorder, {"W6", 4.0 * features * hidden + 6.0 * hidden * classes}, n, step,
          [&](auto f) { return f(X = d.X, Y = d.Y, W1 = W1v, b1 = b1v, W2 = W2v, b2 = b2v); }, step,
          [&, W1d = as_double(W1v), b1d = as_double(b1v), W2d = as_double(W2v), b2d = as_double(b2v)](auto f) {
            return f(X = X64, Y = Y64, W1 = W1d, b1 = b1d, W2 = W2d, b2 = b2d);
          },
          floor, repetitions);
    }
    if (n == 100000) {  // W7: MLP 64 → 256 tanh → 256 tanh → 10
      constexpr std::size_t hidden = 256;
      auto W1v = random_matrix(features, hidden, 0.12, rng), W2v = random_matrix(hidden, hidden, 0.06, rng);
      auto W3v = random_matrix(hidden, classes, 0.06, rng);
      auto b1v = random_vector(hidden, 0.1, rng), b2v = random_vector(hidden, 0.1, rng),
           b3v = random_vector(classes, 0.1, rng);
      for (auto [name, values] : {std::pair{"W1", &W1v}, {"W2", &W2v}, {"W3", &W3v}})
        recorder.dump("W7_" + std::string(name) + size, values->data(), values->size());
      for (auto [name, values] : {std::pair{"b1", &b1v}, {"b2", &b2v}, {"b3", &b3v}})
        recorder.dump("W7_" + std::string(name) + size, values->data(), values->size());
      constexpr auto loss = cross_entropy(matmul(tanh(matmul(tanh(matmul(X, W1) + b1), W2) + b2), W3) + b3, Y);
      auto step =
          compile(loss, grad(loss, W1), grad(loss, b1), grad(loss, W2), grad(loss, b2), grad(loss, W3), grad(loss, b3));
      measure(
          recorder, {"W7", 4.0 * features * hidden + 6.0 * hidden * hidden + 6.0 * hidden * classes}, n, step,
          [&](auto f) { return f(X = d.X, Y = d.Y, W1 = W1v, b1 = b1v, W2 = W2v, b2 = b2v, W3 = W3v, b3 = b3v); }, step,
          [&, W1d = as_double(W1v), b1d = as_double(b1v), W2d = as_double(W2v), b2d = as_double(b2v),
           W3d = as_double(W3v), b3d = as_double(b3v)](auto f) {
            return f(X = X64, Y = Y64, W1 = W1d, b1 = b1d, W2 = W2d, b2 = b2d, W3 = W3d, b3 = b3d);
          },
          floor, 5);
    }
  }
}
