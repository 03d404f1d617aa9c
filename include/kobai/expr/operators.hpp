// The user-facing vocabulary: arithmetic operators and elementwise functions on expressions.
#pragma once

#include <type_traits>

#include "kobai/expr/node.hpp"
#include "kobai/expr/simplify.hpp"

namespace kobai {

/// std::integral_constant, boost::hana::integral_constant and the like: compile-time integers.
template <class T>
concept integral_constant_like = std::is_empty_v<std::remove_cvref_t<T>> && requires {
  { std::remove_cvref_t<T>::value } -> std::convertible_to<std::int64_t>;
  requires std::is_integral_v<std::remove_cvref_t<decltype(std::remove_cvref_t<T>::value)>>;
};

/// What may stand as an operand next to an expression.
template <class T>
concept operand = expression<T> || integral_constant_like<T>;

template <class T>
inline constexpr bool dependent_false = false;

namespace detail {

template <operand T>
constexpr auto as_expression(T value) {
  if constexpr (expression<T>)
    return value;
  else
    return constant_v<rational{static_cast<std::int64_t>(T::value), 1}>;
}

template <class A, class B>
concept operands = operand<A> && operand<B> &&(expression<A> || expression<B>);

template <class T>
concept plain_number = std::is_arithmetic_v<std::remove_cvref_t<T>>;

// A floating-point number next to an exact constant: plain arithmetic, so that code written with
// _c constants also runs on doubles (1_c - 0.5 is 0.5). An integer next to one is refused (1_c / 3
// as a double would silently lose the exact 1/3; 1_c / 3_c keeps it).
template <class A, class B>
concept number_with_constant = (std::is_floating_point_v<std::remove_cvref_t<A>> && is_constant<B>) ||
                               (is_constant<A> && std::is_floating_point_v<std::remove_cvref_t<B>>);

// A plain number next to a leaf, a node, or (an integer) a constant, none of which can hold it.
template <class A, class B>
concept number_with_expression = ((plain_number<A> && expression<B>) || (expression<A> && plain_number<B>)) &&
                                 !number_with_constant<A, B>;
template <class T>
constexpr double plain_value(T v) {
  if constexpr (is_constant<T>)
    return std::remove_cvref_t<T>::value.value();
  else
    return static_cast<double>(v);
}

template <class A, class B>
constexpr auto reject_plain_number() {
  static_assert(dependent_false<A>,
                "kobai: a plain C++ number cannot be part of an expression's type. Write an exact constant "
                "with the _c suffix (using namespace kobai::literals; 2_c, 0.5_c), or bind a run-time value "
                "as a leaf: input<\"k\"> ... k = value.");
  return constant_v<rational{}>;
}

}  // namespace detail

/// a + b.  ∂/∂a = ∂/∂b = 1.
template <class A, class B>
requires detail::operands<A, B>
constexpr auto operator+(A a, B b) { return detail::make_add(detail::as_expression(a), detail::as_expression(b)); }
/// a − b, stored as a + (−1)·b.  ∂/∂a = 1, ∂/∂b = −1.
template <class A, class B>
requires detail::operands<A, B>
constexpr auto operator-(A a, B b) {
  return detail::make_add(detail::as_expression(a), detail::make_mul(literal<-1>, detail::as_expression(b)));
}
/// a · b.  ∂/∂a = b, ∂/∂b = a.
template <class A, class B>
requires detail::operands<A, B>
constexpr auto operator*(A a, B b) { return detail::make_mul(detail::as_expression(a), detail::as_expression(b)); }
/// a / b, stored as a · b⁻¹.  ∂/∂a = 1/b, ∂/∂b = −a/b².
template <class A, class B>
requires detail::operands<A, B>
constexpr auto operator/(A a, B b) {
  return detail::make_mul(detail::as_expression(a), detail::make_power<rational{-1, 1}>(detail::as_expression(b)));
}
/// −a, stored as (−1)·a.
template <expression A>
constexpr auto operator-(A a) {
  return detail::make_mul(literal<-1>, a);
}
template <expression A>
constexpr auto operator+(A a) {
  return a;
}

template <class A, class B>
requires detail::number_with_expression<A, B>
constexpr auto operator+(A, B) { return detail::reject_plain_number<A, B>(); }
template <class A, class B>
requires detail::number_with_expression<A, B>
constexpr auto operator-(A, B) { return detail::reject_plain_number<A, B>(); }
template <class A, class B>
requires detail::number_with_expression<A, B>
constexpr auto operator*(A, B) { return detail::reject_plain_number<A, B>(); }
template <class A, class B>
requires detail::number_with_expression<A, B>
constexpr auto operator/(A, B) { return detail::reject_plain_number<A, B>(); }

/// An exact constant with a plain number is plain double arithmetic: 1_c - 0.5 is 0.5, 2_c * x is
/// a double for a double x, so one templated function serves kobai (through kobai::trace) and doubles.
#define KOBAI_PLAIN_ARITHMETIC(op)            \
  template <class A, class B>                 \
  requires detail::number_with_constant<A, B> \
  constexpr auto operator op(A a, B b) { return detail::plain_value(a) op detail::plain_value(b); }
KOBAI_PLAIN_ARITHMETIC(+)
KOBAI_PLAIN_ARITHMETIC(-)
KOBAI_PLAIN_ARITHMETIC(*)
KOBAI_PLAIN_ARITHMETIC(/)
KOBAI_PLAIN_ARITHMETIC(<)
KOBAI_PLAIN_ARITHMETIC(<=)
KOBAI_PLAIN_ARITHMETIC(>)
KOBAI_PLAIN_ARITHMETIC(>=)
KOBAI_PLAIN_ARITHMETIC(==)
KOBAI_PLAIN_ARITHMETIC(!=)
#undef KOBAI_PLAIN_ARITHMETIC

/// Comparisons build 0/1-valued nodes for where(); they have no derivative.
template <class A, class B>
requires detail::operands<A, B>
constexpr auto operator<(A a, B b) {
  return detail::make_node<ops::lt>(detail::as_expression(a), detail::as_expression(b));
}
template <class A, class B>
requires detail::operands<A, B>
constexpr auto operator<=(A a, B b) {
  return detail::make_node<ops::le>(detail::as_expression(a), detail::as_expression(b));
}
template <class A, class B>
requires detail::operands<A, B>
constexpr auto operator>(A a, B b) {
  return detail::make_node<ops::gt>(detail::as_expression(a), detail::as_expression(b));
}
template <class A, class B>
requires detail::operands<A, B>
constexpr auto operator>=(A a, B b) {
  return detail::make_node<ops::ge>(detail::as_expression(a), detail::as_expression(b));
}
/// Elementwise a = b as a 0/1 node (as in NumPy and PyTorch); `same(a, b)` compares graphs.
template <class A, class B>
requires detail::operands<A, B>
constexpr auto operator==(A a, B b) {
  return detail::make_node<ops::eq>(detail::as_expression(a), detail::as_expression(b));
}
template <class A, class B>
requires detail::operands<A, B>
constexpr auto operator!=(A a, B b) {
  return detail::make_node<ops::ne>(detail::as_expression(a), detail::as_expression(b));
}

/// Whether a and b are the same graph: after construction-time simplification, the same math.
template <expression A, expression B>
constexpr bool same(A, B) {
  return std::is_same_v<A, B>;
}

/// The elementwise functions of one expression, one per op in ops::KOBAI_UNARY_FUNCTIONS:
/// exp(x), log(x), …, erf(x), sigmoid(x), relu(x), abs(x), sign(x) and detach(x) (x with zero
/// derivative, PyTorch's x.detach()). Each op's math and derivative are documented at its
/// descriptor in expr/ops.hpp.
#define KOBAI_UNARY_FUNCTION(op)          \
  template <expression A>                 \
  constexpr auto op(A a) {                \
    return detail::make_node<ops::op>(a); \
  }
KOBAI_UNARY_FUNCTIONS(KOBAI_UNARY_FUNCTION)
#undef KOBAI_UNARY_FUNCTION

/// √x = x^½.  d/dx = ½·x^(−½).
template <expression A>
constexpr auto sqrt(A a) {
  return detail::make_power<rational{1, 2}>(a);
}
/// x^(Num/Den), exact: pow<4>(x), pow<1, 3>(x).  d/dx = (Num/Den)·x^(Num/Den − 1).
template <std::int64_t Num, std::int64_t Den = 1, expression A>
constexpr auto pow(A a) {
  return detail::make_power<rational::make(Num, Den)>(a);
}
/// a^b.  ∂/∂a = b·a^(b−1), ∂/∂b = a^b·ln a. A constant exponent gives pow<R>.
template <class A, class B>
requires detail::operands<A, B>
constexpr auto pow(A a, B b) {
  if constexpr (is_constant<decltype(detail::as_expression(b))>)
    return detail::make_power<decltype(detail::as_expression(b))::value>(detail::as_expression(a));
  else
    return detail::make_node<ops::pow>(detail::as_expression(a), detail::as_expression(b));
}
/// min(a, b).  ∂/∂a = [a < b] + ½[a = b] (PyTorch's torch.minimum).
template <class A, class B>
requires detail::operands<A, B>
constexpr auto min(A a, B b) {
  if constexpr (std::is_same_v<A, B>)
    return a;
  else
    return detail::make_node<ops::min>(detail::as_expression(a), detail::as_expression(b));
}
/// max(a, b).  ∂/∂a = [a > b] + ½[a = b] (PyTorch's torch.maximum).
template <class A, class B>
requires detail::operands<A, B>
constexpr auto max(A a, B b) {
  if constexpr (std::is_same_v<A, B>)
    return a;
  else
    return detail::make_node<ops::max>(detail::as_expression(a), detail::as_expression(b));
}
/// where(c, a, b): a where c holds (≠ 0), else b.  ∂/∂a = [c], ∂/∂b = 1 − [c].
template <operand C, operand A, operand B>
requires(expression<C> || expression<A> || expression<B>) constexpr auto where(C c, A a, B b) {
  return detail::make_where(detail::as_expression(c), detail::as_expression(a), detail::as_expression(b));
}
/// clamp(x, lo, hi) = where(x < lo, lo, where(x > hi, hi, x)).  d/dx = [lo ≤ x ≤ hi] (PyTorch's clamp).
template <operand X, operand L, operand H>
requires(expression<X> || expression<L> || expression<H>) constexpr auto clamp(X x, L lo, H hi) {
  return where(x < lo, lo, where(x > hi, hi, x));
}

}  // namespace kobai
