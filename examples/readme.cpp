// The README's example, verbatim, so it stays true.
#include <cmath>
#include <cstdio>
#include <exception>
#include <kobai/cpu/program.hpp>
#include <kobai/device_program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
using namespace kobai::literals;  // 4_c, 0.5_c: exact constants

constexpr auto x = var<"x">;  // differentiable (requires_grad=True)
constexpr auto w = var<"w">;
constexpr auto t = input<"t">;  // data, never differentiated

static_assert(same(grad(pow<4>(x), x), 4_c * pow<3>(x)));                       // symbolic, exact
static_assert(eval(grad(pow<4>(x), x), at(x = 5.0)) == 500.0);                  // evaluated by the compiler
static_assert(gradcheck(sin(x) * exp(w * x), at(x = 0.5, w = -1.5)).passed());  // vs finite differences

// Your existing templated code, traced into the expression written by hand.
template <class T>
constexpr T rosenbrock(T x, T y) {
  return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
}
namespace traced {
constexpr auto y = kobai::var<"y">;
constexpr auto f = kobai::trace([](auto a, auto b) { return rosenbrock(a, b); }, x, y);
static_assert(kobai::same(f, (1_c - x) * (1_c - x) + 100_c * (y - x * x) * (y - x * x)));
static_assert(kobai::eval(kobai::grad(f, x), kobai::at(x = 1.0, y = 1.0)) == 0.0);
}  // namespace traced

int run();

int main() {
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

int run() {
  auto [dw, dx] = grad(tanh(w * x - t), w, x);  // several variables at once
  std::printf("dw = %s\ndx = %s\n", to_string(dw).c_str(), to_string(dx).c_str());

  constexpr auto X = var<"X", 1>;
  auto y = sigmoid(w * X + t);
  auto step = compile(y, vjp(y, X, 1_c));  // value and gradient, one loop
  auto [Y, dY] = step(X = xt::xtensor<float, 1>{0.5f, -1.f, 2.f}, w = 2.0, t = 0.1);
  std::printf("y = [%g, %g, %g]\ndy/dX = [%g, %g, %g]\n", Y(0), Y(1), Y(2), dY(0), dY(1), dY(2));

  // A regression step: the loss and both gradients in one pass over the data.
  const xt::xtensor<float, 1> Xdata = {0.f, 1.f, 2.f, 3.f}, T = {1.f, 3.f, 5.f, 7.f};  // t = 2x + 1
  double wv = 0, bv = 0;
  {
    constexpr auto x = input<"x", 1>;
    constexpr auto t = input<"t", 1>;
    constexpr auto b = var<"b">;
    constexpr auto loss = mse(w * x + b, t);
    auto [dw, db] = grad(loss, w, b);   // 2·sum(x·(b + w·x − t))/numel(…), …
    auto step = compile(loss, dw, db);  // ir::loop_count(loss, dw, db) == 1
    for (int epoch = 0; epoch < 2000; ++epoch) {
      auto [L, gw, gb] = step(x = Xdata, t = T, w = wv, b = bv);  // no allocation after the first call
      wv -= 0.05 * gw;
      bv -= 0.05 * gb;
      (void)L;
    }
  }
  std::printf("fitted w = %.4f, b = %.4f\n", wv, bv);

  // Logistic regression on (N, D) features: broadcasting, matmul and the BCE loss, one pass.
  bool classified = false;
  {
    constexpr auto X = input<"X", 2>;  // (N, D)
    constexpr auto y = input<"y", 1>;  // (N)
    constexpr auto W = var<"W", 1>;    // (D)
    constexpr auto b = var<"b">;
    constexpr auto loss = bce_with_logits(matmul(X, W) + b, y);
    static_assert(ir::loop_count(loss, grad(loss, W), grad(loss, b)) == 1);  // per row: z, loss, dW, db
    auto [dW, db] = grad(loss, W, b);  // sum<0>(X·unsqueeze<1>(σ(z)/n − y/n)), …
    auto step = compile(loss, dW, db);
    const xt::xtensor<float, 2> features = {{1, 2}, {2, 1}, {-1, -2}, {-2, -1}};
    const xt::xtensor<float, 1> labels = {1, 1, 0, 0};
    xt::xtensor<float, 1> Wv = {0, 0};
    float bias = 0;
    for (int epoch = 0; epoch < 200; ++epoch) {
      auto [L, gW, gb] = step(X = features, y = labels, W = Wv, b = bias);
      Wv -= 0.5f * gW;
      bias -= 0.5f * gb;
      classified = L < 0.05f;
    }
    std::printf("logistic regression: W = [%.3f, %.3f], b = %.3f\n", Wv(0), Wv(1), bias);
  }
  // The same step on a GPU when there is one, else on the CPU, saying why.
  bool same_on_device = false;
  {
    constexpr auto x = input<"x", 1>;
    constexpr auto t = input<"t", 1>;
    constexpr auto b = var<"b">;
    constexpr auto loss = mse(w * x + b, t);
    auto [dw, db] = grad(loss, w, b);
    auto step = compile(device::automatic, loss, dw, db);  // device::cuda, device::cpu
    std::printf("%s\n", step.why().c_str());               // "running on the CPU: no libcuda.so.1 …"
    auto xd = to_device(Xdata, step.backend()), td = to_device(T, step.backend());  // explicit copies
    auto [L, gw, gb] = step(x = xd, t = td, w = wv, b = bv);
    same_on_device = L < 1e-5f && std::abs(gw) < 1e-2 && std::abs(gb) < 1e-2;  // at the fitted minimum
  }
  // The traced function compiles like any other, and the template still runs on doubles.
  bool traced_ok = false;
  {
    auto step = kobai::compile(traced::f, kobai::grad(traced::f, x));
    double plain = rosenbrock(0.5, 2.0);
    auto [value, slope] = step(x = 0.5, traced::y = 2.0);
    std::printf("rosenbrock(0.5, 2) = %g (double: %g), d/dx = %g\n", value, plain, slope);
    traced_ok = value == plain && slope == -351.0;  // −2(1 − x) − 400x(y − x²)
  }
  return traced_ok && std::abs(wv - 2) < 1e-3 && std::abs(bv - 1) < 1e-3 && classified && same_on_device ? 0 : 1;
}
