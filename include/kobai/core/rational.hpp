// Exact rational numbers for compile-time constants: 4·x³ stays 4·x³, not 3.9999·x³.
#pragma once

#include <compare>
#include <cstdint>
#include <numeric>

namespace kobai {

/// An exact fraction num/den with den > 0 and gcd(num, den) = 1. A structural type, so it can be
/// a template argument: `constant<rational{1, 2}>` is the literal 1/2.
struct rational {
  std::int64_t num = 0;
  std::int64_t den = 1;

  [[nodiscard]] static constexpr rational make(__int128 n, __int128 d) {
    if (d == 0) throw "kobai: division by zero in a compile-time constant";
    if (d < 0) n = -n, d = -d;
    __int128 a = n < 0 ? -n : n, b = d;
    while (b != 0) {
      const __int128 t = a % b;
      a = b;
      b = t;
    }
    if (a > 1) n /= a, d /= a;
    constexpr __int128 limit = INT64_MAX;
    if (n > limit || -n > limit || d > limit) throw "kobai: compile-time constant overflows 64-bit rational";
    return {static_cast<std::int64_t>(n), static_cast<std::int64_t>(d)};
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
