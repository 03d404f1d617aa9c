// The compile-time yardstick: one grad of a 3-op expression, evaluated (bench/run times it).
#include <cstdio>
#include <kobai/kobai.hpp>

int main() {
  using namespace kobai;
  constexpr auto w = var<"w">;
  constexpr auto x = input<"x">;
  constexpr auto b = var<"b">;
  const auto [dw, db] = grad(tanh(w * x + b), w, b);
  const auto point = at(w = 0.5, x = 2.0, b = 0.1);
  std::printf("%g %g\n", eval(dw, point), eval(db, point));
}
