// The plan's invariants, checked at compile time for every program: a value is read only where it
// is complete in the same call, so that no plan can read memory left by the previous call.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <tuple>

#include "kobai/ir/instructions.hpp"

namespace kobai::ir {

/// What a plan breaks, and where: the first instruction whose read is out of place.
struct violation {
  enum class rule : std::uint8_t {
    none,
    value_out_of_scope,    // a computed value read before, or outside the loops of, its compute
    buffer_not_complete,   // a stored value read before the loop that completes it has ended
    buffer_out_of_scope,   // a local stored value read outside the iteration that completes it
    local_read_at_root,    // a value outside every loop reads a stored value that is not global
    accumulate_misplaced,  // a stored value accumulated outside its completing loop, or twice
    reset_misplaced,       // a stored value not reset once, right before the loop that completes it
    scope_mismatch,        // a reduction marked global but completed inside a loop, or local but not
    view_not_written,      // a written-out view read before the loop that writes it has ended
    loops_not_nested,      // an exit that is not its enter's match, or a loop left open
  };
  rule broken = rule::none;
  int instruction = -1;
  int node = -1;
  constexpr bool ok() const { return broken == rule::none; }
};

namespace planning {
template <std::size_t N>
struct loop_nesting {
  std::array<int, std::tuple_size_v<decltype(plan_data<N>::code)>> inner{};  // enclosing `enter`, or -1
  bool nested = true;  // false: an exit that is not its enter's match, or a loop left open
};
// Each instruction's innermost enclosing loop (its `enter`), or -1 at the top level.
template <std::size_t N>
constexpr loop_nesting<N> enclosing_loops(const plan_data<N>& plan) {
  loop_nesting<N> result;
  auto& inner = result.inner;
  std::array<int, max_classes + 1> open{};
  int depth = 0;
  for (int i = 0; i < plan.size; ++i) {
    const instruction& ins = plan.code[static_cast<std::size_t>(i)];
    if (ins.op == instr::exit) {
      if (depth == 0 || plan.code[static_cast<std::size_t>(open[depth - 1])].match != i ||
          ins.match != open[depth - 1]) {
        result.nested = false;
        return result;
      }
      --depth;
    }
    inner[static_cast<std::size_t>(i)] = depth == 0 ? -1 : open[depth - 1];
    if (ins.op == instr::enter) {
      if (depth == max_classes + 1) {
        result.nested = false;
        return result;
      }
      open[depth++] = i;
    }
  }
  result.nested = depth == 0;
  return result;
}
}  // namespace planning

/// Checks that every read in the plan comes after the statement that completes what it reads, in
/// the same iteration of every loop they share.
template <std::size_t N>
constexpr violation verify(const plan_data<N>& plan, const std::array<node_info, N>& nodes) {
  const auto code = [&](int i) -> const instruction& { return plan.code[static_cast<std::size_t>(i)]; };
  // Loops nest, so every loop around instruction `inner_of` also encloses `at` exactly when the
  // innermost one does: one table lookup per read, not a scan of the code before it.
  const auto nesting = planning::enclosing_loops(plan);
  if (!nesting.nested) return {violation::rule::loops_not_nested, 0, -1};
  const auto& inner = nesting.inner;
  const auto in_scope_of = [&](int inner_of, int at) {
    const int loop = inner[static_cast<std::size_t>(inner_of)];
    return loop < 0 || (loop < at && at < code(loop).match);
  };
  const auto computed_source = [&](int view) {
    return nodes[static_cast<std::size_t>(nodes[static_cast<std::size_t>(view)].args[0])].k != kind::tensor_leaf;
  };
  const auto source_written = [&](int view) {  // the materialize, or the end of its top-level loop
    int written = -1;
    for (int m = 0; m < plan.size; ++m)
      if (code(m).op == instr::materialize && code(m).node == view) {
        written = m;
        for (int p = 0; p < m; ++p)
          if (code(p).op == instr::enter && code(p).depth == 0 && code(p).match > m) written = code(p).match;
      }
    return written;
  };
  const auto filled = [&](int view) {  // the first indirect instruction filling it
    for (int m = 0; m < plan.size; ++m)
      if (code(m).op == instr::indirect && code(m).node == view) return m;
    return -1;
  };
  // Stored values in the plan: one accumulate, inside the loop whose end completes them, and one
  // reset, among the resets right before that loop; a reduction is global (folded across tasks,
  // read from its folded result) exactly when that loop is a top-level one.
  std::array<bool, N> accumulated{};
  for (int r = 0; r < static_cast<int>(N); ++r) {
    if (!stored(plan, nodes, r)) continue;
    const int done = plan.done[static_cast<std::size_t>(r)];
    int accumulates = 0, resets = 0, last = -1;
    for (int i = 0; i < plan.size; ++i) {
      if (code(i).op == instr::accumulate && code(i).node == r) {
        last = i;
        if (++accumulates > 1 || code(done).op != instr::enter || !(done < i && i < code(done).match))
          return {violation::rule::accumulate_misplaced, i, r};
      }
      if (code(i).op == instr::reset && code(i).node == r) {
        bool adjacent = i < done;
        for (int j = i + 1; j < done && adjacent; ++j) adjacent = code(j).op == instr::reset;
        if (++resets > 1 || !adjacent) return {violation::rule::reset_misplaced, i, r};
      }
    }
    if (accumulates > 0 && resets == 0) return {violation::rule::reset_misplaced, last, r};
    accumulated[static_cast<std::size_t>(r)] = accumulates > 0;
    if (accumulates > 0 && nodes[static_cast<std::size_t>(r)].k == kind::reduction &&
        plan.global[static_cast<std::size_t>(r)] != (code(done).depth == 0))
      return {violation::rule::scope_mismatch, last, r};
  }
  for (int i = 0; i < plan.size; ++i) {
    for (const operand& o : code(i).operands) {
      if (o.s == source::value) {
        if (o.item < 0 || o.item >= i || code(o.item).op != instr::compute || code(o.item).node != o.node ||
            !in_scope_of(o.item, i))
          return {violation::rule::value_out_of_scope, i, o.node};
      } else if (o.s == source::reduction) {
        const auto r = static_cast<std::size_t>(o.node);
        if (!stored(plan, nodes, o.node) || !accumulated[r]) return {violation::rule::buffer_not_complete, i, o.node};
        const int done = plan.done[r];
        if (code(done).op != instr::enter || code(done).match >= i)
          return {violation::rule::buffer_not_complete, i, o.node};
        if (!plan.global[r] && code(i).depth == 0) return {violation::rule::local_read_at_root, i, o.node};
        if (!in_scope_of(done, i)) return {violation::rule::buffer_out_of_scope, i, o.node};
      } else if (o.s == source::view && (nodes[static_cast<std::size_t>(o.node)].indirect || computed_source(o.node))) {
        const int written = nodes[static_cast<std::size_t>(o.node)].indirect ? filled(o.node) : source_written(o.node);
        if (written < 0 || written >= i) return {violation::rule::view_not_written, i, o.node};
      }
    }
    // an indirect view is filled outside every loop, once, after its computed source is written
    if (code(i).op == instr::indirect &&
        (code(i).depth != 0 || filled(code(i).node) != i || !nodes[static_cast<std::size_t>(code(i).node)].indirect ||
         (computed_source(code(i).node) && (source_written(code(i).node) < 0 || source_written(code(i).node) >= i))))
      return {violation::rule::view_not_written, i, code(i).node};
  }
  return {};
}

}  // namespace kobai::ir
