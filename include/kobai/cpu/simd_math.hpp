// The CPU's own SIMD versions of library functions, where xsimd's cost the loops that use them.
// The interpreter applies them in place of the op's shared definition (expr/math.hpp) on batches of
// the element type named; scalars, the GPU and constant folding keep the library functions.
#pragma once

#include <cstdint>

#include "kobai/core/simd.hpp"
#include "kobai/expr/ops.hpp"

namespace kobai::cpu::simd_math {

/// c₀xⁿ + c₁xⁿ⁻¹ + … + cₙ by Horner's rule, a multiply-add per coefficient after the first.
template <class V, class... C>
V polynomial(const V& x, float first, C... rest) {
  V p(first);
  ((p = xsimd::fma(p, x, V(rest))), ...);
  return p;
}

/// tanh of a float batch, within 2 ulp of the correctly rounded result for every float (every
/// float up to 12 checked once, every 61st in tests/cpu/simd_math.cpp), without a branch: xsimd 8's tanh
/// computes a polynomial and eˣ with overflow handling, and tests its lanes twice; in the digits
/// MLP's step it was a third of the time. Here tanh |x| = −m/(2 + m) with m = e^(−2|x|) − 1,
/// computed as 2ⁿ(eʳ − 1) + (2ⁿ − 1), −2|x| = n ln 2 + r, |r| ≤ ln 2 / 2, so that it keeps its
/// precision near 0 as expm1 does. |x| is clamped to 9, past which tanh rounds to ±1; NaN stays
/// NaN, and the sign is put back, so tanh(−0) = −0.
template <class A>
xsimd::batch<float, A> tanh(const xsimd::batch<float, A>& x) {
  using V = xsimd::batch<float, A>;
  using I = xsimd::batch<std::int32_t, A>;
  const V one(1.f);
  const V magnitude = xsimd::abs(x);
  const V y = V(-2.f) * xsimd::select(magnitude > V(9.f), V(9.f), magnitude);  // in [−18, 0], or NaN
  const V n = xsimd::nearbyint(y * V(1.44269504088896341f));                   // y / ln 2, in [−26, 0]
  // r = y − n ln 2, with ln 2 in two parts (the first exact in 9 bits, so n · it is exact)
  const V r = xsimd::fma(n, V(2.12194440e-4f), xsimd::fma(n, V(-0.693359375f), y));
  // eʳ − 1 = r + r²(1/2 + r/6 + … + r⁵/7!): Taylor's terms to r⁷, below half an ulp for |r| ≤ 0.35
  const V p = polynomial(r, 1.f / 5040.f, 1.f / 720.f, 1.f / 120.f, 1.f / 24.f, 1.f / 6.f, 0.5f);
  const V expm1_r = xsimd::fma(r * r, p, r);
  const V scale = xsimd::bitwise_cast<V>((xsimd::batch_cast<std::int32_t>(n) + I(127)) << 23);  // 2ⁿ
  const V m = xsimd::fma(scale, expm1_r, scale - one);
  return xsimd::abs(m / (V(2.f) + m)) ^ xsimd::bitofsign(x);  // (abs: m = 0 gives −0)
}

/// softplus(x) = ln(1 + eˣ) = max(x, 0) + ln(1 + e) of a float batch, e = e^(−|x|) ∈ (0, 1]
/// (xsimd's exp, which gives 0 where e would be subnormal), within 3 ulp of the correctly rounded
/// result where that is a normal float (every 7th float checked; the same sum with xsimd's log1p:
/// 2 ulp). ln(1 + e) = 2 atanh(s) with s = e/(2 + e) ∈ [0, 1/3], where a polynomial in s² is exact
/// to 5e-9, in place of xsimd's log1p, which reduces any argument and took 2.5 times exp's time:
/// logistic regression's step (W2) took 8–10% less time. softplus(∞) = ∞, softplus(−∞) = 0, NaN
/// stays NaN.
template <class A>
xsimd::batch<float, A> softplus(const xsimd::batch<float, A>& x) {
  using V = xsimd::batch<float, A>;
  const V e = xsimd::exp(-xsimd::abs(x));
  const V s = e / (V(2.f) + e);
  const V t = s * s;
  // atanh(s)/s = 1 + t(1/3 + t/5 + …), fitted on t ∈ [0, 1/9] (minimax in relative error)
  const V p = polynomial(t, 1.4005993350e-01f, 1.4000902655e-01f, 2.0010763618e-01f, 3.3333208143e-01f);
  const V twice = s + s;
  const V log1p_e = xsimd::fma(twice * t, p, twice);
  return xsimd::select(x > V(0.f), x, V(0.f)) + log1p_e;  // (NaN: NaN from e)
}

/// Whether the CPU computes op `id` on float batches with its own function here.
constexpr bool replaces(ops::op_id id) { return id == ops::op_id::tanh || id == ops::op_id::softplus; }
/// Op `id`'s own function (replaces(id)).
template <ops::op_id Id, class A>
xsimd::batch<float, A> apply(const xsimd::batch<float, A>& x) {
  if constexpr (Id == ops::op_id::tanh)
    return simd_math::tanh(x);
  else
    return simd_math::softplus(x);
}

}  // namespace kobai::cpu::simd_math
