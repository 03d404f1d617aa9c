// Lowering and scheduling: the SSA program (distinct subexpressions in topological order) planned
// as a sequence of loop nests. Knows neither xtensor nor CUDA.
//
// 1. Axes. Every axis of every node belongs to an iteration class: broadcasting, reductions,
//    unsqueeze and transpose say which axes of a node are which axes of its arguments, and a
//    union-find over all (node, axis) pairs gives the classes. A class is one loop index; its
//    extent comes from the leaves bound to it.
// 2. Order. Classes are ordered outer to inner by the leaves' row-major axis order, then so that a
//    reduction folds classes inside the ones it keeps where it can (z[n] = Σ_d X[n,d]·w[d]
//    completes within one n).
// 3. Nests. Statements (store an output, accumulate a reduction) are placed in order; each opens
//    the loops of its classes, reusing the enclosing loops of the statement before when no value
//    it reads is still being accumulated there. Elementwise values are computed once per loop
//    level that needs them, at the outermost level where their classes are fixed, and recomputed
//    rather than stored across nests; a costly one (tanh, exp, …) that a loop over a class it lacks
//    would recompute on every iteration is instead computed once into a buffer, planned like a
//    reduction with a single term. A reduction completes when the loop over the first class it
//    folds ends: inside an outer iteration (local, in a small per-task buffer indexed by its kept
//    inner classes) or after a whole top-level loop (global: per-task partials folded in order).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "kobai/expr/graph.hpp"
#include "kobai/expr/ops.hpp"

namespace kobai::ir {

inline constexpr int max_axes = 8;
inline constexpr int max_classes = 64;

enum class kind : std::uint8_t { constant, scalar_leaf, tensor_leaf, elementwise, reduction, numel, view };

/// What the planner needs to know of one node.
struct node_info {
  kind k = kind::constant;
  int rank = 0;
  std::uint32_t units = 0;
  int nargs = 0;
  std::array<int, 3> args{-1, -1, -1};  // SSA indices
  std::array<bool, 3> reads{};          // whether the value of an argument is read (expand's `like` is not)
  // map[k][p]: the axis of argument k that is axis p of this node (-1: broadcast or absent).
  std::array<std::array<int, max_axes>, 3> map{};
  std::uint32_t folded = 0;  // reductions: the argument's axes folded
  bool costly = false;       // a transcendental function: worth a buffer rather than recomputing
};

constexpr bool costly(ops::op_id id) {
  using ops::op_id;
  for (op_id c : {op_id::pow, op_id::exp, op_id::log, op_id::log1p, op_id::expm1, op_id::sin, op_id::cos, op_id::tan,
                  op_id::tanh, op_id::sigmoid, op_id::softplus})
    if (id == c) return true;
  return false;
}

template <class Op>
concept reduction_op = requires {
  Op::keepdims;
  Op::combine(0.0, 0.0);
};

template <class E, class Order>
constexpr node_info describe() {
  node_info info;
  info.rank = E::rank;
  info.units = E::units;
  for (auto& m : info.map) m.fill(-1);
  if constexpr (is_constant<E>) {
    info.k = kind::constant;
  } else if constexpr (is_leaf<E>) {
    info.k = E::rank == 0 ? kind::scalar_leaf : kind::tensor_leaf;
  } else {
    [&]<class Op, class... Args>(node<Op, Args...>*) {
      info.nargs = sizeof...(Args);
      int k = 0;
      ((info.args[k++] = static_cast<int>(index_of<Args, Order>)), ...);
      constexpr std::array<int, sizeof...(Args)> ranks{Args::rank...};
      constexpr std::array<std::uint32_t, sizeof...(Args)> units{Args::units...};
      const int r = E::rank;
      auto aligned = [&](int a, int p) {  // NumPy broadcasting: align at the last axis
        const int q = p - (r - ranks[a]);
        return q >= 0 && ((units[a] >> q) & 1U) == 0 ? q : -1;
      };
      if constexpr (std::is_same_v<Op, ops::numel>) {
        info.k = kind::numel;
      } else if constexpr (reduction_op<Op>) {
        const int ra = ranks[0];
        const std::uint32_t mask = ra >= 32 ? Op::axes : Op::axes & ((1U << ra) - 1U);
        info.folded = mask & ~units[0];
        info.k = info.folded == 0 ? kind::elementwise : kind::reduction;  // folding units only reshapes
        info.reads[0] = true;
        for (int q = 0, p = 0; q < ra; ++q) {
          const bool fold = ((mask >> q) & 1U) != 0;
          if (!fold) info.map[0][p] = ((units[0] >> q) & 1U) == 0 ? q : -1;
          if (!fold || Op::keepdims) ++p;
        }
      } else if constexpr (Op::id == ops::op_id::unsqueeze) {
        info.k = kind::elementwise;
        info.reads[0] = true;
        constexpr int at = static_cast<int>(Op::parameter.num);
        for (int p = 0; p < r; ++p)
          if (p != at) info.map[0][p] = p < at ? p : p - 1;
        for (int p = 0; p < r; ++p)
          if (info.map[0][p] >= 0 && ((units[0] >> info.map[0][p]) & 1U) != 0) info.map[0][p] = -1;
      } else if constexpr (Op::id == ops::op_id::transpose) {
        info.k = kind::elementwise;
        info.reads[0] = true;
        for (int p = 0; p < r; ++p) {
          const int q = p == r - 1 ? r - 2 : p == r - 2 ? r - 1 : p;
          info.map[0][p] = ((units[0] >> q) & 1U) == 0 ? q : -1;
        }
      } else if constexpr (Op::id == ops::op_id::flatten) {
        info.k = kind::view;  // a new axis: its extent is numel of the argument
        info.reads[0] = true;
      } else if constexpr (Op::id == ops::op_id::reshape) {
        info.k = kind::view;  // the axes of `like`
        info.reads[0] = true;
        for (int p = 0; p < r; ++p) info.map[1][p] = aligned(1, p);
      } else if constexpr (Op::id == ops::op_id::expand) {
        info.k = kind::elementwise;
        info.reads[0] = true;  // the value broadcast; argument 1 only lends its shape
        for (int p = 0; p < r; ++p) {
          info.map[0][p] = aligned(0, p);
          info.map[1][p] = aligned(1, p);
        }
      } else {
        info.k = kind::elementwise;
        info.costly = costly(Op::id);
        for (std::size_t a = 0; a < sizeof...(Args); ++a) {
          info.reads[a] = true;
          for (int p = 0; p < r; ++p) info.map[a][p] = aligned(static_cast<int>(a), p);
        }
      }
    }(static_cast<E*>(nullptr));
  }
  return info;
}

template <class Order>
struct described;
template <class... Ns>
struct described<type_list<Ns...>> {
  static constexpr std::array<node_info, sizeof...(Ns)> value{describe<Ns, type_list<Ns...>>()...};
};

enum class instr : std::uint8_t { enter, exit, compute, accumulate, store, reset, materialize };
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
/// a view's source (flatten, reshape) to memory in row-major order, for loops after its own.
struct instruction {
  instr op = instr::compute;
  int node = -1;
  int cls = -1;
  int match = -1;
  int depth = 0;  // loops around this instruction
  std::array<operand, 3> operands{};
};

enum class failure : std::uint8_t { none, axis_conflict, too_many_axes, too_many_classes, too_large };

template <std::size_t N>
struct plan_data {
  failure error = failure::none;
  int conflict_node = -1;
  int classes = 0;
  std::array<std::array<int, max_axes>, N> cls{};  // class of each axis of each node, -1 for a unit
  std::array<int, max_classes> position{};         // class → place in the loop order (0 outermost)
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
template <std::size_t N>
constexpr std::uint64_t classes_of(const plan_data<N>& plan, const std::array<node_info, N>& nodes, int n) {
  std::uint64_t bits = 0;
  for (int p = 0; p < nodes[static_cast<std::size_t>(n)].rank; ++p) {
    const int c = plan.cls[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)];
    if (c >= 0) bits |= std::uint64_t{1} << c;
  }
  return bits;
}

/// Whether node n's value is held in a buffer: reductions, and costly values computed once.
template <std::size_t N>
constexpr bool stored(const plan_data<N>& plan, const std::array<node_info, N>& nodes, int n) {
  return nodes[static_cast<std::size_t>(n)].k == kind::reduction || plan.cached[static_cast<std::size_t>(n)];
}

/// Whether node n is written to memory by a loop (a stored output, a written-out view), rather than
/// read from a buffer or a leaf when it is an output.
template <std::size_t N>
constexpr bool written(const plan_data<N>& plan, int n) {
  for (int i = 0; i < plan.size; ++i) {
    const instruction& ins = plan.code[static_cast<std::size_t>(i)];
    if ((ins.op == instr::store || ins.op == instr::materialize) && ins.node == n) return true;
  }
  return false;
}

/// The instruction computing node n outside every loop, or -1.
template <std::size_t N>
constexpr int root_instruction(const plan_data<N>& plan, int n) {
  for (int i = 0; i < plan.size; ++i) {
    const instruction& ins = plan.code[static_cast<std::size_t>(i)];
    if (ins.op == instr::compute && ins.depth == 0 && ins.node == n) return i;
  }
  return -1;
}

namespace planning {

template <std::size_t N>
struct union_find {
  std::array<int, N * max_axes> parent{};
  constexpr union_find() {
    for (std::size_t i = 0; i < parent.size(); ++i) parent[i] = static_cast<int>(i);
  }
  constexpr int find(int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  constexpr void unite(int a, int b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[a < b ? b : a] = a < b ? a : b;
  }
};

// The loop tree under construction: items are loops or statements, each in its parent's list.
struct item {
  instr op = instr::compute;
  int node = -1;
  int cls = -1;
  int parent = -1;
  int first = -1, last = -1;  // children (loops)
  int prev = -1, next = -1;   // siblings
  std::array<operand, 3> operands{};
};

template <std::size_t N>
struct builder {
  const std::array<node_info, N>& nodes;
  plan_data<N>& plan;
  // For a reduction a later statement read outside the iteration that completed it: the deepest
  // loop level (1 = top level) its completion may sit at; 0 when unrestricted.
  std::array<int, N> outermost{};
  std::array<bool, N> cache_next{};  // costly values to compute into buffers in the next pass
  std::array<item, 8 * N + 8> items{};
  int count = 1;  // item 0 is the root
  std::array<int, N> accumulate_item{};
  std::array<int, N> done_item{};            // the loop item whose end completes each reduction
  std::array<int, max_classes + 1> chain{};  // the loops of the statement being placed
  int chain_size = 1;
  bool retry = false;

  constexpr std::uint64_t classes_of(int n) const { return ir::classes_of(plan, nodes, n); }
  constexpr bool stored(int n) const { return ir::stored(plan, nodes, n); }
  // The classes of a node in loop order, as a bit set over positions.
  constexpr std::uint64_t positions_of(std::uint64_t classes) const {
    std::uint64_t bits = 0;
    for (int c = 0; c < plan.classes; ++c)
      if (((classes >> c) & 1U) != 0) bits |= std::uint64_t{1} << plan.position[c];
    return bits;
  }
  constexpr int class_at(int position) const {
    for (int c = 0; c < plan.classes; ++c)
      if (plan.position[c] == position) return c;
    return -1;
  }

  constexpr int add(int parent, item it, int before = -1) {
    if (count == static_cast<int>(items.size())) {  // the program outgrew the planner's tables
      plan.error = failure::too_large;
      return 0;
    }
    const int id = count++;
    it.parent = parent;
    item& p = items[parent];
    if (before < 0) {
      it.prev = p.last;
      if (p.last >= 0) items[p.last].next = id;
      if (p.first < 0) p.first = id;
      p.last = id;
    } else {
      it.next = before;
      it.prev = items[before].prev;
      if (it.prev >= 0)
        items[it.prev].next = id;
      else
        p.first = id;
      items[before].prev = id;
    }
    items[id] = it;
    return id;
  }

  // The reductions whose values a statement on node n reads, through elementwise nodes.
  constexpr void reductions_read(int n, std::array<bool, N>& seen, std::array<bool, N>& out) const {
    const node_info& info = nodes[n];
    for (int a = 0; a < info.nargs; ++a) {
      const int m = info.args[a];
      if (!info.reads[a] || seen[m]) continue;
      seen[m] = true;
      if (stored(m) || (nodes[m].k == kind::view && materialized(m)))
        out[m] = true;
      else if (nodes[m].k == kind::elementwise)
        reductions_read(m, seen, out);
    }
  }

  // A view of a computed value reads it from memory written by an earlier loop; a view of a leaf
  // reads the leaf's own memory.
  constexpr bool materialized(int view) const { return nodes[nodes[view].args[0]].k != kind::tensor_leaf; }

  // Opens (or reuses) the loops over `positions` for a statement reading `deps`.
  constexpr void open(std::uint64_t positions, const std::array<bool, N>& deps) {
    chain[0] = 0;
    chain_size = 1;
    int block = 0;
    for (int pos = 0; pos < plan.classes; ++pos) {
      if (((positions >> pos) & 1U) == 0) continue;
      const int c = class_at(pos);
      const int last = items[block].last;
      bool reuse = last >= 0 && items[last].op == instr::enter && items[last].cls == c;
      for (std::size_t r = 0; r < N && reuse; ++r)
        if (deps[r] && accumulate_item[r] > 0 && done_item[r] == last) reuse = false;
      if (reuse) {
        block = last;
      } else {
        item loop;
        loop.op = instr::enter;
        loop.cls = c;
        block = add(block, loop);
      }
      chain[chain_size++] = block;
    }
  }

  // The operand for node m read by an instruction placed in chain[0..level].
  constexpr operand resolve(int m, int level) {
    const node_info& info = nodes[m];
    if (plan.cached[m]) return read_buffer(m);
    switch (info.k) {
      case kind::constant:
        return {source::constant, m, -1};
      case kind::scalar_leaf:
        return {source::scalar_leaf, m, -1};
      case kind::tensor_leaf:
        return {source::tensor_leaf, m, -1};
      case kind::view:
        return {source::view, m, -1};
      case kind::reduction:
        return read_buffer(m);
      default:
        return {source::value, m, compute(m, level)};
    }
  }

  // A reduction's (or cached value's) buffer, read by an instruction placed in the current chain.
  constexpr operand read_buffer(int m) {
    if (!plan.global[m]) {  // readable only inside the iteration that completed it
      const int context = items[done_item[m]].parent;
      bool found = false;
      for (int i = 0; i < chain_size; ++i) found = found || chain[i] == context;
      if (!found) {      // complete it one level further out: below the loops this reader shares
        int shared = 0;  // depth of the deepest loop enclosing both the accumulation and this reader
        for (int a = context; a > 0 && shared == 0; a = items[a].parent)
          for (int i = 1; i < chain_size; ++i)
            if (chain[i] == a) shared = i;
        outermost[m] = outermost[m] == 0 ? shared + 1 : std::min(outermost[m], shared + 1);
        retry = true;
      }
    }
    return {source::reduction, m, -1};
  }

  // The instruction computing node m, found or placed at the outermost level of the chain where
  // its classes are fixed.
  constexpr int compute(int m, int limit) {
    const std::uint64_t positions = positions_of(classes_of(m));
    int level = 0;
    for (int i = 1; i < chain_size && i <= limit; ++i)
      if (((positions >> plan.position[items[chain[i]].cls]) & 1U) != 0) level = i;
    // A costly value under a loop over a class it lacks would be recomputed on every iteration of
    // that loop: plan again with it computed once into a buffer.
    for (int i = 1; i <= level && nodes[m].costly && !plan.cached[m]; ++i)
      if (((positions >> plan.position[items[chain[i]].cls]) & 1U) == 0) {
        cache_next[m] = true;
        retry = true;
      }
    const int block = chain[level];
    for (int i = items[block].first; i >= 0; i = items[i].next)
      if (items[i].op == instr::compute && items[i].node == m) return i;
    item it;
    it.op = instr::compute;
    it.node = m;
    for (int a = 0; a < nodes[m].nargs; ++a)
      if (nodes[m].reads[a]) it.operands[a] = resolve(nodes[m].args[a], level);
    const int before = level + 1 < chain_size ? chain[level + 1] : -1;
    return add(block, it, before);
  }

  constexpr void statement(instr op, int n) {
    std::array<bool, N> seen{}, deps{};
    const bool cache = plan.cached[n];  // accumulates its own value, once per element
    const int value = (op == instr::accumulate || op == instr::materialize) && !cache ? nodes[n].args[0] : n;
    // The values it reads that other statements produce: the value itself when it is stored (a
    // reduction, a cached value) or a written-out view, or those an elementwise value reads. A
    // cached value's own statement reads what its computation reads.
    if (!cache && (stored(value) || (nodes[value].k == kind::view && materialized(value))))
      deps[value] = true;
    else if (nodes[value].k == kind::elementwise)
      reductions_read(value, seen, deps);
    open(positions_of(classes_of(value)), deps);
    item it;
    it.op = op;
    it.node = n;
    it.operands[0] = cache ? operand{source::value, n, compute(n, chain_size - 1)} : resolve(value, chain_size - 1);
    const int id = add(chain[chain_size - 1], it);
    if (op == instr::materialize) {  // complete after its top-level loop, like a global reduction
      accumulate_item[n] = id;
      done_item[n] = chain_size > 1 ? chain[1] : 0;
      plan.global[n] = true;
      return;
    }
    if (op != instr::accumulate) return;
    accumulate_item[n] = id;
    // It completes when the loop over the first class it folds ends.
    std::uint64_t folded = 0;
    for (int q = 0; q < nodes[value].rank; ++q)
      if (((nodes[n].folded >> q) & 1U) != 0 && plan.cls[value][q] >= 0)
        folded |= std::uint64_t{1} << plan.cls[value][q];
    int done = cache ? chain_size - 1 : -1;
    for (int i = 1; i < chain_size && done < 0; ++i)
      if (((folded >> items[chain[i]].cls) & 1U) != 0) done = i;
    if (outermost[n] > 0 && outermost[n] < done) done = outermost[n];
    plan.global[n] = done == 1;
    done_item[n] = plan.global[n] ? chain[1] : chain[done];
    const std::uint64_t kept = classes_of(n);
    std::uint64_t fixed = 0;
    if (!plan.global[n])
      for (int i = 1; i < done; ++i) fixed |= std::uint64_t{1} << items[chain[i]].cls;
    plan.buffer_dims[n] = kept & ~fixed;
  }

  // Depth-first flattening of the tree into instructions, with each reduction's reset before the
  // loop that completes it.
  constexpr void emit(int block, int depth) {
    for (int i = items[block].first; i >= 0; i = items[i].next) {
      const item& it = items[i];
      if (it.op == instr::enter) {
        for (std::size_t r = 0; r < N; ++r)
          if (accumulate_item[r] > 0 && done_item[r] == i && stored(static_cast<int>(r))) {
            instruction reset;
            reset.op = instr::reset;
            reset.node = static_cast<int>(r);
            reset.depth = depth;
            plan.code[plan.size++] = reset;
          }
        const int enter = plan.size++;
        for (std::size_t r = 0; r < N; ++r)
          if (accumulate_item[r] > 0 && done_item[r] == i) plan.done[r] = enter;
        emit(i, depth + 1);
        plan.code[enter] = {instr::enter, -1, it.cls, plan.size, depth, {}};
        plan.code[plan.size++] = {instr::exit, -1, it.cls, enter, depth, {}};
        if (depth == 0) ++plan.loops;
      } else {
        instruction ins{it.op, it.node, -1, -1, depth, it.operands};
        slot[i] = plan.size;
        plan.code[plan.size++] = ins;
      }
    }
  }
  std::array<int, 8 * N + 8> slot{};
  constexpr void renumber() {  // operands name instructions, not tree items
    for (int i = 0; i < plan.size; ++i)
      for (auto& o : plan.code[i].operands)
        if (o.s == source::value) o.item = slot[o.item];
  }
};

}  // namespace planning

/// Plans the program computing `outputs` (SSA indices) over nodes described by `nodes`.
template <std::size_t N, std::size_t K>
constexpr plan_data<N> make_plan(const std::array<node_info, N>& nodes, const std::array<int, K>& outputs) {
  plan_data<N> plan;
  // 1. Classes.
  planning::union_find<N> sets;
  for (std::size_t n = 0; n < N; ++n) {
    if (nodes[n].rank > max_axes) {
      plan.error = failure::too_many_axes;
      return plan;
    }
    for (int a = 0; a < nodes[n].nargs; ++a)
      for (int p = 0; p < nodes[n].rank; ++p)
        if (nodes[n].map[a][p] >= 0)
          sets.unite(static_cast<int>(n) * max_axes + p, nodes[n].args[a] * max_axes + nodes[n].map[a][p]);
  }
  std::array<int, N * max_axes> id{};
  id.fill(-1);
  for (std::size_t n = 0; n < N; ++n)
    for (int p = 0; p < nodes[n].rank; ++p) {
      plan.cls[n][p] = -1;
      if (((nodes[n].units >> p) & 1U) != 0) continue;
      const int root = sets.find(static_cast<int>(n) * max_axes + p);
      if (id[root] < 0) {
        if (plan.classes == max_classes) {
          plan.error = failure::too_many_classes;
          return plan;
        }
        id[root] = plan.classes++;
      }
      plan.cls[n][p] = id[root];
    }
  for (std::size_t n = 0; n < N; ++n)
    for (int p = 0; p < nodes[n].rank; ++p)
      for (int q = 0; q < p; ++q)
        if (plan.cls[n][p] >= 0 && plan.cls[n][p] == plan.cls[n][q]) {
          plan.error = failure::axis_conflict;
          plan.conflict_node = static_cast<int>(n);
          return plan;
        }

  // 2. Loop order: leaves want their row-major order (contiguous inner loops, SIMD loads), then a
  // reduction wants the classes it folds inside those it keeps; an edge that would close a cycle
  // is dropped. Where they disagree (X·W1 with W1 row-major), the reduction completes inside an
  // outer iteration with a small buffer over the classes it keeps.
  std::array<std::uint64_t, max_classes> after{};  // after[a]: classes that must come after a
  auto edge = [&](int a, int b) {
    if (a == b || ((after[b] >> a) & 1U) != 0) return;
    const std::uint64_t add = (std::uint64_t{1} << b) | after[b];
    for (int x = 0; x < plan.classes; ++x)
      if (x == a || ((after[x] >> a) & 1U) != 0) after[x] |= add;
  };
  for (std::size_t n = 0; n < N; ++n)
    if (nodes[n].k == kind::tensor_leaf)
      for (int p = 1; p < nodes[n].rank; ++p) edge(plan.cls[n][p - 1], plan.cls[n][p]);
  for (std::size_t n = 0; n < N; ++n) {
    if (nodes[n].k != kind::reduction) continue;
    const int arg = nodes[n].args[0];
    for (int q = 0; q < nodes[arg].rank; ++q) {
      const int cq = plan.cls[arg][q];
      if (cq < 0 || ((nodes[n].folded >> q) & 1U) == 0) continue;
      for (int p = 0; p < nodes[arg].rank; ++p)
        if (plan.cls[arg][p] >= 0 && ((nodes[n].folded >> p) & 1U) == 0) edge(plan.cls[arg][p], cq);
    }
  }
  // Of the classes free to go next, the one with the most classes to come after it: a class no
  // leaf orders (a vector's axis broadcast against a matrix) goes inside the axes the leaves lead
  // with, so the top-level loop runs over the data's rows.
  std::uint64_t placed = 0;
  for (int pos = 0; pos < plan.classes; ++pos) {
    int best = -1;
    for (int c = 0; c < plan.classes; ++c) {
      if (((placed >> c) & 1U) != 0) continue;
      bool ready = true;
      for (int x = 0; x < plan.classes; ++x)
        if (((placed >> x) & 1U) == 0 && x != c && ((after[x] >> c) & 1U) != 0) ready = false;
      if (ready && (best < 0 || std::popcount(after[c]) > std::popcount(after[best]))) best = c;
    }
    plan.position[best] = pos;
    placed |= std::uint64_t{1} << best;
  }

  // 3. Nests; a local reduction read outside the iteration that completes it is completed further
  // out (keeping a buffer over more of its classes) and the nests are planned again.
  std::array<int, N> forced{};
  for (;;) {
    planning::builder<N> b{nodes, plan};
    b.outermost = forced;
    b.items[0].op = instr::enter;  // the root
    std::array<bool, N> needed{};
    std::array<bool, N> is_output{};
    for (int o : outputs) is_output[o] = true;
    // Needed nodes: outputs and everything their values read.
    for (int n = static_cast<int>(N) - 1; n >= 0; --n) {
      if (is_output[n]) needed[n] = true;
      if (!needed[n]) continue;
      for (int a = 0; a < nodes[n].nargs; ++a)
        if (nodes[n].reads[a]) needed[nodes[n].args[a]] = true;
    }
    // Reductions and written-out views first, in SSA order; then the outputs that loops store.
    // Stores read what those produce but nothing reads a store, so placing them last lets the
    // producers share loops.
    for (std::size_t n = 0; n < N; ++n) {
      if (needed[n] && b.stored(static_cast<int>(n))) b.statement(instr::accumulate, static_cast<int>(n));
      if (needed[n] && nodes[n].k == kind::view && b.materialized(static_cast<int>(n)))
        b.statement(instr::materialize, static_cast<int>(n));  // an output view is written in place
    }
    for (std::size_t n = 0; n < N; ++n) {
      if (!is_output[n] || b.classes_of(static_cast<int>(n)) == 0) continue;
      const kind k = nodes[n].k;
      if ((k == kind::reduction && !plan.global[n]) || k == kind::elementwise ||
          (k == kind::view && !b.materialized(static_cast<int>(n))))
        b.statement(instr::store, static_cast<int>(n));
    }
    for (int o : outputs)  // scalar outputs are computed at the end, once
      if ((nodes[o].k == kind::elementwise || nodes[o].k == kind::numel) && b.classes_of(o) == 0) {
        b.chain_size = 1;
        b.compute(o, 0);
      }
    if (plan.error != failure::none) return plan;
    if (b.retry) {
      forced = b.outermost;
      for (std::size_t n = 0; n < N; ++n) plan.cached[n] = plan.cached[n] || b.cache_next[n];
      plan.global = {};
      continue;
    }
    plan.size = 0;
    plan.loops = 0;
    b.emit(0, 0);
    b.renumber();
    return plan;
  }
}

// ---------------------------------------------------------------------------------------------
// The plan's invariants, checked at compile time for every program: a value is read only where it
// is complete in the same call, so that no plan can read memory left by the previous call.

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
  };
  rule broken = rule::none;
  int instruction = -1;
  int node = -1;
  constexpr bool ok() const { return broken == rule::none; }
};

namespace planning {
// Whether every loop around instruction `inner_of` also encloses instruction `at`.
template <std::size_t N>
constexpr bool in_scope_of(const plan_data<N>& plan, int inner_of, int at) {
  for (int p = 0; p < inner_of; ++p) {
    const instruction& loop = plan.code[static_cast<std::size_t>(p)];
    if (loop.op == instr::enter && loop.match > inner_of && !(p < at && at < loop.match)) return false;
  }
  return true;
}
}  // namespace planning

/// Checks that every read in the plan comes after the statement that completes what it reads, in
/// the same iteration of every loop they share.
template <std::size_t N>
constexpr violation verify(const plan_data<N>& plan, const std::array<node_info, N>& nodes) {
  const auto code = [&](int i) -> const instruction& { return plan.code[static_cast<std::size_t>(i)]; };
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
            !planning::in_scope_of(plan, o.item, i))
          return {violation::rule::value_out_of_scope, i, o.node};
      } else if (o.s == source::reduction) {
        const auto r = static_cast<std::size_t>(o.node);
        if (!stored(plan, nodes, o.node) || !accumulated[r]) return {violation::rule::buffer_not_complete, i, o.node};
        const int done = plan.done[r];
        if (code(done).op != instr::enter || code(done).match >= i)
          return {violation::rule::buffer_not_complete, i, o.node};
        if (!plan.global[r] && code(i).depth == 0) return {violation::rule::local_read_at_root, i, o.node};
        if (!planning::in_scope_of(plan, done, i)) return {violation::rule::buffer_out_of_scope, i, o.node};
      } else if (o.s == source::view &&
                 nodes[static_cast<std::size_t>(nodes[static_cast<std::size_t>(o.node)].args[0])].k !=
                     kind::tensor_leaf) {
        int written = -1;  // the materialize, or the end of its top-level loop
        for (int m = 0; m < plan.size; ++m)
          if (code(m).op == instr::materialize && code(m).node == o.node) {
            written = m;
            for (int p = 0; p < m; ++p)
              if (code(p).op == instr::enter && code(p).depth == 0 && code(p).match > m) written = code(p).match;
          }
        if (written < 0 || written >= i) return {violation::rule::view_not_written, i, o.node};
      }
    }
  }
  return {};
}

template <class... Outputs>
struct program_plan {
  using order = topological_order<Outputs...>;
  using outputs = type_list<std::remove_cvref_t<Outputs>...>;
  static constexpr auto nodes = described<order>::value;
  static constexpr std::array<int, sizeof...(Outputs)> output_index{
      static_cast<int>(index_of<std::remove_cvref_t<Outputs>, order>)...};
  static constexpr plan_data<order::size> value = make_plan(nodes, output_index);
  static constexpr violation broken = value.error == failure::none ? verify(value, nodes) : violation{};
  static_assert(broken.ok(),
                "kobai internal error: the planner placed a read of a value before the statement that completes "
                "it in the same call (ir::verify names the rule, instruction and node). Please report the program.");
};

/// Number of top-level loops over the data that computing the outputs takes.
template <expression... Outputs>
constexpr std::size_t loop_count(Outputs...) {
  return static_cast<std::size_t>(program_plan<Outputs...>::value.loops);
}

}  // namespace kobai::ir
