// Symbolic reverse mode: visit the distinct subexpressions from the output back to the leaves,
// summing each node's adjoint before it is passed on, so shared subexpressions are walked once.
#pragma once

#include <array>
#include <cstddef>
#include <tuple>
#include <utility>

#include "kobai/diff/rules.hpp"
#include "kobai/expr/graph.hpp"
#include "kobai/expr/reductions.hpp"

namespace kobai::detail {

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

/// F's graph as constexpr data for the reverse sweep: each node's arguments by position, whether a
/// gradient flows from it to a target, and each node's uses (parent, argument slot) in the order
/// the sweep meets them: parents from the output down, each parent's slots left to right.
template <class Order, class Targets>
struct sweep_data {
  static constexpr std::size_t n = Order::size;
  struct facts {
    bool node = false, differentiable = false, target = false;
    std::size_t arity = 0;
    std::array<std::size_t, 3> args{};
  };
  template <class E>
  static constexpr facts facts_of() {
    facts f;
    f.target = Targets::template contains<E>;
    if constexpr (is_node<E>) {
      [&]<class Op, class... Args>(node<Op, Args...>*) {
        f.node = true;
        f.differentiable = Op::differentiable;
        f.arity = sizeof...(Args);
        std::size_t k = 0;
        ((f.args[k++] = index_of<Args, Order>), ...);
      }(static_cast<E*>(nullptr));
    }
    return f;
  }
  template <class... Ns>
  static constexpr std::array<facts, n> all_facts(type_list<Ns...>) {
    return {facts_of<Ns>()...};
  }
  static constexpr std::array<facts, n> nodes = all_facts(Order{});
  static constexpr std::array<bool, n> reaches = [] {
    std::array<bool, n> r{};
    for (std::size_t i = 0; i < n; ++i) {
      r[i] = nodes[i].target;
      if (nodes[i].node && nodes[i].differentiable)
        for (std::size_t k = 0; k < nodes[i].arity; ++k) r[i] = r[i] || r[nodes[i].args[k]];
    }
    return r;
  }();
  struct use {
    std::size_t parent = 0, slot = 0;
  };
  // Uses grouped by the node used, CSR-style: node j's are uses[first[j]] .. uses[first[j + 1]].
  struct uses_table {
    std::array<std::size_t, n + 1> first{};
    std::array<use, 3 * n + 1> uses{};
  };
  static constexpr uses_table table = [] {
    uses_table t;
    const auto used = [](std::size_t p, std::size_t k) {
      return nodes[p].node && reaches[p] && reaches[nodes[p].args[k]];
    };
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t k = 0; k < nodes[p].arity; ++k)
        if (used(p, k)) ++t.first[nodes[p].args[k] + 1];
    for (std::size_t j = 0; j < n; ++j) t.first[j + 1] += t.first[j];
    auto next = t.first;
    for (std::size_t p = n; p-- > 0;)
      for (std::size_t k = 0; k < nodes[p].arity; ++k)
        if (used(p, k)) t.uses[next[nodes[p].args[k]]++] = {p, k};
    return t;
  }();
};

/// The reverse sweep of output F seeded with Seed, towards the leaves Targets. Each node's adjoint
/// is one memoised type: the sum of what its uses contribute, in the sweep's order, each use the
/// rule of its parent's op applied to the parent's adjoint and fitted to the argument's shape.
template <class F, class Seed, class Targets>
struct sweep {
  using order = topological_order<F>;
  using data = sweep_data<order, Targets>;
  using seed = Seed;
};

template <class Sweep, std::size_t J>
struct adjoint_at;

template <class Sweep, std::size_t P, std::size_t K>
constexpr auto contribution() {
  using self = typename Sweep::order::template at<P>;
  using arg = typename Sweep::order::template at<Sweep::data::nodes[P].args[K]>;
  using g = typename adjoint_at<Sweep, P>::type;
  if constexpr (is_zero_valued<g>)
    return literal<0>;
  else
    return fit_to_argument<self, arg>(diff::rule<K>(self{}, g{}));
}

template <class Sweep, std::size_t J, std::size_t U>
struct partial_sum {
  static constexpr auto use = Sweep::data::table.uses[Sweep::data::table.first[J] + U - 1];
  using type =
      decltype(make_add(typename partial_sum<Sweep, J, U - 1>::type{}, contribution<Sweep, use.parent, use.slot>()));
};
template <class Sweep, std::size_t J>
struct partial_sum<Sweep, J, 0> {
  using type = constant<rational{}>;
};

template <class Sweep, std::size_t J>
struct adjoint_at {
  static constexpr std::size_t uses = Sweep::data::table.first[J + 1] - Sweep::data::table.first[J];
  using type =
      std::conditional_t<J + 1 == Sweep::data::n, typename Sweep::seed, typename partial_sum<Sweep, J, uses>::type>;
};

/// Adjoints of `Vars` for output F seeded with adjoint Seed. The adjoints are instantiated from the
/// output down, so each one finds its parents' already made and no instantiation recurses deeply.
template <class F, class Seed, class... Vars>
struct reverse_pass {
  using state = sweep<F, Seed, topological_order<Vars...>>;
  static constexpr std::size_t n = state::data::n;
  template <std::size_t... I>
  static constexpr bool instantiate(std::index_sequence<I...>) {
    constexpr std::array<bool, n> made{(sizeof(typename adjoint_at<state, n - 1 - I>::type) > 0)...};
    return made[0];
  }
  static_assert(instantiate(std::make_index_sequence<n>{}));
  template <class V>
  static constexpr auto adjoint() {
    if constexpr (state::order::template contains<V>)
      return typename adjoint_at<state, index_of<V, typename state::order>>::type{};
    else
      return literal<0>;
  }
};

template <class F, class Seed, class... Vars>
constexpr auto adjoints_of() {
  using pass = reverse_pass<F, Seed, Vars...>;
  if constexpr (sizeof...(Vars) == 1)
    return fit_to_variable<Vars...>(pass::template adjoint<Vars...>());
  else
    return std::tuple{fit_to_variable<Vars>(pass::template adjoint<Vars>())...};
}

template <class Leaf>
constexpr void report_input_variable() {
  static_assert(dependent_false<Leaf>,
                "kobai::grad: cannot differentiate with respect to an input<> (data, requires_grad=False); "
                "declare the leaf with var<> instead (the trace names it: leaf_named<...>)");
}

template <class... Vars>
constexpr void check_variables() {
  static_assert(sizeof...(Vars) > 0, "kobai::grad: name the variables to differentiate with respect to: grad(f, w, b)");
  static_assert((is_leaf<Vars> && ...),
                "kobai::grad: differentiate with respect to leaves such as var<\"w\">, not expressions");
  if constexpr ((is_leaf<Vars> && ...)) {
    constexpr std::size_t input = first_match(std::array<bool, sizeof...(Vars)>{is_input<Vars>...});
    if constexpr (input < sizeof...(Vars))
      report_input_variable<spelled<type_list<Vars...>::template at<input>::name>>();
  }
}

}  // namespace kobai::detail
