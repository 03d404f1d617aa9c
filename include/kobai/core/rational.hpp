// Exact rational numbers for compile-time constants: 4·x³ stays 4·x³, not 3.9999·x³.
#pragma once

#include <compare>
#include <cstdint>
#include <numeric>
#include <optional>

namespace kobai {

/// An exact fraction num/den with den > 0 and gcd(num, den) = 1. A structural type, so it can be
/// a template argument: `constant<rational{1, 2}>` is the literal 1/2.
struct rational {
  std::int64_t num = 0;
  std::int64_t den = 1;

  /// n/d in lowest terms, or nothing when d = 0 or the result does not fit 64 bits.
  [[nodiscard]] static constexpr std::optional<rational> try_make(__int128 n, __int128 d) {
    if (d == 0) return std::nullopt;
    if (d < 0) n = -n, d = -d;
    __int128 a = n < 0 ? -n : n, b = d;
    while (b != 0) {
      const __int128 t = a % b;
      a = b;
      b = t;
    }
    if (a > 1) n /= a, d /= a;
    constexpr __int128 limit = INT64_MAX;
    if (n > limit || -n > limit || d > limit) return std::nullopt;
    return rational{static_cast<std::int64_t>(n), static_cast<std::int64_t>(d)};
  }
  /// n/d, or where that does not fit 64 bits, a close fraction whose terms do: the last
  /// continued-fraction convergent of n/d that fits, within 1/(q·q') of it for consecutive
  /// denominators q, q' (so about 2^-120 relative for a value near 0.01, far finer than a double),
  /// so long products of constants such as the exact value of the double 0.2 (a 54-bit
  /// denominator) stay finite. Nothing when d = 0, when the value passes 2^63, or when no fraction
  /// of 64-bit terms is within 2^-60 of it, relatively (values far below 1, such as 1e-20).
  [[nodiscard]] static constexpr std::optional<rational> nearest(__int128 n, __int128 d) {
    if (d == 0) return std::nullopt;
    if (auto exact = try_make(n, d)) return exact;
    if (d < 0) n = -n, d = -d;
    const bool negative = n < 0;
    if (negative) n = -n;
    const __int128 n0 = n, d0 = d;
    constexpr __int128 limit = INT64_MAX;
    __int128 p = 1, q = 0, p_before = 0, q_before = 1;  // the convergents p/q, and the ones before
    bool any = false;
    while (d != 0) {
      const __int128 a = n / d;
      if ((p != 0 && a > (limit - p_before) / p) || (q != 0 && a > (limit - q_before) / q)) break;
      const __int128 p_next = a * p + p_before, q_next = a * q + q_before;
      p_before = p, q_before = q, p = p_next, q = q_next, any = true;
      const __int128 r = n - a * d;
      n = d;
      d = r;
    }
    if (!any || p == 0) return std::nullopt;  // past 2^63, or below what 64 bits can hold
    // Refused where the fraction is not within 2^-60 of the value (values near 2^-63 have few
    // fractions), so a constant is never silently coarse.
    const long double value = static_cast<long double>(n0) / static_cast<long double>(d0);
    const long double error = static_cast<long double>(p) / static_cast<long double>(q) - value;
    if ((error < 0 ? -error : error) > value * 0x1p-60L) return std::nullopt;
    return try_make(negative ? -p : p, q);
  }
  [[nodiscard]] static constexpr rational make(__int128 n, __int128 d) {
    if (d == 0) throw "kobai: division by zero in a compile-time constant";
    const auto r = nearest(n, d);
    if (!r) throw "kobai: a compile-time constant passes 2^63, or is too small for a fraction of 64-bit terms";
    return *r;
  }

  [[nodiscard]] constexpr bool is_integer() const { return den == 1; }
  [[nodiscard]] constexpr double value() const { return static_cast<double>(num) / static_cast<double>(den); }

  friend constexpr bool operator==(rational, rational) = default;
  friend constexpr std::strong_ordering operator<=>(rational a, rational b) {
    return static_cast<__int128>(a.num) * b.den <=> static_cast<__int128>(b.num) * a.den;
  }
  friend constexpr rational operator+(rational a, rational b) {
    return make(static_cast<__int128>(a.num) * b.den + static_cast<__int128>(b.num) * a.den,
                static_cast<__int128>(a.den) * b.den);
  }
  friend constexpr rational operator-(rational a) { return {-a.num, a.den}; }
  friend constexpr rational operator-(rational a, rational b) { return a + -b; }
  friend constexpr rational operator*(rational a, rational b) {
    return make(static_cast<__int128>(a.num) * b.num, static_cast<__int128>(a.den) * b.den);
  }
  friend constexpr rational operator/(rational a, rational b) {
    return make(static_cast<__int128>(a.num) * b.den, static_cast<__int128>(a.den) * b.num);
  }
};

/// a^n for an integer n (negative allowed for a ≠ 0).
constexpr rational integer_power(rational a, std::int64_t n) {
  rational result{1, 1};
  const rational base = n < 0 ? rational{1, 1} / a : a;
  for (std::int64_t i = 0; i < (n < 0 ? -n : n); ++i) result = result * base;
  return result;
}

}  // namespace kobai
