// Logistic-regression step with D = 16 features (BCE on logits, loss, dL/dW, dL/db; float32):
// kobai's one-pass program against hand-written fused loops, at one thread and at every thread.
// Prints medians and ratios measured in this run, checks every peer against kobai, and reports the
// extra peak memory of kobai's step.
#include <omp.h>

#include <array>
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

// (after kobai: LibTorch includes <immintrin.h>, and the intrinsic headers must come in through
// kobai/core/simd.hpp, where GCC 12's false -Wuninitialized in them is silenced)
#ifdef KOBAI_BENCH_LIBTORCH
#include <torch/torch.h>
#endif

namespace {

constexpr std::size_t features = 16;

struct step_result {
  double loss = 0, db = 0;
  std::array<double, features> dw{};
};

// What a user writes by hand: per row, the logit, the loss term and the gradient, in one pass;
// float arithmetic, double accumulators, OpenMP threads with an array reduction. `Simd` adds
// `omp simd` to the logit's dot product so the compiler may vectorise the float sum.
template <bool Simd>
step_result hand_written(const float* X, const float* y, std::size_t n, const float* w, float b, int threads) {
  double loss = 0, db = 0;
  std::array<double, features> dw{};
  double* dw_data = dw.data();
#pragma omp parallel for num_threads(threads) reduction(+ : loss, db, dw_data[:features]) schedule(static)
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = X + i * features;
    float z = b;
    if constexpr (Simd) {
#pragma omp simd reduction(+ : z)
      for (std::size_t d = 0; d < features; ++d) z += row[d] * w[d];
    } else {
      for (std::size_t d = 0; d < features; ++d) z += row[d] * w[d];
    }
    const float e = std::exp(-std::abs(z));
    loss += std::max(z, 0.0f) + std::log1p(e) - z * y[i];
    const float g = (z >= 0 ? 1 / (1 + e) : e / (1 + e)) - y[i];
    db += g;
    for (std::size_t d = 0; d < features; ++d) dw_data[d] += g * row[d];
  }
  step_result r;
  const double scale = 1.0 / static_cast<double>(n);
  r.loss = loss * scale;
  r.db = db * scale;
  for (std::size_t d = 0; d < features; ++d) r.dw[d] = dw[d] * scale;
  return r;
}

#ifdef KOBAI_BENCH_LIBTORCH
struct libtorch_step {
  torch::Tensor X, y, w, b;
  libtorch_step(float* xs, float* ys, float* ws, std::size_t n)
      : X(torch::from_blob(xs, {static_cast<long>(n), static_cast<long>(features)})),
        y(torch::from_blob(ys, {static_cast<long>(n)})),
        w(torch::from_blob(ws, {static_cast<long>(features)}).clone().requires_grad_()),
        b(torch::tensor(0.1f, torch::requires_grad())) {}
  step_result operator()() {
    w.mutable_grad() = torch::Tensor();
    b.mutable_grad() = torch::Tensor();
    auto loss = torch::binary_cross_entropy_with_logits(X.mv(w) + b, y);
    loss.backward();
    step_result r;
    r.loss = loss.item<double>();
    r.db = b.grad().item<double>();
    auto g = w.grad();
    for (std::size_t d = 0; d < features; ++d) r.dw[d] = g[static_cast<long>(d)].item<double>();
    return r;
  }
};
#endif

}  // namespace

int main(int argc, char** argv) {
  const bench::recorder recorder(argc, argv);
  using namespace kobai;
  constexpr auto X = input<"X", 2>;
  constexpr auto y = input<"y", 1>;
  constexpr auto w = var<"w", 1>;
  constexpr auto b = var<"b">;
  constexpr auto loss = bce_with_logits(matmul(X, w) + b, y);
  const auto [dw, db] = grad(loss, w, b);
  static_assert(ir::loop_count(loss, grad(loss, w), grad(loss, b)) == 1, "one pass over the rows");
  const unsigned all = std::max(1u, std::thread::hardware_concurrency());

  std::printf("logistic-regression step, D = %zu, float32: kobai against hand-written fused loops (medians)\n",
              features);
  std::printf("  hand: a plain per-row loop; simd: the same with `omp simd` on the logit's dot product\n");
  std::printf("%10s %8s %13s %13s %13s %11s %11s", "N", "threads", "kobai", "hand", "simd", "kobai/hand", "kobai/simd");
#ifdef KOBAI_BENCH_LIBTORCH
  std::printf(" %13s %12s", "libtorch", "kobai/torch");
#endif
  std::printf("\n");
  bool agree = true;
  long kobai_extra_kib = 0, libtorch_extra_kib = 0;
  for (std::size_t n : {std::size_t{1000}, std::size_t{1000000}, std::size_t{10000000}}) {
    std::mt19937 rng(2);
    std::normal_distribution<float> normal;
    xt::xtensor<float, 2> features_data = xt::xtensor<float, 2>::from_shape({n, features});
    xt::xtensor<float, 1> labels = xt::xtensor<float, 1>::from_shape({n});
    xt::xtensor<float, 1> weights = xt::xtensor<float, 1>::from_shape({features});
    for (std::size_t d = 0; d < features; ++d) weights[d] = 0.3f * normal(rng);
    for (std::size_t i = 0; i < n; ++i) {
      float z = 0.2f;
      for (std::size_t d = 0; d < features; ++d) z += (features_data(i, d) = normal(rng)) * 0.5f * weights[d];
      labels[i] = normal(rng) < z ? 1.0f : 0.0f;
    }
    recorder.dump("w2_x_" + std::to_string(n), features_data.data(), features_data.size());
    recorder.dump("w2_y_" + std::to_string(n), labels.data(), n);
    recorder.dump("w2_w_" + std::to_string(n), weights.data(), features);
    const int repetitions = n >= 10000000 ? 21 : n >= 1000000 ? 101 : 3001;
    for (unsigned threads : {1u, all}) {
      if (threads == all && all == 1) continue;
      const auto step = compile(loss, dw, db).threads(threads);
      auto kobai_result = step(X = features_data, y = labels, w = weights, b = 0.1f);
      step_result hand_result, simd_result;
      const int omp_threads = static_cast<int>(threads);
      const auto [kobai_time, hand_time] =
          bench::median_seconds([&] { step.into(kobai_result, X = features_data, y = labels, w = weights, b = 0.1f); },
                                [&] {
                                  hand_result = hand_written<false>(features_data.data(), labels.data(), n,
                                                                    weights.data(), 0.1f, omp_threads);
                                },
                                repetitions);
      kobai_extra_kib = std::max(kobai_extra_kib, bench::last_extra_kib.first);
      const auto [kobai_again, simd_time] = bench::median_seconds(
          [&] { step.into(kobai_result, X = features_data, y = labels, w = weights, b = 0.1f); },
          [&] {
            simd_result = hand_written<true>(features_data.data(), labels.data(), n, weights.data(), 0.1f, omp_threads);
          },
          repetitions);
      bench::keep(kobai_result);
      bench::keep(hand_result);
      bench::keep(simd_result);
      const float L = std::get<0>(kobai_result), gb = std::get<2>(kobai_result);  // (clang 14: no captured bindings)
      const auto& gw = std::get<1>(kobai_result);
      // Within 1e-4 of the hand loops (double accumulators like kobai's); within 1e-3 of LibTorch,
      // whose float32 sums over 10^7 rows drift by about 1e-4.
      auto matches = [&](const step_result& r, double tolerance = 1e-4) {
        const auto close = [&](double a, double b) {
          return std::abs(a - b) <= tolerance * std::max(1e-2, std::abs(b));
        };
        bool same = close(L, r.loss) && close(gb, r.db);
        for (std::size_t d = 0; d < features; ++d) same = same && close(gw(d), r.dw[d]);
        return same;
      };
      if (!matches(hand_result) || !matches(simd_result))
        std::printf("  disagreement at N=%zu: kobai loss %.9g db %.9g dw0 %.9g; hand %.9g %.9g %.9g\n", n, L, gb, gw(0),
                    hand_result.loss, hand_result.db, hand_result.dw[0]);
      agree = agree && matches(hand_result) && matches(simd_result);
      std::printf("%10zu %8u %10.2f us %10.2f us %10.2f us %11.3f %11.3f", n, threads, kobai_time * 1e6,
                  hand_time * 1e6, simd_time * 1e6, kobai_time / hand_time, kobai_again / simd_time);
      std::string row = "{\"workload\": \"W2\", \"n\": " + std::to_string(n) +
                        ", \"threads\": " + std::to_string(threads) + ", \"kobai_s\": " + bench::number(kobai_time) +
                        ", \"hand_s\": " + bench::number(hand_time) + ", \"simd_s\": " + bench::number(simd_time) +
                        ", \"kobai_with_simd_s\": " + bench::number(kobai_again) + ", \"loss\": " + bench::number(L) +
                        ", \"db\": " + bench::number(gb) + ", \"dw\": [";
      for (std::size_t d = 0; d < features; ++d) row += (d ? ", " : "") + bench::number(gw(d));
      row += "]";
#ifdef KOBAI_BENCH_LIBTORCH
      torch::set_num_threads(static_cast<int>(threads));
      libtorch_step libtorch(features_data.data(), labels.data(), weights.data(), n);
      step_result torch_result;
      const auto [kobai_third, torch_time] =
          bench::median_seconds([&] { step.into(kobai_result, X = features_data, y = labels, w = weights, b = 0.1f); },
                                [&] { torch_result = libtorch(); }, std::max(5, repetitions / 10));
      libtorch_extra_kib = std::max(libtorch_extra_kib, bench::last_extra_kib.second);
      if (!matches(torch_result, 1e-3))
        std::printf("  disagreement at N=%zu: kobai loss %.9g db %.9g dw0 %.9g; libtorch %.9g %.9g %.9g\n", n, L, gb,
                    gw(0), torch_result.loss, torch_result.db, torch_result.dw[0]);
      agree = agree && matches(torch_result, 1e-3);
      std::printf(" %10.2f us %12.3f", torch_time * 1e6, kobai_third / torch_time);
      row += ", \"libtorch_s\": " + bench::number(torch_time) +
             ", \"kobai_with_libtorch_s\": " + bench::number(kobai_third);
#endif
      std::printf("\n");
      recorder.record(row + "}");
    }
  }
  std::printf("kobai's extra peak memory during the steps: %ld KiB (N up to 10^7; X alone is 640 MB)\n",
              kobai_extra_kib);
  bench::record_memory(recorder, "W2", kobai_extra_kib, libtorch_extra_kib);
  std::printf(agree ? "results agree (1e-4 relative to the hand loops, 1e-3 to LibTorch)\n" : "RESULTS DISAGREE\n");
  return agree ? 0 : 1;
}
