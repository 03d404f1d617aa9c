// W8, a Gaussian mixture's log-likelihood (ADBench's GMM objective without the Wishart prior, the
// inverse covariances given by Cholesky factors: Q_k = lower triangle of L_k with its diagonal
// exponentiated), float32, N = 1000 points, at (D, K) = (2, 5), (10, 25), (64, 25): kobai's objective
// against a hand-written loop nest of the same objective compiled with the same flags, and kobai's
// objective with its gradient (alphas, means, factors) against kobai's objective alone, the cost
// ratio that AD is judged by. With --out DIR it records the inputs and kobai's numbers for the
// Python peers (bench/peers.py).
#include <algorithm>
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
using namespace kobai::literals;

constexpr auto X = input<"X", 2>;          // (N, D)
constexpr auto alphas = var<"alphas", 1>;  // (K)
constexpr auto means = var<"means", 2>;    // (K, D)
constexpr auto L = var<"L", 3>;            // (K, D, D): log-diagonal and strictly lower factors
constexpr auto eye = input<"eye", 2>;      // (D, D)
constexpr auto lower = input<"lower", 2>;  // (D, D): 1 below the diagonal
constexpr auto Q = eye * exp(L) + lower * L;
constexpr auto y = sum<3>(unsqueeze<0>(Q) * unsqueeze<2>(unsqueeze<1>(X) - means));  // (N, K, D): Q_k (x − μ_k)
constexpr auto objective =
    sum(logsumexp<1>(alphas + sum<1, 2>(eye * L) - 0.5_c * sum<2>(pow<2>(y)))) - numel(sum<1>(X)) * logsumexp(alphas);

// The objective by hand, as a user writes it: Q_k once per call, then per point the triangular
// products, a log-sum-exp over the components (float arithmetic, a double total).
double by_hand(const float* x, std::size_t n, std::size_t d, std::size_t k, const float* a, const float* mu,
               const float* factors, std::vector<float>& q, std::vector<float>& inner, std::vector<float>& centred) {
  q.resize(k * d * d);
  inner.resize(k);
  centred.resize(d);
  std::vector<float> logdet(k, 0.0f);
  for (std::size_t m = 0; m < k; ++m)
    for (std::size_t j = 0; j < d; ++j)
      for (std::size_t l = 0; l <= j; ++l) {
        const float f = factors[(m * d + j) * d + l];
        q[(m * d + j) * d + l] = l == j ? std::exp(f) : f;
        if (l == j) logdet[m] += f;
      }
  auto logsumexp = [](const float* v, std::size_t size) {
    const float top = *std::max_element(v, v + size);
    float total = 0;
    for (std::size_t e = 0; e < size; ++e) total += std::exp(v[e] - top);
    return top + std::log(total);
  };
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t m = 0; m < k; ++m) {
      for (std::size_t l = 0; l < d; ++l) centred[l] = x[i * d + l] - mu[m * d + l];
      float squares = 0;
      for (std::size_t j = 0; j < d; ++j) {
        const float* row = &q[(m * d + j) * d];
        float s = 0;
        for (std::size_t l = 0; l <= j; ++l) s += row[l] * centred[l];
        squares += s * s;
      }
      inner[m] = a[m] + logdet[m] - 0.5f * squares;
    }
    total += logsumexp(inner.data(), k);
  }
  return total - static_cast<double>(n) * logsumexp(a, k);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::recorder recorder(argc, argv);
  const double floor = bench::fma_floor_gflops();
  const unsigned all = std::max(1U, std::thread::hardware_concurrency());
  std::printf("W8 Gaussian-mixture log-likelihood, N = 1000, float32, medians; floor %.1f GFLOP/s per thread\n", floor);
  std::printf("%-10s %8s %12s %12s %12s %10s %10s %9s\n", "(D, K)", "threads", "objective", "hand", "gradient",
              "obj/hand", "grad/obj", "GFLOP/s");
  auto objective_program = compile(objective);
  auto gradient_program = compile(objective, grad(objective, alphas), grad(objective, means), grad(objective, L));
  std::mt19937 rng(8);
  std::normal_distribution<float> normal;
  bool agree = true;
  for (const auto& sizes : {std::pair<std::size_t, std::size_t>{2, 5}, {10, 25}, {64, 25}}) {
    const std::size_t d = sizes.first, k = sizes.second;  // not a structured binding: lambdas capture them
    const std::size_t n = 1000;
    auto Xv = xt::xtensor<float, 2>::from_shape({n, d});
    auto av = xt::xtensor<float, 1>::from_shape({k});
    auto muv = xt::xtensor<float, 2>::from_shape({k, d});
    auto Lv = xt::xtensor<float, 3>::from_shape({k, d, d});
    xt::xtensor<float, 2> identity = xt::zeros<float>({d, d}), below = xt::zeros<float>({d, d});
    for (auto& v : Xv) v = normal(rng);
    for (auto& v : av) v = 0.5f * normal(rng);
    for (auto& v : muv) v = normal(rng);
    for (auto& v : Lv) v = 0.1f * normal(rng);
    for (std::size_t j = 0; j < d; ++j)
      for (std::size_t l = 0; l < d; ++l) identity(j, l) = j == l ? 1.0f : 0.0f, below(j, l) = l < j ? 1.0f : 0.0f;
    const std::string shape = std::to_string(d) + "_" + std::to_string(k);
    for (auto [name, values] :
         {std::pair{"x", Xv.data()}, {"alphas", av.data()}, {"means", muv.data()}, {"L", Lv.data()}}) {
      const std::size_t size = std::string(name) == "x"        ? Xv.size()
                               : std::string(name) == "alphas" ? av.size()
                               : std::string(name) == "means"  ? muv.size()
                                                               : Lv.size();
      recorder.dump("W8_" + std::string(name) + "_" + shape, values, size);
    }
    std::vector<float> q, inner, centred;
    const double hand_value = by_hand(Xv.data(), n, d, k, av.data(), muv.data(), Lv.data(), q, inner, centred);
    // dense flops of kobai's formulation: the products Q_k·(x − μ_k), 2·K·D² per point; its
    // gradient about three times that
    const double flops = 2.0 * static_cast<double>(k * d * d * n);
    for (unsigned threads : {1U, all}) {
      if (threads == all && all == 1) continue;
      objective_program.threads(threads);
      gradient_program.threads(threads);
      auto bind = [&](auto f) { return f(X = Xv, alphas = av, means = muv, L = Lv, eye = identity, lower = below); };
      float value = bind([&](auto... b) { return objective_program(b...); });
      auto results = bind([&](auto... b) { return gradient_program(b...); });
      const double difference = std::abs(static_cast<double>(value) - hand_value) / std::max(1.0, std::abs(hand_value));
      if (difference > 1e-4) std::printf("  kobai and the hand loop differ by %.3g (relative)\n", difference);
      agree = agree && difference <= 1e-4;
      const int repetitions = d > 32 ? 21 : 101;
      const double objective_s =
          bench::median_of([&] { value = bind([&](auto... b) { return objective_program(b...); }); }, repetitions);
      double hand_total = 0;
      const double hand_s = threads == 1 ? bench::median_of(
                                               [&] {
                                                 hand_total = by_hand(Xv.data(), n, d, k, av.data(), muv.data(),
                                                                      Lv.data(), q, inner, centred);
                                               },
                                               repetitions)
                                         : 0.0;
      const double gradient_s =
          bench::median_of([&] { bind([&](auto... b) { gradient_program.into(results, b...); }); }, repetitions);
      bench::keep(value);
      bench::keep(hand_total);
      bench::keep(results);
      std::printf("(%2zu, %2zu) %10u %9.3f ms %9.3f ms %9.3f ms %10s %10.2f %9.2f\n", d, k, threads, objective_s * 1e3,
                  hand_s * 1e3, gradient_s * 1e3,
                  threads == 1 ? std::to_string(objective_s / hand_s).substr(0, 5).c_str() : "—",
                  gradient_s / objective_s, flops / objective_s * 1e-9);
      std::vector<float> numbers{std::get<0>(results)};
      for (float v : std::get<1>(results)) numbers.push_back(v);
      for (float v : std::get<2>(results)) numbers.push_back(v);
      for (float v : std::get<3>(results)) numbers.push_back(v);
      if (threads == 1) recorder.dump("W8_kobai_" + shape, numbers.data(), numbers.size());
      recorder.record("{\"workload\": \"W8\", \"d\": " + std::to_string(d) + ", \"k\": " + std::to_string(k) +
                      ", \"n\": " + std::to_string(n) + ", \"threads\": " + std::to_string(threads) +
                      ", \"kobai_s\": " + bench::number(gradient_s) + ", \"objective_s\": " +
                      bench::number(objective_s) + (threads == 1 ? ", \"hand_s\": " + bench::number(hand_s) : "") +
                      ", \"floor_gflops\": " + bench::number(floor) + "}");
    }
  }
  std::printf(agree ? "objectives agree with the hand loop (1e-4)\n" : "OBJECTIVES DISAGREE\n");
  return agree ? 0 : 1;
}
