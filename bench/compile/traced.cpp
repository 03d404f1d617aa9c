// Compile cost of kobai::trace: one classic test function (tests/expr/classic_functions.hpp), its
// gradient and its Hessian, evaluated at a point, either traced from the template
// (-DKOBAI_TRACED=1) or written by hand as a kobai expression (-DKOBAI_TRACED=0). Pick the function
// with -DKOBAI_rosenbrock (or KOBAI_extended_rosenbrock, _beale, _himmelblau, _booth, _ackley,
// _horner, _log_likelihood). bench/compile/run --traced measures each pair with g++ and clang++.
#include <cstdio>
#include <numbers>
#include <utility>

#include "../../tests/expr/classic_functions.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto a = var<"a">;
constexpr auto b = var<"b">;
constexpr auto c = var<"c">;
constexpr auto d = var<"d">;

#if defined(KOBAI_rosenbrock)
#if KOBAI_TRACED
constexpr auto f = trace([](auto x, auto y) { return functions::rosenbrock(x, y); }, a, b);
#else
constexpr auto f = (1_c - a) * (1_c - a) + 100_c * (b - a * a) * (b - a * a);
#endif
#define VARIABLES a, b
#elif defined(KOBAI_extended_rosenbrock)
#if KOBAI_TRACED
constexpr auto f = trace(
    [](auto p, auto q, auto r, auto s) {
      return functions::extended_rosenbrock(std::array{p, q, r, s});
    },
    a, b, c, d);
#else
constexpr auto term = [](auto u, auto v) { return 100_c * (v - u * u) * (v - u * u) + (1_c - u) * (1_c - u); };
constexpr auto f = term(a, b) + term(b, c) + term(c, d);
#endif
#define VARIABLES a, b, c, d
#elif defined(KOBAI_beale)
#if KOBAI_TRACED
constexpr auto f = trace([](auto x, auto y) { return functions::beale(x, y); }, a, b);
#else
constexpr auto f = pow<2>(1.5_c - a + a * b) + pow<2>(2.25_c - a + a * b * b) + pow<2>(2.625_c - a + a * b * b * b);
#endif
#define VARIABLES a, b
#elif defined(KOBAI_himmelblau)
#if KOBAI_TRACED
constexpr auto f = trace([](auto x, auto y) { return functions::himmelblau(x, y); }, a, b);
#else
constexpr auto f = pow<2>(a * a + b - 11_c) + pow<2>(a + b * b - 7_c);
#endif
#define VARIABLES a, b
#elif defined(KOBAI_booth)
#if KOBAI_TRACED
constexpr auto f = trace([](auto x, auto y) { return functions::booth(x, y); }, a, b);
#else
constexpr auto f = pow<2>(a + 2_c * b - 7_c) + pow<2>(2_c * a + b - 5_c);
#endif
#define VARIABLES a, b
#elif defined(KOBAI_ackley)
#if KOBAI_TRACED
constexpr auto f = trace([](auto x, auto y) { return functions::ackley(x, y); }, a, b);
#else
using detail::tracing::exact;  // the doubles' exact values, as trace makes them
constexpr auto two_pi = constant<*exact(2 * std::numbers::pi)>{};
constexpr auto f = -20_c * exp(constant<*exact(-0.2)>{} * sqrt(0.5_c * (a * a + b * b))) -
                   exp(0.5_c * (cos(two_pi * a) + cos(two_pi * b))) + constant<*exact(std::numbers::e)>{} + 20_c;
#endif
#define VARIABLES a, b
#elif defined(KOBAI_horner)
#if KOBAI_TRACED
constexpr auto f = trace([](auto x) { return functions::horner(x); }, a);
#else
constexpr auto f = (((-0.75_c * a + 3_c) * a + 0.5_c) * a - 2_c) * a + 1_c;
#endif
#define VARIABLES a
#elif defined(KOBAI_log_likelihood)
#if KOBAI_TRACED
constexpr auto f = trace([](auto w, auto v) { return functions::log_likelihood(w, v); }, a, b);
#else
// The same sum written with kobai's vocabulary: a fold over the data at compile time.
template <std::size_t... I>
constexpr auto log_likelihood_by_hand(std::index_sequence<I...>) {
  constexpr auto term = []<std::size_t K>(std::integral_constant<std::size_t, K>) {
    constexpr auto z = constant<*detail::tracing::exact(functions::features[K])>{} * a + b;
    return constant<rational{static_cast<std::int64_t>(functions::labels[K]), 1}>{} * z - log(1_c + exp(z));
  };
  return (term(std::integral_constant<std::size_t, I>{}) + ...);
}
constexpr auto f = log_likelihood_by_hand(std::make_index_sequence<functions::features.size()>{});
#endif
#define VARIABLES a, b
#else
#error "bench/compile/traced.cpp: define KOBAI_<function>, such as -DKOBAI_rosenbrock"
#endif
}  // namespace

// Every second partial ∂²f/∂g∂v of the row g = ∂f/∂u, evaluated.
template <class G, class Point, class... V>
double row(G g, const Point& point, V... v) {
  return (eval(grad(g, v), point) + ...);
}
template <class Point, class... V>
double value_gradient_hessian(const Point& point, V... v) {
  return eval(f, point) + (eval(grad(f, v), point) + ...) + (row(grad(f, v), point, v...) + ...);
}

int main(int argc, char**) {
  const double p = 0.25 * argc;
  std::printf("%g\n", value_gradient_hessian(at(a = p, b = -p, c = p, d = 0.5), VARIABLES));
}
