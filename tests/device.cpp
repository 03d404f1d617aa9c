// Choosing a backend: automatic falls back to the CPU with a one-line reason, device::cuda says
// why it cannot run, and tensors on the wrong device or with clashing shapes are refused by name.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "heap_count.hpp"
#include "kobai/device_program.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;

namespace {
constexpr auto x = input<"x", 1>;
constexpr auto t = input<"t", 1>;
constexpr auto w = var<"w">;
constexpr auto b = var<"b">;
constexpr auto loss = mse(w * x + b, t);
}  // namespace

TEST_CASE("automatic runs on CUDA when it can, else on the CPU, and says why in one line") {
  const auto step = compile(device::automatic, loss, grad(loss, w), grad(loss, b));
  const auto& driver = runtime::cuda_driver::instance();
  if (driver.available() && runtime::nvrtc::instance().available()) {
    CHECK(step.where() == device::cuda);
    MESSAGE("automatic picked " << step.why());
  } else {
    CHECK(step.where() == device::cpu);
    CHECK(step.why().find(driver.available() ? runtime::nvrtc::instance().why() : driver.why()) != std::string::npos);
    CHECK(step.why().find('\n') == std::string::npos);
    MESSAGE(step.why());
  }
  // Whichever it is, the results are the hand-derived ones: L = mean(r²), dL/dw = 2·mean(r·x),
  // dL/db = 2·mean(r) with r = w·x + b − t.
  const xt::xtensor<double, 1> xs{0.5, -1.0, 2.0, 3.5}, ts{1.0, 0.25, -2.0, 4.0};
  const double wv = 0.75, bv = -0.5;
  double L = 0, gw = 0, gb = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double r = wv * xs[i] + bv - ts[i];
    L += r * r / 4;
    gw += 2 * r * xs[i] / 4;
    gb += 2 * r / 4;
  }
  const auto [l, dw, db] = step(x = to_device(xs, step.backend()), t = to_device(ts, step.backend()), w = wv, b = bv);
  CHECK(l == doctest::Approx(L).epsilon(1e-12));
  CHECK(dw == doctest::Approx(gw).epsilon(1e-12));
  CHECK(db == doctest::Approx(gb).epsilon(1e-12));
}

TEST_CASE("device::cuda without a usable GPU is an error that says why") {
  const auto& driver = runtime::cuda_driver::instance();
  if (driver.available()) return;  // a GPU machine: nothing to refuse
  try {
    (void)compile(device::cuda, loss);
    FAIL("device::cuda was accepted without a driver");
  } catch (const device_error& e) {
    CHECK(std::string(e.what()).find(driver.why()) != std::string::npos);
  }
}

TEST_CASE("the same program object moves between backends") {
  auto step = compile(device::cpu, loss, grad(loss, w));
  const xt::xtensor<float, 1> xs{1.f, 2.f, 3.f}, ts{2.f, 4.f, 6.5f};
  const auto on_cpu = step(x = to_device(xs, step.backend()), t = to_device(ts, step.backend()), w = 2.0, b = 0.0);
  step.on(device::emulated);
  CHECK(step.where() == device::emulated);
  const auto emulated = step(x = to_device(xs, step.backend()), t = to_device(ts, step.backend()), w = 2.0, b = 0.0);
  CHECK(std::get<0>(emulated) == doctest::Approx(std::get<0>(on_cpu)).epsilon(1e-6));
  CHECK(std::get<1>(emulated) == doctest::Approx(std::get<1>(on_cpu)).epsilon(1e-6));
}

TEST_CASE("a tensor in another device's memory is refused by name") {
  const auto cpu = compile(device::cpu, loss);
  const auto emulated = compile(device::emulated, loss);
  const xt::xtensor<float, 1> xs{1.f, 2.f}, ts{0.f, 1.f};
  const auto x_host = to_device(xs, cpu.backend()), t_host = to_device(ts, cpu.backend());
  const auto x_emulated = to_device(xs, emulated.backend());
  CHECK_THROWS_WITH_AS(emulated(x = x_host, t = t_host, w = 1.0, b = 0.0),
                       doctest::Contains("'x' is in CPU memory but the program runs on host emulator"), binding_error);
  CHECK_THROWS_WITH_AS(cpu(x = x_emulated, t = t_host, w = 1.0, b = 0.0),
                       doctest::Contains("'x' is in host emulator memory but the program runs on the CPU"),
                       binding_error);
}

TEST_CASE("clashing extents on a device name both tensors") {
  const auto emulated = compile(device::emulated, loss);
  const xt::xtensor<float, 1> three{1.f, 2.f, 3.f}, two{0.f, 1.f};
  CHECK_THROWS_WITH_AS(
      emulated(x = to_device(three, emulated.backend()), t = to_device(two, emulated.backend()), w = 1.0, b = 0.0),
      doctest::Contains("'x' has shape (3,) but 't' has shape (2,); its axis 0 meets an axis of extent 3"),
      shape_error);
}

TEST_CASE("to_device and to_host copy both ways") {
  const xt::xtensor<double, 2> host{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
  for (auto where : {device::cpu, device::emulated}) {
    const auto memory = select_backend(where).memory;
    const auto there = to_device(host, memory);
    CHECK(there.shape() == std::array<std::size_t, 2>{2, 3});
    CHECK(to_host(there) == host);
  }
}

TEST_CASE("running out of device memory is an exception; nothing leaks and the device keeps working") {
  const auto& driver = runtime::cuda_driver::instance();
  if (!driver.available()) {
    MESSAGE("skipped: " << driver.why());
    return;
  }
  const auto gpu = select_backend(device::cuda).memory;
  try {
    const device_tensor<float, 1> huge(gpu, {std::size_t{1} << 46});  // 256 TiB
    FAIL("a 256 TiB allocation succeeded");
  } catch (const device_error& e) {
    CHECK(e.result == "CUDA_ERROR_OUT_OF_MEMORY");
  }
  const auto step = compile(device::cuda, loss);
  const xt::xtensor<float, 1> xs{1.f, 2.f}, ts{1.f, 2.f};
  CHECK(step(x = to_device(xs, gpu), t = to_device(ts, gpu), w = 1.0, b = 0.0) == 0.f);
}

TEST_CASE("on the CPU, a step with tensor outputs touches the heap no more once shapes settle") {
  constexpr auto X = input<"X", 2>;
  constexpr auto W = var<"W", 1>;
  constexpr auto logistic = bce_with_logits(matmul(X, W) + b, t);
  const auto step = compile(device::cpu, logistic, grad(logistic, W));
  const auto& memory = step.backend();
  const auto Xs = to_device(xt::xtensor<float, 2>{{1.f, 2.f}, {3.f, -1.f}, {0.5f, 0.25f}}, memory);
  const auto ts = to_device(xt::xtensor<float, 1>{1.f, 0.f, 1.f}, memory);
  const auto Ws = to_device(xt::xtensor<float, 1>{0.1f, -0.2f}, memory);
  auto results = step(X = Xs, t = ts, W = Ws, b = 0.0);
  step.into(results, X = Xs, t = ts, W = Ws, b = 0.0);  // the first call on this thread with these results
  const long before = heap_allocations();
  step.into(results, X = Xs, t = ts, W = Ws, b = 0.0);
  CHECK(heap_allocations() == before);
  // dL/dW = Xᵀ(σ(z) − t)/3, by hand
  const float z[] = {1 * 0.1f - 2 * 0.2f, 3 * 0.1f + 0.2f, 0.05f - 0.05f}, target[] = {1, 0, 1};
  const float rows[3][2] = {{1, 2}, {3, -1}, {0.5f, 0.25f}};
  const auto dW = to_host(std::get<1>(results));
  for (int d = 0; d < 2; ++d) {
    double expected = 0;
    for (int n = 0; n < 3; ++n) expected += rows[n][d] * (1 / (1 + std::exp(-double(z[n]))) - target[n]) / 3;
    CHECK(dW(d) == doctest::Approx(expected).epsilon(1e-6));
  }
}

TEST_CASE("slices and concatenations on every backend: the CPU and the emulated device give the same values") {
  constexpr auto X = var<"X", 2>;
  constexpr auto f = sum(pow<2>(concat<0>(select<1, 0>(X) * literal<2>, select<0, 1>(X))));
  auto step = compile(device::cpu, f, grad(f, X));
  const xt::xtensor<double, 2> xs{{1, 2}, {3, 4}};
  // f = (2·1)² + (2·3)² + 3² + 4² = 65; ∂/∂X = [[8, 0], [24 + 6, 8]]
  for (const device::choice where : {device::cpu, device::emulated}) {
    step.on(where);
    CHECK(step.where() == where);
    const auto [value, gradient] = step(X = to_device(xs, step.backend()));
    CHECK(value == 65);
    const auto dX = to_host(gradient);
    CHECK(dX == xt::xtensor<double, 2>{{8, 0}, {30, 8}});
  }
}
