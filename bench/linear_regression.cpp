// Linear-regression step (MSE loss, dL/dw, dL/db; float32): kobai's fused program against a
// hand-written single fused loop, at one thread and at every thread. Prints a table of medians and
// ratios (kobai / hand) measured in this run, and checks both compute the same numbers.
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <xtensor/xtensor.hpp>

#include "harness.hpp"
#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

// (after kobai: LibTorch includes <immintrin.h>, and the intrinsic headers must come in through
// kobai/core/simd.hpp, where GCC 12's false -Wuninitialized in them is silenced)
#ifdef KOBAI_BENCH_LIBTORCH
#include <torch/torch.h>
#endif

namespace {

struct step_result {
  double loss, dw, db;
};

// What a user writes by hand: one pass, double accumulators, OpenMP for threads.
step_result hand_written(const float* x, const float* t, std::size_t n, float w, float b, int threads) {
  double loss = 0, dw = 0, db = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : loss, dw, db) schedule(static)
  for (std::size_t i = 0; i < n; ++i) {
    const float r = w * x[i] + b - t[i];
    loss += static_cast<double>(r) * r;
    dw += static_cast<double>(r) * x[i];
    db += r;
  }
  const double scale = 1.0 / static_cast<double>(n);
  return {loss * scale, 2 * dw * scale, 2 * db * scale};
}

// The same, written for the vectoriser: `omp simd` lets the compiler reorder the sums.
step_result hand_written_simd(const float* x, const float* t, std::size_t n, float w, float b, int threads) {
  double loss = 0, dw = 0, db = 0;
#pragma omp parallel for simd num_threads(threads) reduction(+ : loss, dw, db) schedule(static)
  for (std::size_t i = 0; i < n; ++i) {
    const float r = w * x[i] + b - t[i];
    loss += static_cast<double>(r) * r;
    dw += static_cast<double>(r) * x[i];
    db += r;
  }
  const double scale = 1.0 / static_cast<double>(n);
  return {loss * scale, 2 * dw * scale, 2 * db * scale};
}

#ifdef KOBAI_BENCH_LIBTORCH
// LibTorch eager autograd, as its users write a step: forward, backward, read .grad.
struct libtorch_step {
  torch::Tensor x, t, w, b;
  libtorch_step(float* xs, float* ts, std::size_t n)
      : x(torch::from_blob(xs, {static_cast<long>(n)})),
        t(torch::from_blob(ts, {static_cast<long>(n)})),
        w(torch::tensor(0.5f, torch::requires_grad())),
        b(torch::tensor(0.25f, torch::requires_grad())) {}
  step_result operator()() {
    w.mutable_grad() = torch::Tensor();
    b.mutable_grad() = torch::Tensor();
    auto loss = (w * x + b - t).pow(2).mean();
    loss.backward();
    return {loss.item<double>(), w.grad().item<double>(), b.grad().item<double>()};
  }
};
#endif

}  // namespace

int main(int argc, char** argv) {
  const bench::recorder recorder(argc, argv);
  using namespace kobai;
  constexpr auto x = input<"x", 1>;
  constexpr auto t = input<"t", 1>;
  constexpr auto w = var<"w">;
  constexpr auto b = var<"b">;
  constexpr auto loss = mse(w * x + b, t);
  const auto [dw, db] = grad(loss, w, b);
  const unsigned all = std::max(1u, std::thread::hardware_concurrency());
  if (const char* policy = std::getenv("OMP_WAIT_POLICY"); policy == nullptr || std::string(policy) != "passive")
    std::printf("note: set OMP_WAIT_POLICY=passive (bench/run does) or OpenMP's idle threads take kobai's cores\n");

  std::printf("linear-regression step, float32: kobai against hand-written fused loops (medians)\n");
  std::printf("  hand: a plain loop; simd: the same with `omp simd`, so the compiler vectorises the sums\n");
  std::printf("%10s %8s %13s %13s %13s %11s %11s", "N", "threads", "kobai", "hand", "simd", "kobai/hand", "kobai/simd");
#ifdef KOBAI_BENCH_LIBTORCH
  std::printf(" %13s %12s", "libtorch", "kobai/torch");
#endif
  std::printf("\n");
  bool agree = true;
  long kobai_extra_kib = 0, libtorch_extra_kib = 0;
  for (std::size_t n : {std::size_t{1000}, std::size_t{100000}, std::size_t{10000000}}) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    xt::xtensor<float, 1> X = xt::xtensor<float, 1>::from_shape({n}), T = X;
    for (std::size_t i = 0; i < n; ++i) X[i] = normal(rng), T[i] = 2 * X[i] + 0.1f * normal(rng);
    recorder.dump("w1_x_" + std::to_string(n), X.data(), n);
    recorder.dump("w1_t_" + std::to_string(n), T.data(), n);
    const int repetitions = n >= 10000000 ? 31 : n >= 100000 ? 301 : 3001;
    for (unsigned threads : {1u, all}) {
      if (threads == all && all == 1) continue;
      const auto step = compile(loss, dw, db).threads(threads);
      std::tuple<float, float, float> kobai_result;
      step_result hand_result{}, simd_result{};
      const int omp_threads = static_cast<int>(threads);
      const auto [kobai_time, hand_time] = bench::median_seconds(
          [&] { kobai_result = step(x = X, t = T, w = 0.5, b = 0.25); },
          [&] { hand_result = hand_written(X.data(), T.data(), n, 0.5f, 0.25f, omp_threads); }, repetitions);
      kobai_extra_kib = std::max(kobai_extra_kib, bench::last_extra_kib.first);
      const auto [kobai_again, simd_time] = bench::median_seconds(
          [&] { kobai_result = step(x = X, t = T, w = 0.5, b = 0.25); },
          [&] { simd_result = hand_written_simd(X.data(), T.data(), n, 0.5f, 0.25f, omp_threads); }, repetitions);
      bench::keep(kobai_result);
      bench::keep(hand_result);
      bench::keep(simd_result);
      const auto close = [](double a, double b) { return std::abs(a - b) <= 1e-5 * std::max(1.0, std::abs(b)); };
      for (const auto& reference : {hand_result, simd_result})
        agree = agree && close(std::get<0>(kobai_result), reference.loss) &&
                close(std::get<1>(kobai_result), reference.dw) && close(std::get<2>(kobai_result), reference.db);
      std::printf("%10zu %8u %10.2f us %10.2f us %10.2f us %11.3f %11.3f", n, threads, kobai_time * 1e6,
                  hand_time * 1e6, simd_time * 1e6, kobai_time / hand_time, kobai_again / simd_time);
      std::string row = "{\"workload\": \"W1\", \"n\": " + std::to_string(n) +
                        ", \"threads\": " + std::to_string(threads) + ", \"kobai_s\": " + bench::number(kobai_time) +
                        ", \"hand_s\": " + bench::number(hand_time) + ", \"simd_s\": " + bench::number(simd_time) +
                        ", \"kobai_with_simd_s\": " + bench::number(kobai_again) +
                        ", \"loss\": " + bench::number(std::get<0>(kobai_result)) +
                        ", \"dw\": " + bench::number(std::get<1>(kobai_result)) +
                        ", \"db\": " + bench::number(std::get<2>(kobai_result));
#ifdef KOBAI_BENCH_LIBTORCH
      torch::set_num_threads(static_cast<int>(threads));
      libtorch_step libtorch(X.data(), T.data(), n);
      step_result torch_result{};
      const auto [kobai_third, torch_time] =
          bench::median_seconds([&] { kobai_result = step(x = X, t = T, w = 0.5, b = 0.25); },
                                [&] { torch_result = libtorch(); }, std::max(5, repetitions / 10));
      libtorch_extra_kib = std::max(libtorch_extra_kib, bench::last_extra_kib.second);
      agree = agree && close(std::get<0>(kobai_result), torch_result.loss) &&
              close(std::get<1>(kobai_result), torch_result.dw) && close(std::get<2>(kobai_result), torch_result.db);
      std::printf(" %10.2f us %12.3f", torch_time * 1e6, kobai_third / torch_time);
      row += ", \"libtorch_s\": " + bench::number(torch_time) +
             ", \"kobai_with_libtorch_s\": " + bench::number(kobai_third);
#endif
      std::printf("\n");
      recorder.record(row + "}");
    }
  }
  bench::record_memory(recorder, "W1", kobai_extra_kib, libtorch_extra_kib);
  std::printf(agree ? "results agree (1e-5 relative)\n" : "RESULTS DISAGREE\n");
  return agree ? 0 : 1;
}
