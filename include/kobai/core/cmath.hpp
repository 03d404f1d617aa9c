// Elementary functions usable in constant expressions (within 1e-14 of libm on the tested
// ranges, tests/core/cmath.cpp); std:: at run time.
#pragma once

#include <bit>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>

namespace kobai::math {
namespace detail {

inline constexpr double inf = std::numeric_limits<double>::infinity();
inline constexpr double nan = std::numeric_limits<double>::quiet_NaN();
// fdlibm's split constants: the *_hi parts have trailing zero bits so k·hi is exact.
inline constexpr double ln2_hi = 6.93147180369123816490e-01;
inline constexpr double ln2_lo = 1.90821492927058770002e-10;
inline constexpr double pio2_1 = 1.57079632673412561417e+00;
inline constexpr double pio2_2 = 6.07710050630396597660e-11;
inline constexpr double pio2_3 = 2.02226624871116645580e-21;

constexpr bool isnan(double x) { return x != x; }
constexpr double fabs(double x) { return x < 0 ? -x : (x == 0 ? 0.0 : x); }
/// Nearest integer, halves away from zero (|x| < 2⁶³). Exact: x − trunc(x) has no rounding.
constexpr double round_half_away(double x) {
  const double magnitude = x < 0 ? -x : x;
  double whole = static_cast<double>(static_cast<std::int64_t>(magnitude));
  if (magnitude - whole >= 0.5) whole += 1;
  return x < 0 ? -whole : whole;
}

/// 2^k for k within the double range (subnormal results included).
constexpr double exp2i(int k) {
  if (k > 1023) return inf;
  if (k < -1074) return 0.0;
  if (k < -1022) return exp2i(k + 54) * exp2i(-54);
  return std::bit_cast<double>(static_cast<std::uint64_t>(k + 1023) << 52);
}

constexpr double exp(double x) {
  if (isnan(x)) return x;
  if (x > 709.782712893384) return inf;
  if (x < -745.2) return 0.0;
  const double k = round_half_away(x / 0.693147180559945309417);
  const double r = (x - k * ln2_hi) - k * ln2_lo;  // |r| <= ln2/2
  double term = 1.0, sum = 1.0;
  for (int n = 1; n < 24; ++n) sum += (term *= r / n);
  const int ki = static_cast<int>(k);
  if (ki > 1000) return sum * exp2i(ki - 100) * exp2i(100);  // 2^1024 itself is not a double
  return ki < -1000 ? sum * exp2i(ki + 100) * exp2i(-100) : sum * exp2i(ki);
}

constexpr double log(double x) {
  if (isnan(x) || x < 0) return nan;
  if (x == 0) return -inf;
  if (x == inf) return inf;
  int e = 0;
  if (x < 2.2250738585072014e-308) x *= exp2i(54), e = -54;  // subnormal
  const auto bits = std::bit_cast<std::uint64_t>(x);
  e += static_cast<int>((bits >> 52) & 0x7ff) - 1023;
  double m = std::bit_cast<double>((bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);  // [1,2)
  if (m > 1.4142135623730951) m *= 0.5, ++e;
  const double s = (m - 1) / (m + 1), s2 = s * s;  // log m = 2·atanh(s), |s| <= 0.172
  double power = s, sum = 0;
  for (int n = 1; n < 40; n += 2, power *= s2) sum += power / n;
  return e * ln2_hi + (e * ln2_lo + 2 * sum);
}

constexpr double expm1(double x) {
  if (fabs(x) >= 0.5) return exp(x) - 1;
  double term = x, sum = x;
  for (int n = 2; n < 30; ++n) sum += (term *= x / n);
  return sum;
}

constexpr double log1p(double x) {
  const double u = 1 + x;
  if (u == 1) return x;
  if (u == inf) return inf;
  return log(u) * (x / (u - 1));  // cancels the rounding of 1 + x
}

/// Returns r in [-π/4, π/4] and the quadrant k mod 4 with x = k·π/2 + r.
constexpr double reduce_half_pi(double x, int& quadrant) {
  const double k = round_half_away(x / 1.57079632679489661923);
  quadrant = static_cast<int>(static_cast<std::int64_t>(k) & 3);
  return ((x - k * pio2_1) - k * pio2_2) - k * pio2_3;
}
constexpr double sin_taylor(double r) {
  double term = r, sum = r;
  for (int n = 1; n < 14; ++n) sum += (term *= -r * r / ((2 * n) * (2 * n + 1)));
  return sum;
}
constexpr double cos_taylor(double r) {
  double term = 1, sum = 1;
  for (int n = 1; n < 14; ++n) sum += (term *= -r * r / ((2 * n - 1) * (2 * n)));
  return sum;
}
constexpr double sin(double x) {
  if (isnan(x) || fabs(x) == inf) return nan;
  int q = 0;
  const double r = reduce_half_pi(x, q);
  switch (q) {
    case 0:
      return sin_taylor(r);
    case 1:
      return cos_taylor(r);
    case 2:
      return -sin_taylor(r);
    default:
      return -cos_taylor(r);
  }
}
constexpr double cos(double x) {
  if (isnan(x) || fabs(x) == inf) return nan;
  int q = 0;
  const double r = reduce_half_pi(x, q);
  switch (q) {
    case 0:
      return cos_taylor(r);
    case 1:
      return -sin_taylor(r);
    case 2:
      return -cos_taylor(r);
    default:
      return sin_taylor(r);
  }
}
constexpr double tan(double x) { return sin(x) / cos(x); }

constexpr double tanh(double x) {
  if (isnan(x)) return x;
  if (fabs(x) > 20) return x > 0 ? 1.0 : -1.0;
  const double t = expm1(2 * fabs(x));
  return (x < 0 ? -1 : 1) * t / (t + 2);
}

constexpr double sqrt(double x) {
  if (isnan(x) || x < 0) return nan;
  if (x == 0 || x == inf) return x;
  if (x < 2.2250738585072014e-308) return sqrt(x * exp2i(108)) * exp2i(-54);  // subnormal: scale up first
  // Start from halving the exponent, then Newton; the last step corrects to within an ulp.
  const auto bits = std::bit_cast<std::uint64_t>(x);
  double y = std::bit_cast<double>((bits >> 1) + (std::uint64_t{1023} << 51));
  for (int i = 0; i < 8; ++i) y = 0.5 * (y + x / y);
  return y;
}

// Double-double arithmetic (Dekker): a value hi + lo carried to about 106 bits.
struct double_double {
  double hi, lo;
};
constexpr double_double split(double a) {  // a = hi + lo, each with at most 26 significant bits
  const double c = 134217729.0 * a;        // 2^27 + 1
  const double hi = c - (c - a);
  return {hi, a - hi};
}
constexpr double_double exact_product(double a, double b) {
  const double p = a * b;
  const auto [ah, al] = split(a);
  const auto [bh, bl] = split(b);
  return {p, ((ah * bh - p) + ah * bl + al * bh) + al * bl};
}
constexpr double_double multiply(double_double x, double_double y) {
  if (!(fabs(x.hi) < 1e290 && fabs(y.hi) < 1e290)) return {x.hi * y.hi, 0.0};  // splitting would overflow
  double_double p = exact_product(x.hi, y.hi);
  p.lo += x.hi * y.lo + x.lo * y.hi;
  const double sum = p.hi + p.lo;
  return {sum, p.lo - (sum - p.hi)};
}

/// aⁿ by repeated squaring in double-double, so large n keeps about one rounding.
constexpr double integer_power(double a, std::uint64_t n) {
  double_double result{1.0, 0.0}, base{a, 0.0};
  for (; n != 0; n >>= 1, base = multiply(base, base))
    if (n & 1) result = multiply(result, base);
  return result.hi + result.lo;
}

constexpr double pow(double a, double b) {
  if (b == 0) return 1.0;
  if (isnan(a) || isnan(b)) return nan;
  if (fabs(b) < 9.0e18 && round_half_away(b) == b) {  // an integer exponent: exact sign for any base
    const double magnitude = integer_power(a, static_cast<std::uint64_t>(fabs(b)));
    return b < 0 ? 1 / magnitude : magnitude;
  }
  if (a < 0) return nan;
  if (a == 0) return b > 0 ? 0.0 : inf;
  if (fabs(b) < 2147483648.0) {  // aᵇ = aⁿ·e^(f·ln a) with n = round(b), |f| ≤ ½: the large part exactly
    const double whole = round_half_away(b);
    const double magnitude = integer_power(a, static_cast<std::uint64_t>(fabs(whole)));
    return (whole < 0 ? 1 / magnitude : magnitude) * exp((b - whole) * log(a));
  }
  return exp(b * log(a));
}

/// erf x = 2/√π · e^(−x²) · Σₙ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)): every term positive, so no
/// cancellation; |erf x| rounds to 1 beyond 6.
constexpr double erf(double x) {
  if (isnan(x)) return x;
  if (fabs(x) >= 6) return x < 0 ? -1.0 : 1.0;
  const double x2 = x * x;
  double term = x, sum = x;
  for (int n = 1; n < 200 && fabs(term) > 1e-17 * fabs(sum); ++n) sum += (term *= 2 * x2 / (2 * n + 1));
  return 1.1283791670955125739 * exp(-x2) * sum;
}

}  // namespace detail

// Each function below: the constexpr implementation above during constant evaluation, std:: at run time.
#define KOBAI_MATH_UNARY(name)                                                \
  template <std::floating_point T>                                            \
  constexpr T name(T x) {                                                     \
    if (std::is_constant_evaluated()) return static_cast<T>(detail::name(x)); \
    return std::name(x);                                                      \
  }
KOBAI_MATH_UNARY(exp)
KOBAI_MATH_UNARY(log)
KOBAI_MATH_UNARY(log1p)
KOBAI_MATH_UNARY(expm1)
KOBAI_MATH_UNARY(sin)
KOBAI_MATH_UNARY(cos)
KOBAI_MATH_UNARY(tan)
KOBAI_MATH_UNARY(tanh)
KOBAI_MATH_UNARY(sqrt)
KOBAI_MATH_UNARY(erf)
#undef KOBAI_MATH_UNARY

template <std::floating_point T>
constexpr T pow(T a, T b) {
  if (std::is_constant_evaluated()) return static_cast<T>(detail::pow(a, b));
  return std::pow(a, b);
}
template <std::floating_point T>
constexpr T abs(T x) {
  return x < 0 ? -x : (x == 0 ? T(0) : x);
}
template <std::floating_point T>
constexpr T min(T a, T b) {
  return b < a ? b : a;
}
template <std::floating_point T>
constexpr T max(T a, T b) {
  return a < b ? b : a;
}
template <std::floating_point T>
constexpr T select(bool condition, T a, T b) {
  return condition ? a : b;
}

}  // namespace kobai::math
