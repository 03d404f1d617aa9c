// The GPU benchmark: the fused linear-regression step at N = 10⁸ and the D = 16 logistic step, in
// float32 on the CUDA backend. Reports the achieved bandwidth against a device-to-device copy of
// the same bytes measured in the same run, launches per step, and NVRTC's first-compile time
// against the disk-cache and in-process hits. Without a GPU it says why and exits 0; with
// `--device emulated --n 100000` it runs the same code on the host emulator (a smoke test).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "kobai/device_program.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using clock_type = std::chrono::steady_clock;

namespace {

template <class F>
double median_seconds(F&& f, int repetitions) {
  std::vector<double> times;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = clock_type::now();
    f();
    times.push_back(std::chrono::duration<double>(clock_type::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

template <std::size_t R>
xt::xtensor<float, R> random_tensor(const std::array<std::size_t, R>& shape, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  auto result = xt::xtensor<float, R>::from_shape(shape);
  for (auto& v : result) v = uniform(generator);
  return result;
}

// Bandwidth of a device-to-device copy of `bytes` (read and written), in bytes per second.
double copy_bandwidth(const std::shared_ptr<runtime::device_backend>& gpu, std::size_t bytes, int repetitions) {
  runtime::device_buffer from(gpu, bytes), to(gpu, bytes);
  gpu->copy_on_device(to.data(), from.data(), bytes);
  gpu->synchronize();
  const double seconds = median_seconds(
      [&] {
        gpu->copy_on_device(to.data(), from.data(), bytes);
        gpu->synchronize();
      },
      repetitions);
  return 2.0 * static_cast<double>(bytes) / seconds;
}

template <class Step, class Call>
void report(const char* name, const std::shared_ptr<runtime::device_backend>& gpu, const Step&, Call&& call,
            double bytes, double copy, int repetitions) {
  call();  // compile, load and allocate
  const std::size_t launches = gpu->launches();
  const double seconds = median_seconds(call, repetitions);
  const double per_step = static_cast<double>(gpu->launches() - launches) / repetitions;
  const double bandwidth = bytes / seconds;
  std::printf("%-28s %10.3f ms  %8.1f GB/s  %5.1f%% of copy  %.1f launches/step\n", name, seconds * 1e3,
              bandwidth / 1e9, 100.0 * bandwidth / copy, per_step);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 100'000'000, n_logistic = 10'000'000;
  device::choice where = device::cuda;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i], value = argv[i + 1];
    if (flag == "--n") n = n_logistic = std::stoull(std::string(value));
    if (flag == "--device" && value == "emulated") where = device::emulated;
  }
  backend_choice chosen;
  try {
    chosen = select_backend(where);
  } catch (const device_error& e) {
    std::printf("no GPU benchmark: %s\n", e.what());
    return 0;
  }
  const auto& gpu = chosen.memory;
  const int repetitions = where == device::cuda ? 30 : 3;
  std::printf("kobai GPU benchmark, %s\n", chosen.why.c_str());

  // NVRTC: first compile into an empty cache directory, then a disk hit, then an in-process hit.
  constexpr auto x = input<"x", 1>;
  constexpr auto t = input<"t", 1>;
  constexpr auto w = var<"w">;
  constexpr auto b = var<"b">;
  constexpr auto loss = mse(w * x + b, t);
  const auto [dw, db] = grad(loss, w, b);
  if (where == device::cuda && runtime::nvrtc::instance().available()) {
    const auto directory = std::filesystem::temp_directory_path() / "kobai-bench-cache";
    std::filesystem::remove_all(directory);
    const std::string source = codegen::render<float>(loss, dw, db).source;
    const int arch = runtime::cuda_driver::instance().architecture();
    auto time = [&](runtime::kernel_cache& cache) {
      const auto start = clock_type::now();
      (void)cache.get(source, arch);
      return std::chrono::duration<double>(clock_type::now() - start).count();
    };
    runtime::kernel_cache first(directory);
    const double compile = time(first);
    runtime::kernel_cache second(directory);
    const double disk = time(second), memory = time(second);
    std::printf("NVRTC first compile %.1f ms, disk-cache hit %.3f ms, in-process hit %.4f ms\n", compile * 1e3,
                disk * 1e3, memory * 1e3);
  }

  // W1: the linear-regression step, reading x and t once.
  const double copy = copy_bandwidth(gpu, n * sizeof(float), repetitions);
  std::printf("device-to-device copy of %zu floats: %.1f GB/s\n", n, copy / 1e9);
  {
    const auto step = compile(where, loss, dw, db);
    const auto xs = to_device(random_tensor<1>({n}, 1), gpu), ts = to_device(random_tensor<1>({n}, 2), gpu);
    report(
        "linear regression step", gpu, step, [&] { (void)step(x = xs, t = ts, w = 0.5, b = 0.1); },
        2.0 * n * sizeof(float), copy, repetitions);
  }
  // W2: logistic regression on (N, 16) features.
  {
    constexpr auto X = input<"X", 2>;
    constexpr auto y = input<"y", 1>;
    constexpr auto W = var<"W", 1>;
    constexpr auto logistic = bce_with_logits(matmul(X, W) + b, y);
    const auto step = compile(where, logistic, grad(logistic, W), grad(logistic, b));
    const auto Xs = to_device(random_tensor<2>({n_logistic, 16}, 3), gpu);
    const auto ys = to_device(random_tensor<1>({n_logistic}, 4), gpu);
    const auto Ws = to_device(random_tensor<1>({16}, 5), gpu);
    report(
        "logistic step D=16", gpu, step, [&] { (void)step(X = Xs, y = ys, W = Ws, b = 0.1); },
        17.0 * n_logistic * sizeof(float), copy, repetitions);
  }
  std::printf("(N = %zu for the linear step, %zu rows for the logistic step; medians of %d steps)\n", n, n_logistic,
              repetitions);
}
