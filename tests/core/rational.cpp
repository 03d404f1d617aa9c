// Exact rationals and the _c literal suffix.
#include <doctest/doctest.h>

#include <cmath>

#include "kobai/expr/literals.hpp"

using kobai::rational;
using namespace kobai::literals;

static_assert(rational::make(6, -4) == rational{-3, 2});
static_assert(rational{1, 3} + rational{1, 6} == rational{1, 2});
static_assert(rational{2, 3} * rational{3, 4} == rational{1, 2});
static_assert(rational{1, 2} / rational{1, 4} == rational{2, 1});
static_assert(rational{1, 3} < rational{1, 2});
static_assert(kobai::integer_power(rational{2, 3}, -2) == rational{9, 4});

static_assert(std::is_same_v<decltype(4_c), kobai::constant<rational{4, 1}>>);
static_assert(std::is_same_v<decltype(0.25_c), kobai::constant<rational{1, 4}>>);
static_assert(std::is_same_v<decltype(2.5e-3_c), kobai::constant<rational{1, 400}>>);
static_assert(std::is_same_v<decltype(1'000_c), kobai::constant<rational{1000, 1}>>);
static_assert(std::is_same_v<decltype(kobai::literal<2, 6>), const kobai::constant<rational{1, 3}>>);

TEST_CASE("rational arithmetic is exact where doubles are not") {
  constexpr rational tenth{1, 10};
  constexpr rational sum = tenth + tenth + tenth;
  CHECK(sum == rational{3, 10});
  CHECK(0.1 + 0.1 + 0.1 != 0.3);  // the reason constants are rationals
  CHECK(sum.value() == doctest::Approx(0.3));
}

// Past 64 bits a result is rounded to the nearest fraction that fits, not refused: the exact value
// of the double 0.1 squared has a 110-bit denominator.
static_assert(!rational::try_make(__int128{1} << 64, 3).has_value());
static_assert(rational::try_make(6, 4) == rational{3, 2});
static_assert(!rational::nearest(1, 0).has_value());
static_assert(!rational::nearest(__int128{1} << 100, 3).has_value());  // the value itself passes 2^63

TEST_CASE("products of long binary fractions round to a close fraction, not an error") {
  constexpr rational tenth{3602879701896397, 36028797018963968};  // the double 0.1, exactly
  constexpr rational square = tenth * tenth;
  static_assert(square.den <= INT64_MAX && square.num > 0);
  // The exact square is 3602879701896397² / 2^110; its rounding is within 2^-61 of it, relative.
  const long double exact = static_cast<long double>(3602879701896397.0L) * 3602879701896397.0L / 0x1p110L;
  const long double got = static_cast<long double>(square.num) / static_cast<long double>(square.den);
  CHECK(std::abs(got - exact) / exact < 0x1p-61L);
  // A third of a huge fraction: numerator and denominator both shifted, the ratio kept.
  const auto third = rational::nearest((__int128{1} << 80) + 1, (__int128{3} << 80));
  REQUIRE(third.has_value());
  CHECK(third->value() == doctest::Approx(1.0 / 3).epsilon(1e-15));
}

// Values that no fraction of 64-bit terms holds within 2^-60 are refused, not rounded to zero.
static_assert(!rational::nearest(1, __int128{1} << 80).has_value());
static_assert(!rational::nearest(3, (__int128{1} << 70) + 1).has_value());
