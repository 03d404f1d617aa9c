// Exact rationals and the _c literal suffix.
#include <doctest/doctest.h>

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
