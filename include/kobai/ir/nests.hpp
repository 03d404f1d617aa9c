// Nest building. Statements (store an output, accumulate a reduction) are placed in order; each
// opens the loops of its classes, reusing the enclosing loops of the statement before when no
// value it reads is still being accumulated there. Elementwise values are computed once per loop
// level that needs them, at the outermost level where their classes are fixed, and recomputed
// rather than stored across nests; a costly one (tanh, exp, …) that a loop over a class it lacks
// would recompute on every iteration is instead computed once into a buffer, planned like a
// reduction with a single term. A reduction completes when the loop over the first class it folds
// ends: inside an outer iteration (local, in a small per-task buffer indexed by its kept inner
// classes) or after a whole top-level loop (global: per-task partials folded in order).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "kobai/ir/instructions.hpp"

namespace kobai::ir {

namespace planning {

// The loop tree under construction: items are loops or statements, each in its parent's list.
struct item {
  instr op = instr::compute;
  int node = -1;
  int cls = -1;
  int parent = -1;
  int first = -1, last = -1;  // children (loops)
  int prev = -1, next = -1;   // siblings
  int earlier = -1;           // computes: the previous compute of the same node
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
  std::array<int, N> done_item{};           // the loop item whose end completes each reduction
  std::array<int, N> latest_compute = [] {  // each node's newest compute item, or -1
    std::array<int, N> none{};
    none.fill(-1);
    return none;
  }();
  std::array<int, max_classes + 1> chain{};  // the loops of the statement being placed
  int chain_size = 1;
  bool retry = false;
  int suppress = 0;  // values being computed for one that will be cached: not cached themselves

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

  // The reductions whose values a statement on node n reads, through elementwise nodes. A walk
  // with its own stack: the recursion would be as deep as the longest elementwise chain, past the
  // compilers' constant-evaluation depth (GCC's 512) in programs of a few hundred nodes.
  constexpr void reductions_read(int n, std::array<bool, N>& seen, std::array<bool, N>& out) {
    int top = 0;
    walk[top++] = n;
    while (top > 0) {
      const node_info& info = nodes[walk[--top]];
      for (int a = 0; a < info.nargs; ++a) {
        const int m = info.args[a];
        if (!info.reads[a] || seen[m]) continue;
        seen[m] = true;
        if (stored(m) || written_out(m))
          out[m] = true;
        else if (nodes[m].k == kind::elementwise)
          walk[top++] = m;
      }
    }
  }
  std::array<int, N + 1> walk{};  // reductions_read's stack: each node is pushed at most once

  // A view of a computed value reads it from memory written by an earlier loop; a view of a leaf
  // reads the leaf's own memory.
  constexpr bool materialized(int view) const { return nodes[nodes[view].args[0]].k != kind::tensor_leaf; }
  // A view read from memory that the plan writes: a written-out view, or a take or put_add, whose
  // memory is filled outside every loop (`indirect`, after the loops that write its source).
  constexpr bool written_out(int m) const { return nodes[m].k == kind::view && (materialized(m) || nodes[m].indirect); }

  // For each node, the number of values on its longest path from the leaves that complete only
  // after a whole top-level loop: reductions that fold the outermost class, and written-out views.
  // A statement can share the top-level loop of those before it only where it reads none of
  // theirs, so statements are placed pass by pass: Σ_n g[n] and the other sums over the rows share
  // one loop, and W·Σ_n g[n] waits after all of them (in SSA order alone, it would sit between them
  // and split the loop over the rows in two, each computing the rows' values again).
  constexpr std::array<int, N> passes(const std::array<bool, N>& needed) const {
    const int top = class_at(0);
    std::array<int, N> pass{};
    for (std::size_t n = 0; n < N; ++n) {
      if (!needed[n]) continue;
      const node_info& info = nodes[n];
      for (int a = 0; a < info.nargs; ++a) {
        if (!info.reads[a]) continue;
        const int m = info.args[a];
        const node_info& read = nodes[static_cast<std::size_t>(m)];
        bool after_loop = read.k == kind::view && materialized(m);
        for (int q = 0; top >= 0 && read.k == kind::reduction && q < nodes[static_cast<std::size_t>(read.args[0])].rank;
             ++q)
          after_loop = after_loop ||
                       (((read.folded >> q) & 1U) != 0 && plan.cls[static_cast<std::size_t>(read.args[0])][q] == top);
        pass[n] = std::max(pass[n], pass[static_cast<std::size_t>(m)] + (after_loop ? 1 : 0));
      }
    }
    return pass;
  }

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
    const operand o = read(m);
    return o.s == source::value ? operand{source::value, m, compute(m, level)} : o;
  }
  // The operand for node m when it needs no instruction: source::value (with no item) when it is
  // an elementwise value to compute.
  constexpr operand read(int m) {
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
        return {source::value, m, -1};
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

  constexpr bool worth_caching(int m) const {
    const node_info& info = nodes[m];
    if (info.costly) return true;
    if (info.passes) return false;
    for (int a = 0; a < info.nargs; ++a)
      if (info.reads[a] && nodes[info.args[a]].k == kind::elementwise) return true;
    return false;
  }

  constexpr int top_level_loop(int i) const {
    while (items[i].parent > 0) i = items[i].parent;
    return i;
  }

  // The instruction computing node m, found or placed at the outermost level of the chain where
  // its classes are fixed, after those computing its operands. Depth-first with its own stack of
  // frames, for the reason reductions_read gives.
  struct frame {
    item it;
    int level = 0, arg = 0;
    bool caching = false;
  };
  std::array<frame, N + 1> frames{};
  constexpr int compute(int m, int limit) {
    int top = 0, result = enter(m, limit, top);
    while (top > 0) {
      frame& f = frames[top - 1];
      if (result >= 0) {  // the operand f.arg was waiting for
        f.it.operands[f.arg] = {source::value, nodes[f.it.node].args[f.arg], result};
        ++f.arg;
        result = -1;
      }
      const node_info& info = nodes[f.it.node];
      while (f.arg < info.nargs && !info.reads[f.arg]) ++f.arg;
      if (f.arg < info.nargs) {
        const operand o = read(info.args[f.arg]);
        if (o.s == source::value) {
          result = enter(info.args[f.arg], f.level, top);
        } else {
          f.it.operands[f.arg] = o;
          ++f.arg;
        }
        continue;
      }
      suppress -= f.caching ? 1 : 0;
      const int level = f.level;
      f.it.earlier = latest_compute[f.it.node];
      const int before = level + 1 < chain_size ? chain[level + 1] : -1;
      const int id = add(chain[level], f.it, before);
      if (id > 0) latest_compute[f.it.node] = id;
      --top;
      result = id;
    }
    return result;
  }
  // Starts computing m: the instruction already in its block (its id), or a new frame (-1).
  constexpr int enter(int m, int limit, int& top) {
    const std::uint64_t positions = positions_of(classes_of(m));
    int level = 0;
    for (int i = 1; i < chain_size && i <= limit; ++i)
      if (((positions >> plan.position[items[chain[i]].cls]) & 1U) != 0) level = i;
    // A value under a loop over a class it lacks would be recomputed on every iteration of that
    // loop: plan again with it computed once into a buffer when it is costly (tanh, exp, …), or
    // when it is computed from other values: the softmax gradient g[n, c] under the loop over d of
    // dW[d, c] += X[n, d]·g[n, c] (a buffer of a row's worth), a Gaussian mixture's Q_k under the
    // loop over the rows (computed once per call). A value that passes its argument's on is left
    // to the argument. Its own arguments are then computed in its buffer's loop, so only the value
    // read under the loop is cached, not the values it is computed from.
    bool caching = false;
    if (level > 0 && suppress == 0 && !plan.cached[m] && worth_caching(m))
      for (int i = 1; i <= level; ++i)
        if (((positions >> plan.position[items[chain[i]].cls]) & 1U) == 0) caching = true;
    // A costly value computed again by a later statement of the same top-level iteration (tanh of
    // a hidden layer, read by the forward pass and by two gradients) is cached too.
    if (level > 0 && !plan.cached[m] && nodes[m].costly && latest_compute[m] > 0 &&
        top_level_loop(latest_compute[m]) == chain[1])
      caching = true;
    if (caching) {
      cache_next[m] = true;
      retry = true;
    }
    // Already computed in this block? Only m's computes newer than the block can be in it (items
    // are numbered in creation order), so the lookup walks those, not the block's whole body.
    const int block = chain[level];
    for (int i = latest_compute[m]; i > block; i = items[i].earlier)
      if (items[i].parent == block) return i;
    frame& f = frames[top++];
    f = frame{};
    f.it.op = instr::compute;
    f.it.node = m;
    f.level = level;
    f.caching = caching;
    suppress += caching ? 1 : 0;
    return -1;
  }

  constexpr void statement(instr op, int n) {
    std::array<bool, N> seen{}, deps{};
    const bool cache = plan.cached[n];  // accumulates its own value, once per element
    const int value = (op == instr::accumulate || op == instr::materialize) && !cache ? nodes[n].args[0] : n;
    // The values it reads that other statements produce: the value itself when it is stored (a
    // reduction, a cached value) or a written-out view, or those an elementwise value reads. A
    // cached value's own statement reads what its computation reads.
    if (!cache && (stored(value) || written_out(value)))
      deps[value] = true;
    else if (nodes[value].k == kind::elementwise)
      reductions_read(value, seen, deps);
    fill_read(deps);
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

  // The instruction filling an indirect view's memory, outside every loop. From a leaf, it comes
  // first, before every loop; from a computed source, after the loops placed so far (the one
  // writing its source among them), just before the first statement that reads the view (or at
  // the end), so that the statements before it share their loops; later readers open loops after it.
  std::array<bool, N> unfilled{};
  constexpr void fill_read(const std::array<bool, N>& deps) {  // the indirect views read are filled first
    for (std::size_t m = 0; m < N; ++m)
      if (deps[m] && unfilled[m]) fill(static_cast<int>(m));
  }
  constexpr void fill(int n) {
    unfilled[n] = false;
    item it;
    it.op = instr::indirect;
    it.node = n;
    const int id = materialized(n) ? add(0, it) : add(0, it, items[0].first);
    accumulate_item[n] = id;
    done_item[n] = id;
    plan.global[n] = true;
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

/// Builds the loop nests computing `outputs` over a plan whose classes and loop order are set; a
/// local reduction read outside the iteration that completes it is completed further out (keeping
/// a buffer over more of its classes) and the nests are planned again.
template <std::size_t N, std::size_t K>
constexpr void build_nests(plan_data<N>& plan, const std::array<node_info, N>& nodes,
                           const std::array<int, K>& outputs) {
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
    // Reductions and written-out views first, by top-level pass and in SSA order within one; then
    // the outputs that loops store. Stores read what those produce but nothing reads a store, so
    // placing them last lets the producers share loops.
    const std::array<int, N> passes = b.passes(needed);
    const int last_pass = *std::max_element(passes.begin(), passes.end());
    for (int pass = 0; pass <= last_pass; ++pass)
      for (std::size_t n = 0; n < N; ++n) {
        if (passes[n] != pass) continue;
        if (needed[n] && b.stored(static_cast<int>(n))) b.statement(instr::accumulate, static_cast<int>(n));
        if (needed[n] && nodes[n].k == kind::view && b.materialized(static_cast<int>(n)))
          b.statement(instr::materialize, static_cast<int>(n));  // an output view is written in place
        if (needed[n] && nodes[n].indirect) {
          if (b.materialized(static_cast<int>(n)))
            b.unfilled[n] = true;
          else
            b.fill(static_cast<int>(n));
        }
      }
    for (std::size_t n = 0; n < N; ++n) {
      if (!is_output[n] || b.classes_of(static_cast<int>(n)) == 0) continue;
      const kind k = nodes[n].k;
      if ((k == kind::reduction && !plan.global[n]) || k == kind::elementwise ||
          (k == kind::view && !b.materialized(static_cast<int>(n)) && !nodes[n].indirect))
        b.statement(instr::store, static_cast<int>(n));
    }
    for (int o : outputs)  // scalar outputs are computed at the end, once
      if ((nodes[o].k == kind::elementwise || nodes[o].k == kind::numel) && b.classes_of(o) == 0) {
        std::array<bool, N> seen{}, deps{};
        b.reductions_read(o, seen, deps);
        b.fill_read(deps);
        b.chain_size = 1;
        b.compute(o, 0);
      }
    for (std::size_t n = 0; n < N; ++n)  // outputs, and views only outputs read
      if (b.unfilled[n]) b.fill(static_cast<int>(n));
    if (plan.error != failure::none) return;
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
    return;
  }
}

}  // namespace kobai::ir
