// The CPU's own SIMD versions of library functions, where xsimd's cost the loops that use them.
// The interpreter applies them in place of the op's shared definition (expr/math.hpp) on batches of
// the element type named; scalars, the GPU and constant folding keep the library functions.
#pragma once

#include <cstdint>

#include "kobai/core/simd.hpp"

namespace kobai::cpu::simd_math {

/// tanh of a float batch, within 2 ulp of the correctly rounded result for every float (checked
/// on a sweep of every 16th float in tests/cpu/simd_math.cpp), without a branch: xsimd 8's tanh
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
  const V n = xsimd::nearbyint(y * V(1.44269504088896341f));                     // y / ln 2, in [−26, 0]
  // r = y − n ln 2, with ln 2 in two parts (the first exact in 9 bits, so n · it is exact)
  const V r = xsimd::fma(n, V(2.12194440e-4f), xsimd::fma(n, V(-0.693359375f), y));
  // eʳ − 1 = r + r²(1/2 + r/6 + … + r⁵/7!): Taylor's terms to r⁷, below half an ulp for |r| ≤ 0.35
  V p(1.f / 5040.f);
  p = xsimd::fma(p, r, V(1.f / 720.f));
  p = xsimd::fma(p, r, V(1.f / 120.f));
  p = xsimd::fma(p, r, V(1.f / 24.f));
  p = xsimd::fma(p, r, V(1.f / 6.f));
  p = xsimd::fma(p, r, V(0.5f));
  const V expm1_r = xsimd::fma(r * r, p, r);
  const V scale = xsimd::bitwise_cast<V>((xsimd::batch_cast<std::int32_t>(n) + I(127)) << 23);  // 2ⁿ
  const V m = xsimd::fma(scale, expm1_r, scale - one);
  return xsimd::abs(m / (V(2.f) + m)) ^ xsimd::bitofsign(x);  // (abs: m = 0 gives −0)
}

}  // namespace kobai::cpu::simd_math
