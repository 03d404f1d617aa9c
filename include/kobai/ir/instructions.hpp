// The planner's instruction set and the plan it produces: loops over iteration classes, and the
// statements and values inside them, in execution order; and what the backends ask of a plan.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "kobai/ir/lowering.hpp"

namespace kobai::ir {

enum class instr : std::uint8_t { enter, exit, compute, accumulate, store, reset, materialize, indirect };
enum class source : std::uint8_t { none, constant, scalar_leaf, tensor_leaf, reduction, value, view };

struct operand {
  source s = source::none;
  int node = -1;  // SSA index of the node read
  int item = -1;  // source::value: the instruction that computed it
};

/// One instruction of a planned program. `enter` opens the loop over class `cls` (its `exit` is
/// `match`); `compute` evaluates elementwise node `node` from its operands; `accumulate` folds the
/// value of a reduction's argument into it; `store` writes a tensor output; `reset` starts a
/// reduction over (just before the loop whose end completes it); `materialize` writes the value of
/// a view's source (flatten, reshape, a take's table) to memory in row-major order, for loops after
/// its own; `indirect`, outside every loop, fills a take's or put_add's memory from its source's.
struct instruction {
  instr op = instr::compute;
  int node = -1;
  int cls = -1;
  int match = -1;
  int depth = 0;  // loops around this instruction
  std::array<operand, 3> operands{};
};

enum class failure : std::uint8_t { none, axis_conflict, too_many_axes, too_many_classes, too_large };

/// The iteration classes of a program's nodes (ir/classes.hpp), or why there are none.
template <std::size_t N>
struct class_data {
  failure error = failure::none;
  int conflict_node = -1;    // axis_conflict: the node with two axes of one class
  int conflict_source = -1;  // and the subexpression read along both (a leaf, or x − μ)
  int classes = 0;
  std::array<std::array<int, max_axes>, N> cls{};  // class of each axis of each node, -1 for a unit
};

template <std::size_t N>
struct plan_data : class_data<N> {
  std::array<int, max_classes> position{};  // class → place in the loop order (0 outermost)
  // reductions
  std::array<bool, N> global{};                // completes only after a whole top-level loop
  std::array<std::uint64_t, N> buffer_dims{};  // classes (bits by class id) that index its buffer
  std::array<int, N> done{};                   // the `enter` of the loop whose end completes it
  // Costly elementwise values that a loop over a class they lack would recompute: they are
  // computed once into a buffer, like a reduction with one term (reset to 0, then accumulated).
  std::array<bool, N> cached{};
  std::array<instruction, 2 * (8 * N + 8) + N> code{};  // an enter and an exit per loop, a reset per reduction
  int size = 0;
  int loops = 0;  // top-level loops
};

/// The classes of node n's axes, as a bit set by class id (unit axes have none).
template <class Plan, class Nodes>  // (a plan_data<N> and its nodes, or views of them: codegen::plan_view)
constexpr std::uint64_t classes_of(const Plan& plan, const Nodes& nodes, int n) {
  std::uint64_t bits = 0;
  for (int p = 0; p < nodes[static_cast<std::size_t>(n)].rank; ++p) {
    const int c = plan.cls[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)];
    if (c >= 0) bits |= std::uint64_t{1} << c;
  }
  return bits;
}

/// Whether node n's value is held in a buffer: reductions, and costly values computed once.
template <class Plan, class Nodes>
constexpr bool stored(const Plan& plan, const Nodes& nodes, int n) {
  return nodes[static_cast<std::size_t>(n)].k == kind::reduction || plan.cached[static_cast<std::size_t>(n)];
}

/// Whether node n is written to memory by a loop (a stored output, a written-out view), rather than
/// read from a buffer or a leaf when it is an output.
template <std::size_t N>
constexpr bool written(const plan_data<N>& plan, int n) {
  for (int i = 0; i < plan.size; ++i) {
    const instruction& ins = plan.code[static_cast<std::size_t>(i)];
    if ((ins.op == instr::store || ins.op == instr::materialize || ins.op == instr::indirect) && ins.node == n)
      return true;
  }
  return false;
}

/// The instruction computing node n outside every loop, or -1.
template <class Plan>
constexpr int root_instruction(const Plan& plan, int n) {
  for (int i = 0; i < plan.size; ++i) {
    const instruction& ins = plan.code[static_cast<std::size_t>(i)];
    if (ins.op == instr::compute && ins.depth == 0 && ins.node == n) return i;
  }
  return -1;
}

/// The value of scalar output `Output` (of kind K) that no loop stores, for either backend: a
/// constant, a scalar leaf from `point`, a global reduction's folded value (`folded()`), or the
/// value computed outside every loop (`root()`).
template <class Output, kind K, class Point, class Folded, class Root>
double scalar_output(const Point& point, Folded folded, Root root) {
  if constexpr (K == kind::constant)
    return Output::value.value();
  else if constexpr (K == kind::scalar_leaf)
    return static_cast<double>(point.template get<Output::name>());
  else if constexpr (K == kind::reduction)
    return folded();
  else
    return root();
}

}  // namespace kobai::ir
