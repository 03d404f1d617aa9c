// Planning: a program's outputs as a sequence of loop nests over iteration classes, computed at
// compile time and checked. The steps, each in its own file:
// - ir/lowering.hpp: each node as the planner sees it (kind, arguments, axis map);
// - ir/classes.hpp: the iteration classes of the nodes' axes (a union-find);
// - ir/loop_order.hpp: the classes ordered outer to inner;
// - ir/nests.hpp: statements placed in loop nests, values computed where their classes are fixed;
// - ir/instructions.hpp: the instruction set the nests are flattened to, read by the backends;
// - ir/verify.hpp: the invariants every plan is checked against.
// Knows neither xtensor nor CUDA.
#pragma once

#include <array>
#include <cstddef>

#include "kobai/ir/classes.hpp"
#include "kobai/ir/loop_order.hpp"
#include "kobai/ir/nests.hpp"
#include "kobai/ir/uses.hpp"
#include "kobai/ir/verify.hpp"

namespace kobai::ir {

/// Plans the program computing `outputs` (SSA indices) over nodes described by `nodes`: classes,
/// loop order, nests.
template <std::size_t N, std::size_t K>
constexpr plan_data<N> make_plan(const std::array<node_info, N>& nodes, const std::array<int, K>& outputs) {
  plan_data<N> plan;
  assign_classes(plan, nodes);
  if (plan.error != failure::none) return plan;
  order_loops(plan, nodes);
  build_nests(plan, nodes, outputs);
  return plan;
}

/// The plan of a program's outputs, as ir/uses.hpp separated them.
template <class Separated>
struct separated_plan;
template <class... Outputs>
struct separated_plan<type_list<Outputs...>> {
  using order = topological_order<Outputs...>;
  static constexpr auto nodes = described<order>::value;
  static constexpr std::array<int, sizeof...(Outputs)> output_index{static_cast<int>(index_of<Outputs, order>)...};
  static constexpr plan_data<order::size> value = make_plan(nodes, output_index);
  static constexpr violation broken = value.error == failure::none ? verify(value, nodes) : violation{};
  static_assert(broken.ok(),
                "kobai internal error: the planner placed a read of a value before the statement that completes "
                "it in the same call (ir::verify names the rule, instruction and node). Please report the program.");
};

/// The plan of the program computing `Outputs`: `order` lists its nodes (with a copy of each
/// subexpression per conflicting use, ir/uses.hpp), `output_index` the outputs' SSA indices.
template <class... Outputs>
struct program_plan : separated_plan<typename uses::separated<std::remove_cvref_t<Outputs>...>::type> {
  /// The SSA index of output `Output` (one of Outputs).
  template <class Output>
  static constexpr int output_node = program_plan::output_index[kobai::detail::first_match(
      std::array<bool, sizeof...(Outputs)>{std::is_same_v<Output, std::remove_cvref_t<Outputs>>...})];
};

/// The program_plan of the outputs in a type_list.
template <class List>
struct plan_of_list;
template <class... Outputs>
struct plan_of_list<type_list<Outputs...>> {
  using type = program_plan<Outputs...>;
};

/// Number of top-level loops over the data that computing the outputs takes.
template <expression... Outputs>
constexpr std::size_t loop_count(Outputs...) {
  return static_cast<std::size_t>(program_plan<Outputs...>::value.loops);
}

}  // namespace kobai::ir
