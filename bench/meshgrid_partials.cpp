// W3, meshgrid partials: ∂z/∂X, ∂z/∂Y and ∂²z/∂X² of z = X²Y + 2XY³ on a 1000×1000 grid, float32.
// kobai (one fused loop, outputs written into reused buffers) against a hand-written loop and, when
// built with it, LibTorch's autograd with create_graph for the second derivative.
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <xtensor/xbuilder.hpp>
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

// By hand: ∂z/∂X = 2XY + 2Y³, ∂z/∂Y = X² + 6XY², ∂²z/∂X² = 2Y.
void hand_written(const float* x, const float* y, float* zx, float* zy, float* zxx, std::size_t n, int threads) {
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (std::size_t i = 0; i < n; ++i) {
    const float y2 = y[i] * y[i];
    zx[i] = 2 * x[i] * y[i] + 2 * y2 * y[i];
    zy[i] = x[i] * x[i] + 6 * x[i] * y2;
    zxx[i] = 2 * y[i];
  }
}

double sum_in_double(const xt::xtensor<float, 2>& values) {
  double total = 0;
  for (float v : values) total += v;
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::recorder recorder(argc, argv);
  using namespace kobai;
  using namespace kobai::literals;
  constexpr auto X = var<"X", 2>;
  constexpr auto Y = var<"Y", 2>;
  constexpr auto z = pow<2>(X) * Y + 2_c * X * pow<3>(Y);
  const auto [dzdx, dzdy] = vjp(z, std::tuple{X, Y}, 1_c);
  const auto d2zdx2 = vjp(dzdx, X, 1_c);  // differentiating twice: 2Y

  const std::size_t side = 1000, n = side * side;
  const auto [grid_y, grid_x] = xt::meshgrid(xt::linspace<float>(2, 1, side), xt::linspace<float>(0, 1, side));
  const xt::xtensor<float, 2> Xv = grid_x, Yv = grid_y;
  xt::xtensor<float, 2> hx = xt::zeros_like(Xv), hy = hx, hxx = hx;
  recorder.dump("w3_x", Xv.data(), n);
  recorder.dump("w3_y", Yv.data(), n);
  const unsigned all = std::max(1u, std::thread::hardware_concurrency());

  std::printf("W3 meshgrid partials, 1000x1000 float32: dz/dX, dz/dY, d2z/dX2 (medians)\n");
  std::printf("%8s %12s %12s %11s", "threads", "kobai", "hand", "kobai/hand");
#ifdef KOBAI_BENCH_LIBTORCH
  std::printf(" %12s %12s", "libtorch", "kobai/torch");
#endif
  std::printf("\n");
  bool agree = true;
  long kobai_extra_kib = 0, libtorch_extra_kib = 0;
  for (unsigned threads : {1u, all}) {
    if (threads == all && all == 1) continue;
    const auto program = compile(dzdx, dzdy, d2zdx2).threads(threads);
    auto results = program(X = Xv, Y = Yv);
    const auto [kobai_time, hand_time] = bench::median_seconds(
        [&] { program.into(results, X = Xv, Y = Yv); },
        [&] { hand_written(Xv.data(), Yv.data(), hx.data(), hy.data(), hxx.data(), n, static_cast<int>(threads)); },
        31);
    kobai_extra_kib = std::max(kobai_extra_kib, bench::last_extra_kib.first);
    bench::keep(results);
    for (std::size_t i = 0; i < n; i += 997) {
      agree = agree &&
              std::abs(std::get<0>(results).data()[i] - hx.data()[i]) <= 1e-5f * std::max(1.0f, std::abs(hx.data()[i]));
      agree = agree &&
              std::abs(std::get<1>(results).data()[i] - hy.data()[i]) <= 1e-5f * std::max(1.0f, std::abs(hy.data()[i]));
      agree = agree && std::get<2>(results).data()[i] == hxx.data()[i];
    }
    std::printf("%8u %9.3f ms %9.3f ms %11.3f", threads, kobai_time * 1e3, hand_time * 1e3, kobai_time / hand_time);
    std::string row = "{\"workload\": \"W3\", \"n\": " + std::to_string(n) +
                      ", \"threads\": " + std::to_string(threads) + ", \"kobai_s\": " + bench::number(kobai_time) +
                      ", \"hand_s\": " + bench::number(hand_time) +
                      ", \"zx_sum\": " + bench::number(sum_in_double(std::get<0>(results))) +
                      ", \"zy_sum\": " + bench::number(sum_in_double(std::get<1>(results))) +
                      ", \"zxx_sum\": " + bench::number(sum_in_double(std::get<2>(results)));
#ifdef KOBAI_BENCH_LIBTORCH
    torch::set_num_threads(static_cast<int>(threads));
    auto tx = torch::from_blob(const_cast<float*>(Xv.data()), {1000, 1000}).clone().requires_grad_(true);
    auto ty = torch::from_blob(const_cast<float*>(Yv.data()), {1000, 1000}).clone().requires_grad_(true);
    torch::Tensor torch_dx;
    auto libtorch = [&] {
      auto zt = tx * tx * ty + 2 * tx * ty.pow(3);
      auto first = torch::autograd::grad({zt.sum()}, {tx, ty}, {}, true, true);
      auto second = torch::autograd::grad({first[0].sum()}, {tx});
      torch_dx = first[0];
      bench::keep(second);
    };
    const auto [kobai_again, torch_time] =
        bench::median_seconds([&] { program.into(results, X = Xv, Y = Yv); }, libtorch, 11);
    libtorch_extra_kib = std::max(libtorch_extra_kib, bench::last_extra_kib.second);
    agree = agree && std::abs(torch_dx.data_ptr<float>()[12345] - hx.data()[12345]) <= 1e-4f;
    std::printf(" %9.3f ms %12.3f", torch_time * 1e3, kobai_again / torch_time);
    row +=
        ", \"libtorch_s\": " + bench::number(torch_time) + ", \"kobai_with_libtorch_s\": " + bench::number(kobai_again);
#endif
    std::printf("\n");
    recorder.record(row + "}");
  }
  bench::record_memory(recorder, "W3", kobai_extra_kib, libtorch_extra_kib);
  std::printf(agree ? "results agree\n" : "RESULTS DISAGREE\n");
  return agree ? 0 : 1;
}
