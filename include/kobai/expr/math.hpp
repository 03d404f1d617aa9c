// The ops' scalar math, written once. Each function is a C++ template over the element type (double,
// float, or an xsimd batch, whose functions argument-dependent lookup finds; during constant
// evaluation, kobai::math's constexpr functions), and its text is also the CUDA device function that
// the renderer (codegen/cuda.cpp) puts in every generated source, so the CPU and the GPU cannot
// drift apart. (Except where the CPU computes an op on float batches with its own function,
// cpu/simd_math.hpp: tanh and softplus, within 2 and 3 ulp of the correctly rounded result.)
//
// The primitives (exp_, log_, …, select_) bind each backend's own library: here kobai::math and
// xsimd, on the GPU libdevice (codegen/prelude.cuh defines them under the same names).
#pragma once

#include <array>
#include <string_view>

#include "kobai/core/cmath.hpp"

namespace kobai::elementwise {

using math::abs, math::cos, math::erf, math::exp, math::expm1, math::log, math::log1p, math::pow, math::select,
    math::sin, math::sqrt, math::tan, math::tanh;

// The primitives.
#define KOBAI_PRIMITIVE(name) \
  template <class T>          \
  constexpr T name##_(T x) {  \
    return name(x);           \
  }
KOBAI_PRIMITIVE(abs)
KOBAI_PRIMITIVE(cos)
KOBAI_PRIMITIVE(erf)
KOBAI_PRIMITIVE(exp)
KOBAI_PRIMITIVE(expm1)
KOBAI_PRIMITIVE(log)
KOBAI_PRIMITIVE(log1p)
KOBAI_PRIMITIVE(sin)
KOBAI_PRIMITIVE(sqrt)
KOBAI_PRIMITIVE(tan)
KOBAI_PRIMITIVE(tanh)
#undef KOBAI_PRIMITIVE
template <class T>
constexpr T pow_(T a, T b) {
  return pow(a, b);
}
template <class C, class T>
constexpr T select_(const C& c, T a, T b) {
  return select(c, a, b);
}

// KOBAI_SHARED(name, (parameters), { body }): the C++ template `name` and, as `name_cuda`, the same
// definition as CUDA source. The body may use the primitives and the shared functions before it.
#define KOBAI_SHARED(name, parameters, ...)                                              \
  template <class T>                                                                     \
  constexpr T name parameters __VA_ARGS__ inline constexpr std::string_view name##cuda = \
      "template <class T> __device__ __forceinline__ T " #name #parameters " " #__VA_ARGS__;

// max and min propagate NaN, as torch.maximum/minimum do, identically for scalars and SIMD batches
// (x86's maxps would return the second operand on NaN).
KOBAI_SHARED(max_, (T a, T b), { return select_(b != b || a < b, b, a); })
KOBAI_SHARED(min_, (T a, T b), { return select_(b != b || b < a, b, a); })
// xⁿ by squaring, for an integer n (x⁻ⁿ = 1/xⁿ).
KOBAI_SHARED(ipow_, (T x, long long n), {
  if (n < 0) return T(1) / ipow_(x, -n);
  T result = n & 1 ? x : T(1);
  for (n >>= 1; n != 0; n >>= 1) {
    x = x * x;
    if (n & 1) result = result * x;
  }
  return result;
})
// σ(x) = 1/(1 + e⁻ˣ) without overflow: e^−|x| never overflows.
KOBAI_SHARED(sigmoid_, (T x), {
  const T e = exp_(-abs_(x));
  return select_(x >= T(0), T(1) / (T(1) + e), e / (T(1) + e));
})
// ln(1 + eˣ) = max(x, 0) + log1p(e^−|x|); NaN in, NaN out.
KOBAI_SHARED(softplus_, (T x), { return max_(x, T(0)) + log1p_(exp_(-abs_(x))); })
// relu(NaN) = NaN.
KOBAI_SHARED(relu_, (T x), { return select_(x <= T(0), T(0), x); })
KOBAI_SHARED(sign_, (T x), { return select_(x > T(0), T(1), select_(x < T(0), T(-1), T(0))); })
#undef KOBAI_SHARED

/// The shared functions' CUDA definitions, in dependency order.
inline constexpr std::array<std::string_view, 7> cuda_definitions{max_cuda,      min_cuda,  ipow_cuda, sigmoid_cuda,
                                                                  softplus_cuda, relu_cuda, sign_cuda};

}  // namespace kobai::elementwise
