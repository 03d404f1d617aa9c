// W4, a small MLP regression step: D = 8 → 32 (tanh) → 1, MSE, float32; the loss and the gradients of
// W1, b1, w2 and b2. kobai's one-pass program (the hidden layer is kept per row, never per data set)
// against a hand-written fused loop built with the same flags and, when built with it, LibTorch's
// eager autograd. Prints medians and ratios measured in this run and checks every peer against kobai.
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

constexpr std::size_t inputs = 8, hidden = 32;

struct step_result {
  double loss = 0, db2 = 0;
  std::array<double, inputs * hidden> dW1{};
  std::array<double, hidden> db1{}, dw2{};
};

// What a user writes by hand: per row the hidden layer, the prediction, then every gradient, in one
// pass; float arithmetic, double accumulators, OpenMP threads with array reductions.
step_result hand_written(const float* X, const float* t, std::size_t n, const float* W1, const float* b1,
                         const float* w2, float b2, int threads) {
  double loss = 0, db2 = 0;
  std::array<double, inputs * hidden> dW1{};
  std::array<double, hidden> db1{}, dw2{};
  double *dW1_data = dW1.data(), *db1_data = db1.data(), *dw2_data = dw2.data();
  const float scale = 2.0f / static_cast<float>(n);
#pragma omp parallel for num_threads(threads) schedule(static) \
    reduction(+ : loss, db2, dW1_data[:inputs * hidden], db1_data[:hidden], dw2_data[:hidden])
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = X + i * inputs;
    std::array<float, hidden> a;
    for (std::size_t h = 0; h < hidden; ++h) a[h] = b1[h];
    for (std::size_t d = 0; d < inputs; ++d)
      for (std::size_t h = 0; h < hidden; ++h) a[h] += row[d] * W1[d * hidden + h];
    float prediction = b2;
    for (std::size_t h = 0; h < hidden; ++h) prediction += (a[h] = std::tanh(a[h])) * w2[h];
    const float r = prediction - t[i];
    loss += static_cast<double>(r) * r;
    const float g = scale * r;
    db2 += g;
    for (std::size_t h = 0; h < hidden; ++h) {
      dw2_data[h] += g * a[h];
      const float dz = g * w2[h] * (1 - a[h] * a[h]);
      db1_data[h] += dz;
      for (std::size_t d = 0; d < inputs; ++d) dW1_data[d * hidden + h] += row[d] * dz;
    }
  }
  step_result result;
  result.loss = loss / static_cast<double>(n);
  result.db2 = db2;
  result.dW1 = dW1;
  result.db1 = db1;
  result.dw2 = dw2;
  return result;
}

#ifdef KOBAI_BENCH_LIBTORCH
struct libtorch_step {
  torch::Tensor X, t, W1, b1, w2, b2;
  libtorch_step(float* xs, float* ts, float* W1s, float* b1s, float* w2s, std::size_t n)
      : X(torch::from_blob(xs, {static_cast<long>(n), static_cast<long>(inputs)})),
        t(torch::from_blob(ts, {static_cast<long>(n)})),
        W1(torch::from_blob(W1s, {static_cast<long>(inputs), static_cast<long>(hidden)}).clone().requires_grad_()),
        b1(torch::from_blob(b1s, {static_cast<long>(hidden)}).clone().requires_grad_()),
        w2(torch::from_blob(w2s, {static_cast<long>(hidden)}).clone().requires_grad_()),
        b2(torch::tensor(0.1f, torch::requires_grad())) {}
  step_result operator()() {
    for (auto* p : {&W1, &b1, &w2, &b2}) p->mutable_grad() = torch::Tensor();
    auto loss = torch::mse_loss(torch::tanh(X.mm(W1) + b1).mv(w2) + b2, t);
    loss.backward();
    step_result r;
    r.loss = loss.item<double>();
    r.db2 = b2.grad().item<double>();
    const auto dW1 = W1.grad().contiguous(), db1 = b1.grad().contiguous(), dw2 = w2.grad().contiguous();
    for (std::size_t k = 0; k < inputs * hidden; ++k) r.dW1[k] = dW1.data_ptr<float>()[k];
    for (std::size_t h = 0; h < hidden; ++h) r.db1[h] = db1.data_ptr<float>()[h], r.dw2[h] = dw2.data_ptr<float>()[h];
    return r;
  }
};
#endif

// Largest difference over the largest magnitude, over every number of the step.
template <class Range, class Reference>
double relative_difference(const Range& values, const Reference& reference) {
  double difference = 0, scale = 1e-3;
  std::size_t k = 0;
  for (auto value : values) {
    difference = std::max(difference, std::abs(static_cast<double>(value) - reference[k]));
    scale = std::max(scale, std::abs(reference[k++]));
  }
  return difference / scale;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::recorder recorder(argc, argv);
  using namespace kobai;
  constexpr auto X = input<"X", 2>;  // (N, 8)
  constexpr auto t = input<"t", 1>;  // (N)
  constexpr auto W1 = var<"W1", 2>;  // (8, 32)
  constexpr auto b1 = var<"b1", 1>;  // (32)
  constexpr auto w2 = var<"w2", 1>;  // (32)
  constexpr auto b2 = var<"b2">;
  constexpr auto loss = mse(matmul(tanh(matmul(X, W1) + b1), w2) + b2, t);
  const auto [dW1, db1, dw2, db2] = grad(loss, W1, b1, w2, b2);
  static_assert(ir::loop_count(loss, grad(loss, W1), grad(loss, b1), grad(loss, w2), grad(loss, b2)) == 1,
                "one pass over the rows");
  const unsigned all = std::max(1u, std::thread::hardware_concurrency());

  std::printf("W4 MLP regression step, D = %zu -> %zu (tanh) -> 1, MSE, float32: loss and every gradient (medians)\n",
              inputs, hidden);
  std::printf("%10s %8s %13s %13s %11s", "N", "threads", "kobai", "hand", "kobai/hand");
#ifdef KOBAI_BENCH_LIBTORCH
  std::printf(" %13s %12s", "libtorch", "kobai/torch");
#endif
  std::printf("\n");
  bool agree = true;
  long kobai_extra_kib = 0, libtorch_extra_kib = 0;
  for (std::size_t n : {std::size_t{100000}}) {
    std::mt19937 rng(4);
    std::normal_distribution<float> normal;
    auto Xv = xt::xtensor<float, 2>::from_shape({n, inputs});
    auto tv = xt::xtensor<float, 1>::from_shape({n});
    auto W1v = xt::xtensor<float, 2>::from_shape({inputs, hidden});
    auto b1v = xt::xtensor<float, 1>::from_shape({hidden}), w2v = b1v;
    for (auto& v : W1v) v = 0.4f * normal(rng);
    for (auto& v : b1v) v = 0.1f * normal(rng);
    for (auto& v : w2v) v = 0.3f * normal(rng);
    for (std::size_t i = 0; i < n; ++i) {
      float target = 0;
      for (std::size_t d = 0; d < inputs; ++d) target += std::sin(Xv(i, d) = normal(rng));
      tv[i] = target + 0.1f * normal(rng);
    }
    const float b2v = 0.1f;
    const std::string suffix = "_" + std::to_string(n);
    recorder.dump("w4_x" + suffix, Xv.data(), Xv.size());
    recorder.dump("w4_t" + suffix, tv.data(), n);
    recorder.dump("w4_W1" + suffix, W1v.data(), W1v.size());
    recorder.dump("w4_b1" + suffix, b1v.data(), hidden);
    recorder.dump("w4_w2" + suffix, w2v.data(), hidden);
    const int repetitions = 101;
    for (unsigned threads : {1u, all}) {
      if (threads == all && all == 1) continue;
      const auto step = compile(loss, dW1, db1, dw2, db2).threads(threads);
      auto kobai_result = step(X = Xv, t = tv, W1 = W1v, b1 = b1v, w2 = w2v, b2 = b2v);
      const auto run_kobai = [&] { step.into(kobai_result, X = Xv, t = tv, W1 = W1v, b1 = b1v, w2 = w2v, b2 = b2v); };
      step_result hand_result;
      const auto [kobai_time, hand_time] = bench::median_seconds(
          run_kobai,
          [&] {
            hand_result = hand_written(Xv.data(), tv.data(), n, W1v.data(), b1v.data(), w2v.data(), b2v,
                                       static_cast<int>(threads));
          },
          repetitions);
      kobai_extra_kib = std::max(kobai_extra_kib, bench::last_extra_kib.first);
      bench::keep(kobai_result);
      bench::keep(hand_result);
      // Every number of the step, in one order: loss, dW1, db1, dw2, db2.
      std::vector<double> kobai_numbers{std::get<0>(kobai_result)};
      for (float v : std::get<1>(kobai_result)) kobai_numbers.push_back(v);
      for (float v : std::get<2>(kobai_result)) kobai_numbers.push_back(v);
      for (float v : std::get<3>(kobai_result)) kobai_numbers.push_back(v);
      kobai_numbers.push_back(std::get<4>(kobai_result));
      const auto numbers_of = [](const step_result& r) {
        std::vector<double> all_numbers{r.loss};
        all_numbers.insert(all_numbers.end(), r.dW1.begin(), r.dW1.end());
        all_numbers.insert(all_numbers.end(), r.db1.begin(), r.db1.end());
        all_numbers.insert(all_numbers.end(), r.dw2.begin(), r.dw2.end());
        all_numbers.push_back(r.db2);
        return all_numbers;
      };
      const double hand_difference = relative_difference(kobai_numbers, numbers_of(hand_result));
      if (hand_difference > 1e-4) std::printf("  kobai and the hand loop differ by %.3g (relative)\n", hand_difference);
      agree = agree && hand_difference <= 1e-4;
      std::printf("%10zu %8u %10.2f us %10.2f us %11.3f", n, threads, kobai_time * 1e6, hand_time * 1e6,
                  kobai_time / hand_time);
      std::string row = "{\"workload\": \"W4\", \"n\": " + std::to_string(n) +
                        ", \"threads\": " + std::to_string(threads) + ", \"kobai_s\": " + bench::number(kobai_time) +
                        ", \"hand_s\": " + bench::number(hand_time) + ", \"numbers\": [";
      for (std::size_t k = 0; k < kobai_numbers.size(); ++k) row += (k ? ", " : "") + bench::number(kobai_numbers[k]);
      row += "]";
#ifdef KOBAI_BENCH_LIBTORCH
      torch::set_num_threads(static_cast<int>(threads));
      libtorch_step libtorch(Xv.data(), tv.data(), W1v.data(), b1v.data(), w2v.data(), n);
      step_result torch_result;
      const auto [kobai_again, torch_time] = bench::median_seconds(
          run_kobai, [&] { torch_result = libtorch(); }, repetitions);
      libtorch_extra_kib = std::max(libtorch_extra_kib, bench::last_extra_kib.second);
      const double torch_difference = relative_difference(kobai_numbers, numbers_of(torch_result));
      if (torch_difference > 1e-4) std::printf("  kobai and LibTorch differ by %.3g (relative)\n", torch_difference);
      agree = agree && torch_difference <= 1e-4;
      std::printf(" %10.2f us %12.3f", torch_time * 1e6, kobai_again / torch_time);
      row += ", \"libtorch_s\": " + bench::number(torch_time) +
             ", \"kobai_with_libtorch_s\": " + bench::number(kobai_again);
#endif
      std::printf("\n");
      recorder.record(row + "}");
    }
  }
  std::printf("extra peak memory during the steps: kobai %ld KiB", kobai_extra_kib);
#ifdef KOBAI_BENCH_LIBTORCH
  std::printf(", LibTorch %ld KiB", libtorch_extra_kib);
#endif
  std::printf("\n");
  bench::record_memory(recorder, "W4", kobai_extra_kib, libtorch_extra_kib);
  std::printf(agree ? "results agree (1e-4 of the largest magnitude)\n" : "RESULTS DISAGREE\n");
  return agree ? 0 : 1;
}
