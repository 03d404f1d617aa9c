// Symbolic reverse mode: visit the distinct subexpressions from the output back to the leaves,
// summing each node's adjoint before it is passed on, so shared subexpressions are walked once.
#pragma once

#include <cstddef>

#include "kobai/diff/rules.hpp"
#include "kobai/expr/graph.hpp"
#include "kobai/expr/reductions.hpp"

namespace kobai::detail {

template <class Node, class Adjoint>
struct adjoint_entry {};
template <class... Entries>
struct adjoint_table {};

template <class N, class Table>
struct adjoint_of {
  using type = constant<rational{}>;
};
template <class N, class G, class... Es>
struct adjoint_of<N, adjoint_table<adjoint_entry<N, G>, Es...>> {
  using type = G;
};
template <class N, class E, class... Es>
struct adjoint_of<N, adjoint_table<E, Es...>> : adjoint_of<N, adjoint_table<Es...>> {};

template <bool Match, class Adjoint, class Contribution>
struct sum_if {
  using type = Adjoint;
};
template <class Adjoint, class Contribution>
struct sum_if<true, Adjoint, Contribution> {
  using type = decltype(make_add(Adjoint{}, Contribution{}));
};

template <class N, class Contribution, class Table>
struct accumulate;
template <class N, class C, class... Ns, class... Gs>
struct accumulate<N, C, adjoint_table<adjoint_entry<Ns, Gs>...>> {
  using type =
      std::conditional_t<(std::is_same_v<N, Ns> || ...),
                         adjoint_table<adjoint_entry<Ns, typename sum_if<std::is_same_v<N, Ns>, Gs, C>::type>...>,
                         adjoint_table<adjoint_entry<Ns, Gs>..., adjoint_entry<N, C>>>;
};

// Whether a gradient flows from E to one of the targets.
template <class E, class Targets>
struct reaches_t : std::bool_constant<list_contains<Targets, E>> {};
template <class Op, class... Args, class Targets>
struct reaches_t<node<Op, Args...>, Targets>
    : std::bool_constant<Op::differentiable && (reaches_t<Args, Targets>::value || ...)> {};
template <class E, class Targets>
inline constexpr bool reaches = reaches_t<E, Targets>::value;

/// The axes along which Arg was broadcast in Self, as masks over C's axes (C is broadcastable
/// to Self): `removed` are C's axes that Arg lacks, `kept` those where Arg has a unit; `expand`
/// says C itself is broadcast along such an axis, so it has to be expanded before it is summed.
template <class Self, class Arg, class C>
struct broadcast_axes {
  static constexpr auto masks = [] {
    struct result {
      std::uint32_t removed = 0, kept = 0;
      bool expand = false;
    } r;
    for (int p = 0; p < Self::rank; ++p) {
      const int q = p - (Self::rank - Arg::rank), pc = p - (Self::rank - C::rank);
      const bool arg_broadcast = q < 0 || ((Arg::units >> q) & 1U) != 0;
      if (!arg_broadcast || ((Self::units >> p) & 1U) != 0) continue;
      if (pc < 0 || ((C::units >> pc) & 1U) != 0)
        r.expand = true;
      else if (q < 0)
        r.removed |= 1U << pc;
      else
        r.kept |= 1U << pc;
    }
    return r;
  }();
};

/// The adjoint an argument receives has the argument's shape (or broadcasts to it): where the
/// argument was broadcast in the node, the contribution is summed over the broadcast axes. A
/// scalar contribution c stands for c at every element of the node, which sums to
/// c·numel(node)/numel(argument) at each element of the argument.
template <class Self, class Arg, class C>
constexpr auto fit_to_argument(C contribution) {
  if constexpr (is_zero_valued<C>) {
    return literal<0>;
  } else if constexpr (same_structure<Self, Arg> || !broadcasting_op<typename Self::op>) {
    return contribution;
  } else if constexpr (C::rank == 0) {
    return contribution * numel(Self{}) / numel(Arg{});
  } else {
    constexpr auto axes = broadcast_axes<Self, Arg, C>::masks;
    if constexpr (axes.expand) {
      return fit_to_argument<Self, Arg>(make_node<ops::expand>(contribution, Self{}));
    } else {
      const auto kept = sum_axes<axes.kept, true>(contribution);
      return sum_axes<axes.removed, false>(kept);
    }
  }
}

/// A var's gradient has the var's shape: a scalar or broadcast adjoint is expanded to it, and a
/// tensor var the function does not use gets zeros of its shape.
template <class Var, class Adjoint>
constexpr auto fit_to_variable(Adjoint adjoint) {
  if constexpr (is_zero_valued<Adjoint>)
    return constant_like<rational{}>(Var{});
  else if constexpr (!same_structure<Adjoint, Var>)
    return make_node<ops::expand>(adjoint, Var{});
  else
    return adjoint;
}

template <bool Reaches, class Arg, std::size_t K, class Self, class G, class Table>
struct contribute {
  using type = Table;
};
template <class Arg, std::size_t K, class Self, class G, class Table>
struct contribute<true, Arg, K, Self, G, Table> {
  using type = typename accumulate<Arg, decltype(fit_to_argument<Self, Arg>(diff::rule<K>(Self{}, G{}))), Table>::type;
};

template <class Targets, class Self, class G, class Table, std::size_t K, class... Args>
struct propagate {
  using type = Table;
};
template <class Targets, class Self, class G, class Table, std::size_t K, class Arg, class... Rest>
struct propagate<Targets, Self, G, Table, K, Arg, Rest...> {
  using next = typename contribute<reaches<Arg, Targets>, Arg, K, Self, G, Table>::type;
  using type = typename propagate<Targets, Self, G, next, K + 1, Rest...>::type;
};

template <bool Active, class Targets, class Table, class N, class G>
struct backward_step {
  using type = Table;
};
template <class Targets, class Table, class Op, class... Args, class G>
struct backward_step<true, Targets, Table, node<Op, Args...>, G> {
  using type = typename propagate<Targets, node<Op, Args...>, G, Table, 0, Args...>::type;
};

template <class Targets, class Table, class... Pending>
struct sweep {
  using type = Table;
};
template <class Targets, class Table, class N, class... Rest>
struct sweep<Targets, Table, N, Rest...> {
  using g = typename adjoint_of<N, Table>::type;
  using after =
      typename backward_step<is_node<N> && !is_zero_valued<g> && reaches<N, Targets>, Targets, Table, N, g>::type;
  using type = typename sweep<Targets, after, Rest...>::type;
};

template <class List, class Reversed = type_list<>>
struct reverse_list {
  using type = Reversed;
};
template <class T, class... Ts, class... Rs>
struct reverse_list<type_list<T, Ts...>, type_list<Rs...>> : reverse_list<type_list<Ts...>, type_list<T, Rs...>> {};

template <class Targets, class Table, class Order>
struct run_sweep;
template <class Targets, class Table, class... Ns>
struct run_sweep<Targets, Table, type_list<Ns...>> : sweep<Targets, Table, Ns...> {};

/// Adjoints of `Vars` for output F seeded with adjoint Seed.
template <class F, class Seed, class... Vars>
struct reverse_pass {
  using targets = type_list<Vars...>;
  using order = typename reverse_list<topological_order<F>>::type;
  using table = typename run_sweep<targets, adjoint_table<adjoint_entry<F, Seed>>, order>::type;
  template <class V>
  using adjoint = typename adjoint_of<V, table>::type;
};

template <class F, class Seed, class... Vars>
constexpr auto adjoints_of() {
  using pass = reverse_pass<F, Seed, Vars...>;
  if constexpr (sizeof...(Vars) == 1)
    return fit_to_variable<Vars...>(typename pass::template adjoint<Vars...>{});
  else
    return std::tuple{fit_to_variable<Vars>(typename pass::template adjoint<Vars>{})...};
}

template <class... Vars>
constexpr void check_variables() {
  static_assert(sizeof...(Vars) > 0, "kobai::grad: name the variables to differentiate with respect to: grad(f, w, b)");
  static_assert((is_leaf<Vars> && ...),
                "kobai::grad: differentiate with respect to leaves such as var<\"w\">, not expressions");
  static_assert(!(is_input<Vars> || ...),
                "kobai::grad: cannot differentiate with respect to an input<> (data, requires_grad=False); "
                "declare the leaf with var<> instead");
}

}  // namespace kobai::detail
