// Programs whose generated CUDA the codegen and NVRTC tests check: those of the examples.
#pragma once

#include "kobai/kobai.hpp"

namespace test_programs {
using namespace kobai;
using namespace kobai::literals;

inline constexpr auto x = input<"x", 1>;
inline constexpr auto t = input<"t", 1>;
inline constexpr auto w = var<"w">;
inline constexpr auto b = var<"b">;
inline constexpr auto X = var<"X", 1>;

inline constexpr auto mse_loss = mse(w * x + b, t);  // linear_regression
inline constexpr auto bce_loss = bce_with_logits(w * x + b, t);
inline constexpr auto variance = mean(pow<2>(x - mean(x)));                      // two loops
inline constexpr auto polynomial = pow<3>(X) + 2_c * pow<2>(X) + 3_c * X + 1_c;  // derivatives

}  // namespace test_programs
