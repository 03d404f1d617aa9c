// Square tiles of SIMD width transposed in registers: block mode (cpu/interpreter.hpp) turns the
// rows of a block, one leaf row after another in memory, into one SIMD lane per row. A tile is
// L rows of L elements, L = xsimd::batch<T>::size, the width xsimd's default architecture gives:
// 16 floats or 8 doubles with AVX-512, 8 or 4 with AVX, 4 or 2 with SSE2. Each architecture's
// transpose is the unpack-and-shuffle network of its lane layout; anything else, scalar copies.
#pragma once

#include <cstddef>
#include <type_traits>

#include "kobai/core/simd.hpp"

namespace kobai::detail {

/// Writes the transpose of the L × L tile whose row i is the L elements at in + i·in_stride (no
/// alignment needed) to out, its row j at out + j·out_stride (aligned to a batch).
template <class T>
inline void transpose_tile(const T* in, std::ptrdiff_t in_stride, T* out, std::ptrdiff_t out_stride);

template <class T>
inline constexpr std::size_t tile_size = xsimd::batch<T>::size;
template <class T>
inline constexpr std::size_t tile_bytes = tile_size<T> * sizeof(T);

#if defined(__AVX512F__)
// The 4 × 4 transpose of the 128-bit lanes of four registers, the last step of both AVX-512
// networks: lane l of s[g] goes to lane g of result l.
template <int Imm>
inline __m512 shuffle_lanes(__m512 a, __m512 b) {
  return _mm512_shuffle_f32x4(a, b, Imm);
}
template <int Imm>
inline __m512d shuffle_lanes(__m512d a, __m512d b) {
  return _mm512_shuffle_f64x2(a, b, Imm);
}
template <class R>
inline void transpose_lanes(R (&s)[4]) {
  const R u0 = shuffle_lanes<0x44>(s[0], s[1]), u1 = shuffle_lanes<0xEE>(s[0], s[1]);
  const R u2 = shuffle_lanes<0x44>(s[2], s[3]), u3 = shuffle_lanes<0xEE>(s[2], s[3]);
  s[0] = shuffle_lanes<0x88>(u0, u2);
  s[1] = shuffle_lanes<0xDD>(u0, u2);
  s[2] = shuffle_lanes<0x88>(u1, u3);
  s[3] = shuffle_lanes<0xDD>(u1, u3);
}
inline void transpose_avx512(const float* in, std::ptrdiff_t is, float* out, std::ptrdiff_t os) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(in + i * is);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // per 128-bit lane l, rows 4g … 4g + 3 of column 4l + c in s[c][g]
  __m512 s[4][4];
  for (int g = 0; g < 4; ++g) {
    s[0][g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    s[1][g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    s[2][g] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    s[3][g] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    transpose_lanes(s[c]);
    for (int l = 0; l < 4; ++l) _mm512_store_ps(out + (4 * l + c) * os, s[c][l]);
  }
}
inline void transpose_avx512(const double* in, std::ptrdiff_t is, double* out, std::ptrdiff_t os) {
  __m512d r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm512_loadu_pd(in + i * is);
  // per 128-bit lane l, rows 2p and 2p + 1 of column 2l + c in s[c][p]
  __m512d s[2][4];
  for (int p = 0; p < 4; ++p) {
    s[0][p] = _mm512_unpacklo_pd(r[2 * p], r[2 * p + 1]);
    s[1][p] = _mm512_unpackhi_pd(r[2 * p], r[2 * p + 1]);
  }
  for (int c = 0; c < 2; ++c) {
    transpose_lanes(s[c]);
    for (int l = 0; l < 4; ++l) _mm512_store_pd(out + (2 * l + c) * os, s[c][l]);
  }
}
#endif

#if defined(__AVX__)
inline void transpose_avx(const float* in, std::ptrdiff_t is, float* out, std::ptrdiff_t os) {
  __m256 r[8], t[8], s[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(in + i * is);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  // s[4h + c]: per 128-bit lane l, rows 4h … 4h + 3 of column 4l + c
  for (int h = 0; h < 2; ++h) {
    s[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
    s[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
    s[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
    s[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    _mm256_store_ps(out + c * os, _mm256_permute2f128_ps(s[c], s[4 + c], 0x20));
    _mm256_store_ps(out + (4 + c) * os, _mm256_permute2f128_ps(s[c], s[4 + c], 0x31));
  }
}
inline void transpose_avx(const double* in, std::ptrdiff_t is, double* out, std::ptrdiff_t os) {
  __m256d r[4];
  for (int i = 0; i < 4; ++i) r[i] = _mm256_loadu_pd(in + i * is);
  // per 128-bit lane l, rows 2h and 2h + 1 of column 2l + c in s[2h + c]
  const __m256d s[4] = {_mm256_unpacklo_pd(r[0], r[1]), _mm256_unpackhi_pd(r[0], r[1]), _mm256_unpacklo_pd(r[2], r[3]),
                        _mm256_unpackhi_pd(r[2], r[3])};
  for (int c = 0; c < 2; ++c) {
    _mm256_store_pd(out + c * os, _mm256_permute2f128_pd(s[c], s[2 + c], 0x20));
    _mm256_store_pd(out + (2 + c) * os, _mm256_permute2f128_pd(s[c], s[2 + c], 0x31));
  }
}
#endif

#if defined(__SSE2__)
inline void transpose_sse(const float* in, std::ptrdiff_t is, float* out, std::ptrdiff_t os) {
  __m128 r0 = _mm_loadu_ps(in), r1 = _mm_loadu_ps(in + is), r2 = _mm_loadu_ps(in + 2 * is),
         r3 = _mm_loadu_ps(in + 3 * is);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  _mm_store_ps(out, r0);
  _mm_store_ps(out + os, r1);
  _mm_store_ps(out + 2 * os, r2);
  _mm_store_ps(out + 3 * os, r3);
}
inline void transpose_sse(const double* in, std::ptrdiff_t is, double* out, std::ptrdiff_t os) {
  const __m128d r0 = _mm_loadu_pd(in), r1 = _mm_loadu_pd(in + is);
  _mm_store_pd(out, _mm_unpacklo_pd(r0, r1));
  _mm_store_pd(out + os, _mm_unpackhi_pd(r0, r1));
}
#endif

template <class T>
inline void transpose_tile(const T* in, std::ptrdiff_t in_stride, T* out, std::ptrdiff_t out_stride) {
  constexpr bool is_real = std::is_same_v<T, float> || std::is_same_v<T, double>;
#if defined(__AVX512F__)
  if constexpr (is_real && tile_bytes<T> == 64) {
    transpose_avx512(in, in_stride, out, out_stride);
    return;
  }
#endif
#if defined(__AVX__)
  if constexpr (is_real && tile_bytes<T> == 32) {
    transpose_avx(in, in_stride, out, out_stride);
    return;
  }
#endif
#if defined(__SSE2__)
  if constexpr (is_real && tile_bytes<T> == 16) {
    transpose_sse(in, in_stride, out, out_stride);
    return;
  }
#endif
  constexpr auto L = static_cast<std::ptrdiff_t>(tile_size<T>);
  for (std::ptrdiff_t i = 0; i < L; ++i)
    for (std::ptrdiff_t j = 0; j < L; ++j) out[j * out_stride + i] = in[i * in_stride + j];
}

}  // namespace kobai::detail
