// The `_c` suffix: exact compile-time constants, `4_c`, `0.25_c`, `1e-3_c`.
#pragma once

#include "kobai/expr/node.hpp"

namespace kobai::detail {

template <char... Chars>
constexpr rational parse_literal() {
  constexpr char text[] = {Chars..., '\0'};
  rational value{0, 1};
  std::int64_t scale = 0;  // digits after the decimal point
  bool fraction = false;
  std::size_t i = 0;
  for (; text[i] != '\0' && text[i] != 'e' && text[i] != 'E'; ++i) {
    if (text[i] == '\'') continue;
    if (text[i] == '.') {
      fraction = true;
      continue;
    }
    if (text[i] < '0' || text[i] > '9') throw "kobai: _c takes decimal literals such as 3_c or 0.25_c";
    value = value * rational{10, 1} + rational{text[i] - '0', 1};
    scale += fraction ? 1 : 0;
  }
  std::int64_t exponent = 0, sign = 1;
  if (text[i] == 'e' || text[i] == 'E') {
    if (text[++i] == '-')
      sign = -1, ++i;
    else if (text[i] == '+')
      ++i;
    for (; text[i] != '\0'; ++i) exponent = exponent * 10 + (text[i] - '0');
  }
  return value * integer_power(rational{10, 1}, sign * exponent - scale);
}

}  // namespace kobai::detail

namespace kobai::literals {

/// `3_c`, `0.5_c`, `2.5e-3_c`: the exact rational constant, as an expression.
template <char... Chars>
constexpr auto operator""_c() {
  return constant<detail::parse_literal<Chars...>()>{};
}

}  // namespace kobai::literals
