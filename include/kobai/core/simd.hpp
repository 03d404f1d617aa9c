// xsimd, included for every kobai header that uses SIMD batches. GCC 12 warns falsely inside its
// AVX-512 (and AVX) intrinsic headers (-Wmaybe-uninitialized, and -Wuninitialized at -O2, on
// `__m512i __Y = __Y;` in _mm512_undefined_*, GCC bug 105593) wherever an intrinsic is inlined,
// which -Werror builds with -march=native would stop on. A diagnostic pragma applies to the source
// lines after it, so xsimd, and with it the intrinsic headers it includes for the target, is
// included here, between a push that ignores those two warnings and its pop: the warnings located
// in them are silenced wherever the code is inlined, and a user's own code keeps its warnings. (A
// translation unit that includes <immintrin.h> before kobai has its intrinsic headers outside the
// pragma; scripts/avx512-build checks kobai's own targets and a consumer.) <immintrin.h> is not
// included for itself: without -mavx xsimd needs only the SSE headers, and parsing every
// intrinsic took 0.6 s of each translation unit.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <xsimd/xsimd.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <type_traits>

namespace kobai::detail {

/// v, which the compiler may not fuse with the operation that reads it: no a·b + c made into one
/// multiply-add. GCC contracts across inlined functions (-ffp-contract=fast, its default with
/// -std=gnu++ on a CPU with FMA, as -march=native gives) and decides per function, so the same
/// value computed again in another loop nest could differ in its last bit. kobai computes a value
/// again in each nest that reads it, and compares values with reductions of them (max's gradient
/// tests x == max(x)), which needs the same bits everywhere. The value passes through an empty asm
/// in its register: no instruction. (GCC's __builtin_assoc_barrier does the same, but made the
/// digits MLP's step 18% slower: it also stops other folds.)
template <class V>
[[gnu::always_inline]] inline V unfused(V v) {
#if defined(__x86_64__) || defined(__i386__)
  if constexpr (std::is_arithmetic_v<V>)
    asm("" : "+v"(v));
  else
    asm("" : "+v"(v.data));
#endif
  return v;  // (elsewhere, compile with -ffp-contract=off)
}

}  // namespace kobai::detail
