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
