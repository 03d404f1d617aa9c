// The flat schedule: for programs over one shape (ir::program_plan's `flat`), the SSA program
// split into fused loops over a single flat index, with full reductions as accumulators of the
// loop that feeds them. The CUDA renderer still consumes it; the CPU executor runs ir/plan.hpp.
// Knows neither xtensor nor CUDA.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>

#include "kobai/expr/graph.hpp"
#include "kobai/expr/ops.hpp"

namespace kobai::ir {

// Phases alternate: even phases are scalar work (before, between and after loops); each odd phase
// is one fused loop over the data's elements. A tensor node runs in the first loop after its
// arguments are ready; a reduction accumulates in its argument's loop and is ready in the phase after.
template <class E>
struct phase_t;
template <class E>
inline constexpr int phase = phase_t<E>::value;

template <rational R>
struct phase_t<constant<R>> : std::integral_constant<int, 0> {};
template <fixed_string N, int R, role K>
struct phase_t<leaf<N, R, K>> : std::integral_constant<int, R == 0 ? 0 : 1> {};
template <class... As>
struct phase_t<node<ops::numel, As...>> : std::integral_constant<int, 0> {};  // known from shapes
/// A reduction the executor accumulates inside a loop: it folds partial results with `combine`.
template <class Op>
concept accumulated = requires {
  Op::combine(0.0, 0.0);
};
template <class Op, class... Args>
struct phase_t<node<Op, Args...>> {
  static constexpr int ready = std::max({0, phase<Args>...});
  static constexpr int value = accumulated<Op>                ? ready + 1  // ready after its loop
                               : node<Op, Args...>::rank == 0 ? ready
                                                              : (ready % 2 == 1 ? ready : ready + 1);
};

/// Whether a node runs inside a loop (it has elements) rather than once.
template <class E>
inline constexpr bool in_loop = (E::rank > 0);

/// Whether a node is a reduction accumulated in loop `Loop`.
template <class E, int Loop>
struct accumulates_in : std::false_type {};
template <class Op, class A, int Loop>
requires accumulated<Op>
struct accumulates_in<node<Op, A>, Loop> : std::bool_constant<phase<A> == Loop> {
};

// The arguments whose values a node reads (numel reads none; expand reads only its first).
template <class E>
struct value_arguments {
  using type = type_list<>;
};
template <class Op, class... Args>
struct value_arguments<node<Op, Args...>> {
  using type = type_list<Args...>;
};
template <class... As>
struct value_arguments<node<ops::numel, As...>> {
  using type = type_list<>;
};
template <class G, class Like>
struct value_arguments<node<ops::expand, G, Like>> {
  using type = type_list<G>;
};

namespace detail {

template <class List, class... Es>
struct closure;
template <class List>
struct closure<List> {
  using type = List;
};
template <class List, class E, class... Rest>
struct closure<List, E, Rest...> {
  template <class L>
  struct visit_arguments;
  template <class... As>
  struct visit_arguments<type_list<As...>> {
    using type = typename closure<List, As...>::type;
  };
  using with_arguments = std::conditional_t<!in_loop<E> || list_contains<List, E>, List,
                                            typename visit_arguments<typename value_arguments<E>::type>::type>;
  using with_self = std::conditional_t<!in_loop<E> || list_contains<with_arguments, E>, with_arguments,
                                       type_list_append<with_arguments, E>>;
  using type = typename closure<with_self, Rest...>::type;
};

template <int Loop, class Outputs, class Order>
struct roots;
template <int Loop, class... Outputs, class... Ns>
struct roots<Loop, type_list<Outputs...>, type_list<Ns...>> {
  template <class E>
  using keep_output = std::bool_constant<in_loop<E> && phase<E> == Loop>;
  template <class E>
  using keep_reduction = accumulates_in<E, Loop>;
  using outputs = typename kobai::detail::filter<keep_output, type_list<Outputs...>>::type;
  using reductions = typename kobai::detail::filter<keep_reduction, type_list<Ns...>>::type;
};

template <class Sums>
struct reduced_arguments;
template <class... Ss>
struct reduced_arguments<type_list<Ss...>> {
  using type = type_list<typename value_arguments<Ss>::type::template at<0>...>;
};

template <class... Lists>
struct unpack_closure;
template <class... As>
struct unpack_closure<type_list<As...>> {
  using type = typename closure<type_list<>, As...>::type;
};

}  // namespace detail

/// One fused loop: the tensor nodes computed per element (in order), the tensor outputs it
/// stores and the reductions it accumulates.
template <int Phase, class Outputs, class Order>
struct loop {
  static constexpr int phase = Phase;
  using roots = detail::roots<Phase, Outputs, Order>;
  using outputs = typename roots::outputs;        // tensor outputs stored by this loop
  using reductions = typename roots::reductions;  // accumulators of this loop
  using body = typename detail::unpack_closure<
      type_list_concat<outputs, typename detail::reduced_arguments<reductions>::type>>::type;
};

/// The schedule of a program computing `Outputs...`.
template <class... Outputs>
struct schedule {
  using order = topological_order<Outputs...>;  // the SSA program
  using outputs = type_list<std::remove_cvref_t<Outputs>...>;

  static constexpr int last_phase = [] {
    return [&]<class... Ns>(type_list<Ns...>) { return std::max({0, phase<Ns>...}); }(order{});
  }();
  /// The odd phases that have work: each is one loop over the data.
  static constexpr auto loop_phases = [] {
    std::array<int, static_cast<std::size_t>(last_phase / 2 + 1)> phases{};
    std::size_t count = 0;
    for (int p = 1; p <= last_phase; p += 2) {
      const bool used = [&]<class... Ns>(type_list<Ns...>) {
        return ((in_loop<Ns> && kobai::ir::phase<Ns> == p) || ...);
      }(order{});
      if (used) phases[count++] = p;
    }
    return std::pair{phases, count};
  }();
  static constexpr std::size_t loop_count = loop_phases.second;
  template <std::size_t K>
  using loop_at = loop<loop_phases.first[K], outputs, order>;
};

}  // namespace kobai::ir
