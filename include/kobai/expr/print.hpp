// Introspection, PyTorch's grad_fn and printing: to_string (infix) and to_dot (Graphviz).
#pragma once

#include <string>
#include <string_view>

#include "kobai/core/text.hpp"
#include "kobai/expr/graph.hpp"
#include "kobai/expr/ops.hpp"

namespace kobai {
namespace detail {

enum precedence : int { sum_level = 1, product_level = 2, prefix_level = 3, power_level = 4, atom_level = 5 };

inline std::string rational_text(rational r) {
  return r.is_integer() ? std::to_string(r.num) : join(std::to_string(r.num), "/", std::to_string(r.den));
}

struct printed {
  std::string text;
  int level;
};

template <class E>
struct printer;

template <class E>
std::string print(int context) {
  auto [text, level] = printer<E>::print();
  return level < context ? join("(", text, ")") : text;
}

template <rational R>
struct printer<constant<R>> {
  static printed print() {
    if (R.num < 0) return {rational_text(R), prefix_level};
    return {rational_text(R), R.is_integer() ? atom_level : product_level};
  }
};
template <fixed_string N, int R, role K, class U, class E>
struct printer<leaf<N, R, K, U, E>> {
  static printed print() { return {std::string(N.view()), atom_level}; }
};

/// An op's name with its static parameters: sum<0, keepdims>, unsqueeze<1>.
template <class Op>
std::string op_label() {
  if constexpr (ops::reduction<Op>) {
    std::string axes;
    if constexpr (Op::axes_folded != ops::all_axes)
      for (int p = 0; p < 32; ++p)
        if (((Op::axes_folded >> p) & 1U) != 0) axes = join(axes, axes.empty() ? "" : ", ", std::to_string(p));
    if (Op::keepdims) axes = join(axes, axes.empty() ? "" : ", ", "keepdims");
    return axes.empty() ? std::string(Op::name) : join(Op::name, "<", axes, ">");
  } else if constexpr (Op::id == ops::op_id::unsqueeze || Op::id == ops::op_id::arange || Op::id == ops::op_id::take ||
                       Op::id == ops::op_id::put_add || Op::id == ops::op_id::place || Op::id == ops::op_id::cut) {
    return join(Op::name, "<", std::to_string(Op::parameter.num), ">");
  } else if constexpr (Op::id == ops::op_id::slice || Op::id == ops::op_id::unslice) {
    return join(Op::name, "<", std::to_string(Op::parameter.num), ", ", std::to_string(Op::first),
                Op::keep ? join(", ", std::to_string(Op::count)) : std::string(), ">");
  } else if constexpr (Op::id == ops::op_id::reshape_to) {
    std::string extents;
    for (const std::int64_t e : Op::extents) extents = join(extents, extents.empty() ? "" : ", ", std::to_string(e));
    return join(Op::name, "<", extents, ">");
  } else {
    return std::string(Op::name);
  }
}

template <class Op, class... Args>
struct printer<node<Op, Args...>> {
  static printed print() {
    std::string text = op_label<Op>();
    text += "(";
    bool first = true;
    ((text.append(first ? "" : ", ").append(detail::print<Args>(0)), first = false), ...);
    text += ")";
    return {text, atom_level};
  }
};

// A term printed after " - ": c·t with c < 0, or a negative constant.
template <class T>
struct negative_term : std::false_type {};
template <rational R, class T>
struct negative_term<node<ops::mul, constant<R>, T>> : std::bool_constant<(R.num < 0)> {
  using positive = std::conditional_t<R == rational{-1, 1}, T, node<ops::mul, constant<-R>, T>>;
};
template <rational R>
struct negative_term<constant<R>> : std::bool_constant<(R.num < 0)> {
  using positive = constant<-R>;
};

template <class A, class B>
struct printer<node<ops::add, A, B>> {
  static printed print() {
    if constexpr (is_constant<A> && !negative_term<B>::value) {  // constants are stored first; read them last
      return {join(detail::print<B>(sum_level), " + ", detail::print<A>(sum_level)), sum_level};
    } else if constexpr (negative_term<A>::value && !negative_term<B>::value) {  // −a + b reads b − a
      return {
          join(detail::print<B>(sum_level), " - ", detail::print<typename negative_term<A>::positive>(product_level)),
          sum_level};
    } else if constexpr (negative_term<B>::value) {
      return {
          join(detail::print<A>(sum_level), " - ", detail::print<typename negative_term<B>::positive>(product_level)),
          sum_level};
    } else {
      return {join(detail::print<A>(sum_level), " + ", detail::print<B>(sum_level)), sum_level};
    }
  }
};

template <class T>
struct reciprocal : std::false_type {};
template <class T>
struct reciprocal<node<ops::power<rational{-1, 1}>, T>> : std::true_type {
  using base = T;
};

template <class A, class B>
struct printer<node<ops::mul, A, B>> {
  static printed print() {
    if constexpr (std::is_same_v<A, constant<rational{-1, 1}>>) {
      return {join("-", detail::print<B>(prefix_level)), prefix_level};
    } else if constexpr (reciprocal<A>::value && !reciprocal<B>::value) {  // x⁻¹·b reads b/x
      return {join(detail::print<B>(product_level), "/", detail::print<typename reciprocal<A>::base>(power_level)),
              product_level};
    } else if constexpr (reciprocal<B>::value) {
      return {join(detail::print<A>(product_level), "/", detail::print<typename reciprocal<B>::base>(power_level)),
              product_level};
    } else {
      return {join(detail::print<A>(product_level), "*", detail::print<B>(product_level)), product_level};
    }
  }
};

template <rational R, class A>
struct printer<node<ops::power<R>, A>> {
  static printed print() {
    if constexpr (R == rational{1, 2})
      return {join("sqrt(", detail::print<A>(0), ")"), atom_level};
    else if constexpr (R == rational{-1, 1})
      return {join("1/", detail::print<A>(power_level)), product_level};
    else if constexpr (R.is_integer())
      return {join(detail::print<A>(power_level + 1), "^", rational_text(R)), power_level};
    else
      return {join(detail::print<A>(power_level + 1), "^(", rational_text(R), ")"), power_level};
  }
};

template <class Op, class A, class B>
requires((Op::id >= ops::op_id::lt && Op::id <= ops::op_id::ne) ||
         Op::id == ops::op_id::index_eq) struct printer<node<Op, A, B>> {
  static printed print() {
    return {join(detail::print<A>(sum_level), " ", Op::name, " ", detail::print<B>(sum_level)), 0};
  }
};

template <class E>
std::string dot_label() {
  if constexpr (is_constant<E>)
    return rational_text(E::value);
  else if constexpr (is_leaf<E>)
    return join(E::name.view(), is_var<E> ? " (var)" : " (input)");
  else if constexpr (std::is_same_v<typename E::op, ops::power<rational{1, 2}>>)
    return "sqrt";
  else if constexpr (E::op::id == ops::op_id::power)
    return join("^", rational_text(E::op::parameter));
  else if constexpr (E::op::id == ops::op_id::add)
    return "+";
  else if constexpr (E::op::id == ops::op_id::mul)
    return "*";
  else
    return op_label<typename E::op>();
}

template <class Order, class E>
void dot_node(std::string& out) {
  const std::string id = join("n", std::to_string(index_of<E, Order>));
  out.append(join("  ", id, " [label=\"", dot_label<E>(), "\"", is_leaf<E> ? ", shape=box" : "", "];\n"));
  if constexpr (is_node<E>) {
    [&]<class Op, class... Args>(node<Op, Args...>*) {
      (out.append(join("  n", std::to_string(index_of<Args, Order>), " -> ", id, ";\n")), ...);
    }(static_cast<E*>(nullptr));
  }
}

}  // namespace detail

/// A readable infix form: to_string(grad(pow<4>(x), x)) == "4*x^3".
template <expression E>
std::string to_string(E) {
  return detail::print<E>(0);
}

/// Graphviz DOT of the graph of the outputs, each distinct subexpression once (a DAG). For a grad
/// result this is the backward graph. Outputs are labelled out0, out1, ….
template <expression... Es>
std::string to_dot(Es...) {
  using order = topological_order<Es...>;
  std::string out = "digraph kobai {\n  rankdir=BT;\n";
  [&]<class... Ns>(type_list<Ns...>) { (detail::dot_node<order, Ns>(out), ...); }(order{});
  std::size_t k = 0;
  ((out.append(detail::join("  out", std::to_string(k), " [shape=doublecircle, label=\"out", std::to_string(k),
                            "\"];\n  n", std::to_string(index_of<Es, order>), " -> out", std::to_string(k), ";\n")),
    ++k),
   ...);
  out += "}\n";
  return out;
}

}  // namespace kobai
