// Smart constructors: every node is simplified as it is built, so type identity is math identity
// for the cases that matter (0 and 1 identities, rational folding, x·x → x², like terms, order).
// A constant that replaces a tensor expression keeps its shape (X − X is a zero shaped like X).
#pragma once

#include "kobai/expr/node.hpp"
#include "kobai/expr/ops.hpp"
#include "kobai/expr/order.hpp"
#include "kobai/expr/shape.hpp"

namespace kobai::detail {

template <rational R>
inline constexpr constant<R> constant_v{};

// A product c·t splits into its rational coefficient c and the rest t.
template <class E>
struct split_coefficient {
  static constexpr rational coefficient{1, 1};
  using term = E;
};
template <rational R>
struct split_coefficient<constant<R>> {
  static constexpr rational coefficient = R;
  using term = constant<rational{1, 1}>;
};
template <rational R, class T>
struct split_coefficient<node<ops::mul, constant<R>, T>> {
  static constexpr rational coefficient = R;
  using term = T;
};

// A power b^e splits into base b and exponent e.
template <class E>
struct split_power {
  static constexpr rational exponent{1, 1};
  using base = E;
};
template <rational R, class B>
struct split_power<node<ops::power<R>, B>> {
  static constexpr rational exponent = R;
  using base = B;
};

template <class E>
inline constexpr bool is_sum = false;
template <class A, class B>
inline constexpr bool is_sum<node<ops::add, A, B>> = true;
template <class E>
inline constexpr bool is_product = false;
template <class A, class B>
inline constexpr bool is_product<node<ops::mul, A, B>> = true;

template <class A, class B>
using ordered_add = std::conditional_t<(compare<A, B>() <= 0), node<ops::add, A, B>, node<ops::add, B, A>>;
template <class A, class B>
using ordered_mul = std::conditional_t<(compare<A, B>() <= 0), node<ops::mul, A, B>, node<ops::mul, B, A>>;

template <rational R, expression A>
constexpr auto make_power(A);
template <expression A, expression B>
constexpr auto make_mul(A, B);

template <class C, class A, class B>
constexpr auto make_where(C, A, B);

template <class E>
inline constexpr bool is_where = false;
template <class C, class A, class B>
inline constexpr bool is_where<node<ops::where, C, A, B>> = true;
template <class E, class F>
inline constexpr bool same_condition = false;
template <class C, class A, class B, class D, class E>
inline constexpr bool same_condition<node<ops::where, C, A, B>, node<ops::where, C, D, E>> = true;

template <class A, class B>
inline constexpr bool like_terms =
    std::is_same_v<typename split_coefficient<A>::term, typename split_coefficient<B>::term>;

/// a + b, simplified.
template <expression A, expression B>
constexpr auto make_add(A a, B b) {
  using sa = split_coefficient<A>;
  using sb = split_coefficient<B>;
  if constexpr (is_zero<A>) {
    return b;
  } else if constexpr (is_zero<B>) {
    return a;
  } else if constexpr (is_constant_valued<A> && is_constant_valued<B>) {
    return constant_like<constant_value<A> + constant_value<B>>(a, b);
  } else if constexpr (is_shaped_constant<A>) {  // the scalar sum, with the broadcast shape
    return with_shape<broadcast_witness<A, B>>(make_add(constant_v<constant_value<A>>, b));
  } else if constexpr (is_shaped_constant<B>) {
    return with_shape<broadcast_witness<A, B>>(make_add(a, constant_v<constant_value<B>>));
  } else if constexpr (like_terms<A, B>) {  // c·t + d·t → (c + d)·t
    return make_mul(constant_v<sa::coefficient + sb::coefficient>, typename sa::term{});
  } else if constexpr (same_condition<A, B>) {  // where(c, p, q) + where(c, r, s) → where(c, p + r, q + s)
    return [&]<class C, class P, class Q, class R, class S>(node<ops::where, C, P, Q>, node<ops::where, C, R, S>) {
      return make_where(C{}, make_add(P{}, R{}), make_add(Q{}, S{}));
    }(a, b);
  } else if constexpr (is_sum<B> && !is_sum<A>) {
    return make_add(b, a);
  } else if constexpr (is_sum<A>) {  // (p + q) + b: collect b into p or q when they are like terms
    return [&]<class P, class Q>(node<ops::add, P, Q>) {
      if constexpr (like_terms<P, B>)
        return make_add(make_add(P{}, b), Q{});
      else if constexpr (like_terms<Q, B>)
        return make_add(P{}, make_add(Q{}, b));
      else
        return ordered_add<A, B>{};
    }(a);
  } else {
    return ordered_add<A, B>{};
  }
}

/// a · b, simplified: constants are hoisted to the front, equal bases merge their exponents.
template <expression A, expression B>
constexpr auto make_mul(A a, B b) {
  using sa = split_coefficient<A>;
  using sb = split_coefficient<B>;
  if constexpr (is_zero_valued<A> || is_zero_valued<B>) {
    return constant_like<rational{}>(a, b);
  } else if constexpr (is_constant_valued<A> && is_constant_valued<B>) {
    return constant_like<constant_value<A> * constant_value<B>>(a, b);
  } else if constexpr (is_shaped_constant<A>) {  // the scalar product, with the broadcast shape
    return with_shape<broadcast_witness<A, B>>(make_mul(constant_v<constant_value<A>>, b));
  } else if constexpr (is_shaped_constant<B>) {
    return with_shape<broadcast_witness<A, B>>(make_mul(a, constant_v<constant_value<B>>));
  } else if constexpr (is_one<A>) {
    return b;
  } else if constexpr (is_one<B>) {
    return a;
  } else if constexpr (is_constant<B>) {  // NOLINT(bugprone-branch-clone): same swap, different rule order
    return make_mul(b, a);
  } else if constexpr (is_constant<A> && is_where<B>) {  // c·where(p, a, b) → where(p, c·a, c·b)
    return [&]<class P, class X, class Y>(node<ops::where, P, X, Y>) {
      return make_where(P{}, make_mul(a, X{}), make_mul(a, Y{}));
    }(b);
  } else if constexpr (is_constant<A>) {
    if constexpr (sb::coefficient == rational{1, 1})
      return node<ops::mul, A, B>{};
    else
      return make_mul(constant_v<A::value * sb::coefficient>, typename sb::term{});
  } else if constexpr (sa::coefficient != rational{1, 1} || sb::coefficient != rational{1, 1}) {
    return make_mul(constant_v<sa::coefficient * sb::coefficient>, make_mul(typename sa::term{}, typename sb::term{}));
  } else if constexpr (std::is_same_v<typename split_power<A>::base, typename split_power<B>::base>) {
    return make_power<split_power<A>::exponent + split_power<B>::exponent>(typename split_power<A>::base{});
  } else if constexpr (is_product<B> && !is_product<A>) {
    return make_mul(b, a);
  } else if constexpr (is_product<A>) {  // (p·q)·b: merge b into p or q when the bases agree
    return [&]<class P, class Q>(node<ops::mul, P, Q>) {
      using base = typename split_power<B>::base;
      if constexpr (std::is_same_v<typename split_power<P>::base, base>)
        return make_mul(make_mul(P{}, b), Q{});
      else if constexpr (std::is_same_v<typename split_power<Q>::base, base>)
        return make_mul(P{}, make_mul(Q{}, b));
      else
        return ordered_mul<A, B>{};
    }(a);
  } else {
    return ordered_mul<A, B>{};
  }
}

/// a^R, simplified: a⁰ = 1, a¹ = a, (aᵖ)ⁿ = a^(p·n) for integer n, (c·t)ⁿ = cⁿ·tⁿ.
template <rational R, expression A>
constexpr auto make_power(A a) {
  if constexpr (R == rational{}) {
    return constant_like<rational{1, 1}>(a);
  } else if constexpr (R == rational{1, 1}) {
    return a;
  } else if constexpr (is_constant_valued<A> && R.is_integer() && !(is_zero_valued<A> && R.num < 0)) {
    return constant_like<integer_power(constant_value<A>, R.num)>(a);
  } else if constexpr (R.is_integer() && split_power<A>::exponent != rational{1, 1}) {
    return make_power<split_power<A>::exponent * R>(typename split_power<A>::base{});
  } else if constexpr (R.is_integer() && split_coefficient<A>::coefficient != rational{1, 1} && !is_constant<A>) {
    using s = split_coefficient<A>;
    return make_mul(constant_v<integer_power(s::coefficient, R.num)>, make_power<R>(typename s::term{}));
  } else {
    return node<ops::power<R>, A>{};
  }
}

template <class Op, class... Args>
concept foldable = requires {
  Op::fold(Args::value...);
};
// Whether an elementwise Op folds on arguments that are all constants, some of them shaped.
template <class Op, class... Args>
constexpr bool folds_shaped() {
  if constexpr ((is_constant_valued<Args> && ...) && (is_shaped_constant<Args> || ...) && broadcasting_op<Op>)
    return foldable<Op, constant<constant_value<Args>>...>;
  else
    return false;
}

/// Op(args...), with constant folding where the op has an exact value on rationals (keeping the
/// broadcast shape of shaped constants).
template <class Op, expression... Args>
constexpr auto make_node(Args... args) {
  if constexpr ((is_constant<Args> && ...) && foldable<Op, Args...>) {
    constexpr auto folded = Op::fold(Args::value...);
    if constexpr (folded.has_value())
      return constant_v<*folded>;
    else
      return node<Op, Args...>{};
  } else if constexpr (folds_shaped<Op, Args...>()) {
    constexpr auto folded = Op::fold(constant_value<Args>...);
    if constexpr (folded.has_value())
      return constant_like<*folded>(args...);
    else
      return node<Op, Args...>{};
  } else if constexpr (std::is_same_v<Op, ops::detach>) {
    if constexpr (!is_differentiable<Args...>)
      return (args, ...);  // detach of data is the data
    else
      return node<Op, Args...>{};
  } else {
    return node<Op, Args...>{};
  }
}

/// where(c, a, b), simplified for a constant condition and for equal branches, keeping the
/// broadcast shape of all three.
template <class C, class A, class B>
constexpr auto make_where(C c, A a, B b) {
  if constexpr (std::is_same_v<A, B>)
    return with_shape<broadcast_witness<C, A>>(a);
  else if constexpr (is_constant_valued<C>) {
    if constexpr (constant_value<C> != rational{})
      return with_shape<broadcast_witness<C, A, B>>(a);
    else
      return with_shape<broadcast_witness<C, A, B>>(b);
  } else {
    return make_node<ops::where>(c, a, b);
  }
}

}  // namespace kobai::detail
