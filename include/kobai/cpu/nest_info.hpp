// The CPU executor's view of a planned program (ir/plan.hpp): the first layer of cpu::program.
// The layers, each a class template over the program's key (expr/program_key.hpp: a short name for
// its outputs) deriving from the one before:
//   nest_info (this file) → layout (cpu/layout.hpp: per-call extents, strides, buffers) →
//   addressing (cpu/addressing.hpp: offsets, cursors, SIMD gather/scatter) → folds (cpu/folds.hpp:
//   moving accumulators into double partials) → interpreter (cpu/interpreter.hpp: one interpreter
//   over the access modes) → tasks (cpu/tasks.hpp: top-level loops split into tasks) → outputs
//   (cpu/outputs.hpp) → program (cpu/program.hpp: the user's API).
// Each layer names what it takes from the one below with the KOBAI_CPU_* using-declarations at the
// end of that layer's file.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kobai/expr/graph.hpp"
#include "kobai/expr/program_key.hpp"
#include "kobai/ir/plan.hpp"

namespace kobai::cpu {

/// The planned program as the executor reads it: the plan's instructions and nodes, and the
/// questions every layer asks of them (is a node stored, does a loop complete a reduction, how
/// does a top-level loop run), all answered at compile time.
template <class Key>
struct nest_info {
  using outputs_list = kobai::detail::key_outputs<Key>;  // the outputs, a type_list (expr/program_key.hpp)
  using plan_type = typename ir::plan_of_list<outputs_list>::type;
  using order = typename plan_type::order;
  static constexpr auto plan = plan_type::value;
  static constexpr std::size_t nodes = order::size;
  static constexpr int classes = plan.classes;
  static constexpr std::size_t code_size = static_cast<std::size_t>(plan.size);
  // By reference: the planner's tables are read in place, not copied per question (GCC's constant
  // evaluator allocates a copy of each aggregate returned by value, and its garbage collector
  // slows down with the garbage).
  static constexpr const ir::instruction& code(int i) { return plan.code[static_cast<std::size_t>(i)]; }
  template <int N>
  using node_at = typename order::template at<static_cast<std::size_t>(N)>;
  static constexpr const ir::node_info& info(int n) { return plan_type::nodes[static_cast<std::size_t>(n)]; }
  // Nodes held in buffers: reductions, and costly values the plan computes once (one sum term each).
  static constexpr bool stored(int n) { return ir::stored(plan, plan_type::nodes, n); }
  template <int N>
  using reducer = std::conditional_t<info(N).k == ir::kind::reduction, typename node_at<N>::op, ops::sum>;
  static constexpr std::size_t output_count = outputs_list::size;
  static constexpr std::array<int, output_count> output_node = plan_type::output_index;
  static constexpr std::uint64_t classes_of(int n) { return ir::classes_of(plan, plan_type::nodes, n); }
  static constexpr bool is_output(int n) {
    for (int o : output_node)
      if (o == n) return true;
    return false;
  }
  // An output view is written in place, in the output's memory; a scalar output has none.
  static constexpr bool in_output(int n) { return is_output(n) && info(n).rank > 0; }
  static constexpr std::size_t output_slot(int n) {
    for (std::size_t k = 0; k < output_count; ++k)
      if (output_node[k] == n) return k;
    return 0;
  }
  static constexpr int axis_of(int n, int c) {
    for (int p = 0; p < info(n).rank; ++p)
      if (plan.cls[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)] == c) return p;
    return -1;
  }
  static constexpr bool innermost(int enter) {
    for (int i = enter + 1; i < code(enter).match; ++i)
      if (code(i).op == ir::instr::enter) return false;
    return true;
  }
  // The nodes the body of the loop entered at I reads or writes in memory (leaves, reduction
  // buffers, views, outputs), by SSA index: computed once per loop in one pass over its body.
  static constexpr std::array<bool, nodes> touched_by(int enter) {
    std::array<bool, nodes> flags{};
    for (int j = enter + 1; j < code(enter).match; ++j) {
      const ir::instruction& ins = code(j);
      if (ins.op == ir::instr::accumulate || ins.op == ir::instr::store || ins.op == ir::instr::materialize)
        flags[static_cast<std::size_t>(ins.node)] = true;
      for (const auto& o : ins.operands)
        if (o.s == ir::source::tensor_leaf || o.s == ir::source::reduction || o.s == ir::source::view)
          flags[static_cast<std::size_t>(o.node)] = true;
    }
    return flags;
  }
  static constexpr std::array<bool, nodes> stored_flags() {
    std::array<bool, nodes> flags{};
    for (std::size_t n = 0; n < nodes; ++n) flags[n] = stored(static_cast<int>(n));
    return flags;
  }
  // The SSA indices whose flags are set, in order (to iterate over them alone). The flags are a
  // function argument, not a std::array template argument: GCC 12 gave loops another loop's list
  // that way (wrong results in tests/cpu/tensor_algebra.cpp and the fuzzer's programs).
  static constexpr std::size_t count_of(const std::array<bool, nodes>& flags) {
    return static_cast<std::size_t>(std::count(flags.begin(), flags.end(), true));
  }
  template <std::size_t Count>
  static constexpr std::array<int, Count> indices_of(const std::array<bool, nodes>& flags) {
    std::array<int, Count> result{};
    std::size_t k = 0;
    for (std::size_t n = 0; n < nodes; ++n)
      if (flags[n]) result[k++] = static_cast<int>(n);
    return result;
  }
  template <int I>
  static constexpr std::array<bool, nodes> touched = touched_by(I);
  template <int I>
  static constexpr auto touched_nodes = indices_of<count_of(touched<I>)>(touched<I>);
  static constexpr auto stored_nodes = indices_of<count_of(stored_flags())>(stored_flags());
  template <int I>
  static constexpr bool completes(int r) {
    return plan.global[static_cast<std::size_t>(r)] && plan.done[static_cast<std::size_t>(r)] == I;
  }
  /// Whether the loop entered at I may run its rows in blocks (cpu/interpreter.hpp, block mode): a
  /// top-level loop with inner loops.
  static constexpr bool block_capable(int enter) { return code(enter).depth == 0 && !innermost(enter); }
  /// Whether the top-level loop entered at `enter` folds a reduction of its own rows inside its
  /// inner loops (a dot product, a contraction, a row's logsumexp: an accumulate into a local
  /// buffer). Without one its inner loops are maps, which gain nothing from rows in blocks unless
  /// they are short (a 2-D elementwise grid runs row by row, with SIMD along its contiguous rows).
  static constexpr bool reduces_rows(int enter) {
    for (int i = enter + 1; i < code(enter).match; ++i)
      if (code(i).op == ir::instr::accumulate && code(i).depth > 0 &&
          !plan.global[static_cast<std::size_t>(code(i).node)])
        return true;
    return false;
  }
  // In block mode each value computed inside a top-level loop has a slot of block_batches batches,
  // numbered from 0 in each top-level loop.
  static constexpr std::array<int, code_size + 1> value_slots = [] {
    std::array<int, code_size + 1> slot{};
    int next = 0;
    for (int i = 0; i < static_cast<int>(code_size); ++i) {
      if (code(i).depth == 0) next = 0;
      if (code(i).op == ir::instr::compute && code(i).depth > 0) slot[static_cast<std::size_t>(i)] = next++;
    }
    return slot;
  }();
  static constexpr std::size_t value_slot(int i) {
    return static_cast<std::size_t>(value_slots[static_cast<std::size_t>(i)]);
  }
  static constexpr std::size_t max_value_slots = [] {
    int most = 0;
    for (int slot : value_slots) most = std::max(most, slot + 1);
    return static_cast<std::size_t>(most);
  }();

  // In block mode an innermost loop over class c keeps the reductions it folds (an accumulate
  // whose buffer lacks c: a dot product, a row's logsumexp) in registers across its iterations.
  static constexpr bool folds_in_registers(int accumulate, int enter) {
    return code(accumulate).op == ir::instr::accumulate &&
           ((plan.buffer_dims[static_cast<std::size_t>(code(accumulate).node)] >> code(enter).cls) & 1U) == 0;
  }
  // A two-level nest (block mode runs those below as register tiles): the loop entered at
  // `enter`, inside a top-level loop, holds statements of its own (values, accumulates), one
  // innermost loop, which holds values and one accumulate, and after it statements that read
  // nothing the loop or the statements before it compute (they run once the tile is done, as a
  // Gaussian mixture's Σ_j y[j]² after y = Q·(x − μ)). The inner loop's enter, or -1.
  static constexpr int inner_loop(int enter) {
    const ir::instruction& outer = code(enter);
    if (outer.op != ir::instr::enter || outer.depth == 0 || innermost(enter)) return -1;
    int inner = enter + 1;
    while (code(inner).op != ir::instr::enter) ++inner;
    if (!innermost(inner)) return -1;
    for (int i = code(inner).match + 1; i < outer.match; ++i) {
      if (code(i).op == ir::instr::enter) return -1;
      for (const ir::operand& o : code(i).operands)
        if (o.s == ir::source::value && o.item > enter && o.item < code(inner).match) return -1;
    }
    int accumulates = 0;
    for (int i = inner + 1; i < code(inner).match; ++i) {
      if (code(i).op == ir::instr::accumulate)
        ++accumulates;
      else if (code(i).op != ir::instr::compute)
        return -1;
    }
    return accumulates == 1 ? inner : -1;
  }
  // The inner loop's accumulate of the two-level nest at `enter`, or -1.
  static constexpr int two_level_accumulate(int enter) {
    const int inner = inner_loop(enter);
    if (inner < 0) return -1;
    int i = inner + 1;
    while (code(i).op != ir::instr::accumulate) ++i;
    return i;
  }
  // The first statement after the inner loop of the two-level nest at `enter`.
  static constexpr int after_inner_loop(int enter) { return code(inner_loop(enter)).match + 1; }
  static constexpr bool indexes(int r, int cls) {
    return ((plan.buffer_dims[static_cast<std::size_t>(r)] >> cls) & 1U) != 0;
  }
  static constexpr bool only_computes(int from, int to) {
    for (int i = from; i < to; ++i)
      if (code(i).op != ir::instr::compute) return false;
    return true;
  }
  /// A contraction: a two-level nest over k and j whose outer loop holds only values and whose
  /// accumulate sums over k into a local reduction indexed by j, as z[n, j] = Σ_k x[n, k]·W[k, j]
  /// per row. Its accumulate, or -1.
  static constexpr int contraction(int enter) {
    const int found = two_level_accumulate(enter);
    if (found < 0 || !only_computes(enter + 1, inner_loop(enter))) return -1;
    const int r = code(found).node, j = code(inner_loop(enter)).cls;
    return !plan.global[static_cast<std::size_t>(r)] && info(r).k == ir::kind::reduction && indexes(r, j) &&
                   !indexes(r, code(enter).cls)
               ? found
               : -1;
  }
  /// A dot nest: a two-level nest over j and k whose outer loop only resets its reduction and whose
  /// accumulate sums over k into a local reduction, as a[n, j] = Σ_k g[n, k]·W[j, k] per row (the
  /// gradient through a layer), indexed by j or read for each j by the statements after the inner
  /// loop. Its accumulate, or -1.
  static constexpr int dot_nest(int enter) {
    const int found = two_level_accumulate(enter);
    if (found < 0) return -1;
    const int r = code(found).node, inner = inner_loop(enter);
    for (int i = enter + 1; i < inner; ++i)
      if (code(i).op != ir::instr::reset || code(i).node != r) return -1;
    return !plan.global[static_cast<std::size_t>(r)] && info(r).k == ir::kind::reduction && !indexes(r, code(inner).cls)
               ? found
               : -1;
  }
  /// A rank update: a two-level nest over d and h whose accumulate adds, over the rows of the
  /// top-level loop, into a global reduction indexed by d and h, as dW[d, h] += x[n, d]·g[n, h]. Its
  /// accumulate, or -1.
  static constexpr int rank_update(int enter, int rows) {
    const int found = two_level_accumulate(enter);
    if (found < 0) return -1;
    const int r = code(found).node, h = code(inner_loop(enter)).cls;
    return plan.global[static_cast<std::size_t>(r)] && info(r).k == ir::kind::reduction && indexes(r, h) &&
                   indexes(r, code(enter).cls) && !indexes(r, rows)
               ? found
               : -1;
  }
  /// Whether operand o, read in the two-level nest at `enter`, changes with class `cls`: it reads a
  /// leaf, buffer or view indexed by it, or a value of the nest that does (the outer loop's values
  /// change with the outer class).
  static constexpr bool operand_depends(const ir::operand& o, int enter, int cls) {
    switch (o.s) {
      case ir::source::tensor_leaf:
      case ir::source::view:
        return ((classes_of(o.node) >> cls) & 1U) != 0;
      case ir::source::reduction:
        return indexes(o.node, cls);
      case ir::source::value: {
        if (o.item <= enter) return false;  // computed outside the nest
        if (o.item < inner_loop(enter) && code(enter).cls == cls) return true;
        for (const ir::operand& a : code(o.item).operands)
          if (operand_depends(a, enter, cls)) return true;
        return false;
      }
      default:
        return false;
    }
  }
  /// The values the outer loop of a two-level nest computes (packed for a register tile): how many,
  /// and the value slot of the first.
  static constexpr int outer_values(int enter) {
    int count = 0;
    for (int i = enter + 1, inner = inner_loop(enter); i < inner; ++i)
      count += code(i).op == ir::instr::compute ? 1 : 0;
    return count;
  }
  static constexpr std::size_t first_outer_slot(int enter) {
    for (int i = enter + 1, inner = inner_loop(enter); i < inner; ++i)
      if (code(i).op == ir::instr::compute) return value_slot(i);
    return 0;
  }

  // A global reduction that a loop inside its top-level loop also folds would give its T
  // accumulator unboundedly many terms between the flushes into double at each block of top-level
  // iterations (Σ over n of a loop over d outermost, say): it accumulates in double throughout.
  static constexpr bool accumulates_in_double(int r) {
    if (!plan.global[static_cast<std::size_t>(r)]) return false;
    for (int a = 0; a < static_cast<int>(code_size); ++a) {
      if (code(a).op != ir::instr::accumulate || code(a).node != r) continue;
      for (int p = 0; p < a; ++p)
        if (code(p).op == ir::instr::enter && code(p).depth > 0 && code(p).match > a &&
            ((plan.buffer_dims[static_cast<std::size_t>(r)] >> code(p).cls) & 1U) == 0)
          return true;
    }
    return false;
  }
  // A local reduction over floats keeps its running total in a double shadow of its buffer,
  // rounded into the buffer once complete: the loops it folds may run over the data (a middle
  // axis, the inner dimension of a long matrix product, the rest of a row), and the extents are
  // known only at run time. Rows run as SIMD lanes keep double lane accumulators likewise.
  template <class T>
  static constexpr bool shadowed(int r) {
    return !std::is_same_v<T, double> && !plan.global[static_cast<std::size_t>(r)] && info(r).k == ir::kind::reduction;
  }
  /// Calls f.operator()<J...>() with the instructions J of the body of the loop entered at I, in
  /// order (f folds over them: a lambda per instruction would be one more function per
  /// instruction, each named with the whole program; docs/compile.md). A body of more than `outline_above` instructions
  /// runs as calls to functions of `outline_chunk` instructions each, kept out of line: the optimiser's cost grows
  /// faster than the size of the function it works on, and a call per chunk costs little next to its instructions.
  /// Smaller bodies, every benchmark's among them, stay in one function.
  static constexpr int outline_above = 96;
  static constexpr int outline_chunk = 32;
  template <int I, class F>
  static void for_body(F&& f) {
    constexpr int size = code(I).match - I - 1;
    if constexpr (size <= outline_above) {
      run_chunk<I + 1, size>(f);
    } else {
      [&]<int... K>(std::integer_sequence<int, K...>) {
        (outlined_chunk<I + 1 + K * outline_chunk, std::min(outline_chunk, size - K * outline_chunk)>(f), ...);
      }
      (std::make_integer_sequence<int, (size + outline_chunk - 1) / outline_chunk>{});
    }
  }
  template <int First, int Count, class F>
  static void run_chunk(F& f) {
    [&]<int... J>(std::integer_sequence<int, J...>) { f.template operator()<First + J...>(); }
    (std::make_integer_sequence<int, Count>{});
  }
  template <int First, int Count, class F>
  [[gnu::noinline]] static void outlined_chunk(F& f) {
    run_chunk<First, Count>(f);
  }
  /// Node or instruction indices chosen at compile time: what for_each calls f for. A caller keeps
  /// its list in a static constexpr member (stored_if, body_if), so that f is instantiated for the
  /// indices it has work for only, not for every stored node or statement with an `if constexpr`
  /// that discards the rest (most of a program's per-loop folds and flushes touch no reduction).
  struct index_list {
    std::array<int, std::max<std::size_t>({nodes, code_size, 1})> at{};
    std::size_t size = 0;
  };
  /// The stored nodes R (reductions and cached values) that keep(R) accepts, in SSA order.
  template <class Keep>
  static constexpr index_list stored_if(Keep keep) {
    index_list list;
    for (int r : stored_nodes)
      if (keep(r)) list.at[list.size++] = r;
    return list;
  }
  /// The instructions J of the body of the loop entered at I that keep(J) accepts, in order.
  template <class Keep>
  static constexpr index_list body_if(int i, Keep keep) {
    index_list list;
    for (int j = i + 1; j < code(i).match; ++j)
      if (keep(j)) list.at[list.size++] = j;
    return list;
  }
  /// Calls f.operator()<K>() for each index K of List, in order.
  template <const index_list& List, class F>
  static void for_each(F&& f) {
    [&]<std::size_t... K>(std::index_sequence<K...>) { (f.template operator()<List.at[K]>(), ...); }
    (std::make_index_sequence<List.size>{});
  }
};

}  // namespace kobai::cpu

// The types this layer defines, as the layers above it name them.
#define KOBAI_CPU_NEST_INFO_TYPES(base)               \
  using plan_type = typename base::plan_type;         \
  using order = typename base::order;                 \
  template <int N>                                    \
  using node_at = typename base::template node_at<N>; \
  template <int N>                                    \
  using reducer = typename base::template reducer<N>;
