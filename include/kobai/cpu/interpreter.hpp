// The fifth layer of cpu::program (see cpu/nest_info.hpp): the interpreter.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "kobai/core/simd.hpp"

#include "kobai/cpu/folds.hpp"
#include "kobai/cpu/simd_math.hpp"
#include "kobai/cpu/transpose.hpp"

namespace kobai::cpu {

/// How an instruction sees the values it reads: one element at the current indices (scalar), a
/// SIMD batch along an innermost loop (batch), a batch of the rows of a block of consecutive
/// iterations of a top-level loop, one row per lane (block), or one value outside every loop
/// (root). Every mode computes a node in T with the same bits: a value outside every loop equals
/// the same value computed in a loop (a cube of a max against the cube of its argmax element is a
/// tie in float too).
enum class mode : std::uint8_t { scalar, batch, block, root };

// GCC 12 warns falsely inside the AVX-512 (and AVX) intrinsics that xsimd inlines into the
// interpreter's loops (-Wmaybe-uninitialized, and -Wuninitialized at -O2, on `__m512i __Y = __Y;`
// in _mm512_undefined_*, GCC bug 105593), which -Werror builds with -march=native would stop on:
// silenced for the interpreter only (scripts/avx512-build checks it).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
/// One interpreter of the plan's instructions over the four access modes. `operand` reads any
/// operand in any mode and `compute` evaluates a node in any mode with its op's `apply` (from
/// expr/ops.hpp); the loops below only say where each mode's results go: a task's values, a
/// loop's batches and SIMD accumulators, the lanes' accumulators, outputs and views.
template <class Key>
struct interpreter : folds<Key> {
  using base = folds<Key>;
  KOBAI_CPU_NEST_INFO_TYPES(base)
  KOBAI_CPU_LAYOUT_TYPES(base)
  KOBAI_CPU_ADDRESSING_TYPES(base)
  template <class T>
  using batches = std::array<detail::batch<T>, base::code_size + 1>;  // by instruction

  /// What an instruction reads from in a mode: the call, its task (none at the root) and the
  /// bindings; batch: the loop's cursor, its element i, the values it computed (`local`, whose
  /// depth is `depth` + 1); block: the block's rows, the values computed for them (`block`,
  /// batches by value slot) and the batch `i` of the block being computed.
  template <class T>
  struct access {
    const call_state<T>& call;
    const task_state<T>* task;
    const cursor* at = nullptr;
    std::ptrdiff_t i = 0;
    const batches<T>* local = nullptr;
    int depth = 0;
    const block_state<T>* rows = nullptr;
    const detail::batch<T>* block = nullptr;
  };
  template <mode M, class T>
  using value_in = std::conditional_t<M == mode::root || M == mode::scalar, T, detail::batch<T>>;
  // Block mode: a value for every row of the block, block_batches batches.
  template <class T>
  using rows_of = std::array<detail::batch<T>, base::block_batches>;

  // Op on its arguments, the first Op::arity of args: instantiated per op, not per node (fewer
  // functions, each named with the whole program: see docs/compile.md). A sum's terms are never
  // fused with the product (or a power, or a library function ending in one) that computed them
  // into a multiply-add, so that a value computed again in another nest has the same bits
  // (detail::unfused). A reduction's accumulation may fuse: its value is computed once. Some ops
  // on float batches are the CPU's own (cpu/simd_math.hpp: tanh, softplus).
  template <class V, class Op, class Array, std::size_t... K>
  static V apply_op(const Array& args, std::index_sequence<K...>) {
    if constexpr (Op::id == ops::op_id::add)
      return Op::apply(detail::unfused<V>(args[K])...);
    else if constexpr (std::is_same_v<V, detail::batch<float>> && simd_math::replaces(Op::id))
      return simd_math::apply<Op::id>(args[0]);
    else
      return Op::apply(args[K]...);
  }
  template <class V, class Op, class Array>
  static V apply_op(const Array& args) {
    return apply_op<V, Op>(args, std::make_index_sequence<Op::arity>{});
  }

  template <class T>
  static double numel_value(const call_state<T>& call, int n) {
    double count = 1;
    for (int p = 0; p < base::info(n).rank; ++p) {
      const int c = base::plan.cls[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)];
      if (c >= 0) count *= static_cast<double>(call.extent[static_cast<std::size_t>(c)]);
    }
    return count;
  }

  /// The value of operand O in mode M: batch at element a.i of the innermost loop over class C.
  template <mode M, ir::operand O, int C, class T>
  static value_in<M, T> operand(const access<T>& a) {
    using V = detail::batch<T>;
    const call_state<T>& call = a.call;
    constexpr auto n = static_cast<std::size_t>(O.node);
    if constexpr (O.s == ir::source::none) {
      return value_in<M, T>(0);
    } else if constexpr (M == mode::root) {  // outside every loop: scalars, folded results, root values
      if constexpr (O.s == ir::source::constant)
        return static_cast<T>(node_at<O.node>::value.value());
      else if constexpr (O.s == ir::source::scalar_leaf)
        return call.scalar[n];
      else if constexpr (O.s == ir::source::reduction)
        return call.final_t[call.final_offset[n]];
      else if constexpr (O.s == ir::source::value)
        return call.root[static_cast<std::size_t>(O.item)];
      else if constexpr (O.s == ir::source::view)  // a view of a value without axes
        return call.view_data[n][0];
      else  // a tensor has axes: nothing outside every loop reads one
        return T(0);
    } else if constexpr (M == mode::scalar) {
      const task_state<T>& task = *a.task;
      if constexpr (O.s == ir::source::constant)
        return static_cast<T>(node_at<O.node>::value.value());
      else if constexpr (O.s == ir::source::scalar_leaf)
        return call.scalar[n];
      else if constexpr (O.s == ir::source::tensor_leaf)
        return call.leaf[n][base::leaf_offset(call, task, O.node)];
      else if constexpr (O.s == ir::source::reduction)
        return base::result(call, task, O.node)[base::buffer_offset(call, task, O.node)];
      else if constexpr (O.s == ir::source::view)
        return call.view_data[n][base::view_offset(call, task, O.node)];
      else if constexpr (base::code(O.item).depth == 0)
        return call.root[static_cast<std::size_t>(O.item)];
      else
        return task.value[static_cast<std::size_t>(O.item)];
    } else if constexpr (M == mode::batch) {
      const task_state<T>& task = *a.task;
      const cursor& at = *a.at;
      constexpr bool stride_c = ((base::plan.buffer_dims[n] >> C) & 1U) != 0;  // a buffer indexed by C
      if constexpr (O.s == ir::source::tensor_leaf) {
        constexpr int axis = base::axis_of(O.node, C);
        const T* first = call.leaf[n] + at.leaf[n];
        if constexpr (axis < 0)
          return V(*first);
        else if constexpr (axis == base::info(O.node).rank - 1)
          return V::load_unaligned(first + a.i);
        else
          return base::template gather<T>(first + a.i * call.leaf_stride[n][axis], call.leaf_stride[n][axis]);
      } else if constexpr (O.s == ir::source::reduction) {
        const T* first = base::result(call, task, O.node) + at.buffer[n];
        if constexpr (!stride_c)
          return V(*first);
        else
          return base::template gather<T>(first + a.i * call.stride[n][C], call.stride[n][C]);
      } else if constexpr (O.s == ir::source::view) {
        const std::ptrdiff_t stride = base::template view_step<false>(call, O.node, C);
        return base::template gather<T>(call.view_data[n] + at.view[n] + a.i * stride, stride);
      } else if constexpr (O.s == ir::source::value) {
        if (base::code(O.item).depth == a.depth + 1) return (*a.local)[static_cast<std::size_t>(O.item)];
        return V(operand<mode::scalar, O, C>(a));
      } else {
        return V(operand<mode::scalar, O, C>(a));
      }
    }
  }

  /// Node `ins.node` of compute instruction J in mode M. One element (scalar mode) is computed with
  /// the bits it has in a SIMD lane when libm and xsimd may round it differently: a value computed
  /// in the scalar tail of one loop and in the batches of another must compare equal (a max's ties,
  /// a where's branch).
  template <mode M, int J, int C, class T>
  static value_in<M, T> compute(const access<T>& a) {
    using V = value_in<M, T>;
    constexpr ir::instruction ins = base::code(J);
    constexpr int n = ins.node;
    if constexpr (base::info(n).k == ir::kind::numel) {
      return V(static_cast<T>(numel_value(a.call, base::info(n).args[0])));
    } else {
      const std::array<V, 3> args{operand<M, ins.operands[0], C>(a), operand<M, ins.operands[1], C>(a),
                                  operand<M, ins.operands[2], C>(a)};
      if constexpr ((M == mode::scalar || M == mode::root) && !node_at<n>::op::exact) {
        using B = detail::batch<T>;
        return apply_op<B, typename node_at<n>::op>(std::array<B, 3>{B(args[0]), B(args[1]), B(args[2])}).get(0);
      } else {
        return apply_op<V, typename node_at<n>::op>(args);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Scalar mode: instructions outside the innermost loops, and innermost loops' scalar tails

  template <class T, int I>
  static void scalar_step(const call_state<T>& call, task_state<T>& task) {
    constexpr ir::instruction ins = base::code(I);
    const access<T> a{call, &task};
    if constexpr (ins.op == ir::instr::compute) {
      task.value[I] = compute<mode::scalar, I, -1>(a);
    } else if constexpr (ins.op == ir::instr::accumulate) {
      using op = reducer<ins.node>;
      auto& slot = base::template accumulator<ins.node>(call, task)[base::buffer_offset(call, task, ins.node)];
      slot = op::combine(
          slot, static_cast<std::remove_reference_t<decltype(slot)>>(operand<mode::scalar, ins.operands[0], -1>(a)));
    } else if constexpr (ins.op == ir::instr::store) {
      constexpr std::size_t k = base::output_slot(ins.node);
      call.out[k][base::offset_of(task, ins.node, call.out_stride[k])] = operand<mode::scalar, ins.operands[0], -1>(a);
    } else if constexpr (ins.op == ir::instr::reset) {
      using op = reducer<ins.node>;
      auto* first = base::template accumulator<ins.node>(call, task);
      std::fill_n(first, call.size[ins.node], static_cast<std::remove_reference_t<decltype(*first)>>(op::identity));
    } else if constexpr (ins.op == ir::instr::materialize) {
      call.source_data[ins.node][base::source_offset(call, task, ins.node)] =
          operand<mode::scalar, ins.operands[0], -1>(a);
    }
  }

  // Instructions [I, End) at one loop level.
  template <class T, int I, int End>
  static void run_range(const call_state<T>& call, task_state<T>& task) {
    if constexpr (I < End) {
      constexpr ir::instruction ins = base::code(I);
      if constexpr (ins.op == ir::instr::enter) {
        run_loop<T, I>(call, task, 0, static_cast<std::ptrdiff_t>(call.extent[ins.cls]));
        base::template round_shadows<T, I>(call, task);
        run_range<T, ins.match + 1, End>(call, task);
      } else {
        scalar_step<T, I>(call, task);
        run_range<T, I + 1, End>(call, task);
      }
    }
  }

  // The loop entered at instruction I over [begin, end) of its class.
  template <class T, int I>
  static void run_loop(const call_state<T>& call, task_state<T>& task, std::ptrdiff_t begin, std::ptrdiff_t end) {
    constexpr ir::instruction ins = base::code(I);
    if constexpr (base::innermost(I)) {
      run_innermost<T, I>(call, task, begin, end);
    } else {
      for (std::ptrdiff_t i = begin; i < end; ++i) {
        task.index[ins.cls] = i;
        run_range<T, I + 1, ins.match>(call, task);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Batch mode: the innermost loop entered at I, SIMD batches along its class, then a scalar tail.
  // A reduction folding this class accumulates in a register (`folding`), added to its
  // accumulator every 16 batches; a top-level loop's accumulators also move to double every block.

  // The accumulates of the innermost loop entered at I that fold its class: in registers (`folding`).
  template <int I>
  static constexpr auto register_folds = base::body_if(I, [](int j) {
    const ir::instruction& step = base::code(j);
    return step.op == ir::instr::accumulate &&
           ((base::plan.buffer_dims[static_cast<std::size_t>(step.node)] >> base::code(I).cls) & 1U) == 0;
  });
  template <class T, int I>
  static void run_innermost(const call_state<T>& call, task_state<T>& task, std::ptrdiff_t begin, std::ptrdiff_t end) {
    using V = detail::batch<T>;
    constexpr ir::instruction ins = base::code(I);
    constexpr int c = ins.cls;
    constexpr auto width = static_cast<std::ptrdiff_t>(V::size);
    batches<T> local;
    batches<T> folding;  // by instruction: registers of reductions over c
    const cursor at = base::template start<T, I>(call, task);
    auto fold_registers = [&] {
      base::template for_each<register_folds<I>>([&]<int J>() {
        constexpr ir::instruction step = base::code(J);
        using op = reducer<step.node>;
        if constexpr (base::plan.global[step.node]) {  // straight into the task's double partial
          double& slot = task.partial[call.partial_offset[step.node] + static_cast<std::size_t>(at.buffer[step.node])];
          slot = op::combine(slot, base::template horizontal<op>(folding[J]));
        } else {
          auto* slot = base::template accumulator<step.node>(call, task) + at.buffer[step.node];
          *slot = static_cast<std::remove_reference_t<decltype(*slot)>>(
              op::combine(static_cast<double>(*slot), base::template horizontal<op>(folding[J])));
        }
        folding[J] = V(static_cast<T>(op::identity));
      });
    };
    base::template for_each<register_folds<I>>(
        [&]<int J>() { folding[J] = V(static_cast<T>(reducer<base::code(J).node>::identity)); });
    access<T> a{call, &task, &at, begin, &local, ins.depth};
    while (a.i + width <= end) {
      const std::ptrdiff_t block_end = std::min(end, a.i + 16 * width);
      for (; a.i + width <= block_end; a.i += width)
        base::template for_body<I>([&]<int... J>() { (batch_step<J, c>(a, local, folding), ...); });
      fold_registers();
      if constexpr (ins.depth == 0) base::template flush<T, I, false>(call, task);
    }
    if (a.i < end && end - begin >= width) {  // the tail as the last whole batch, its first lanes done already
      const std::ptrdiff_t done = a.i - (end - width);
      // The tail works on copies of the loop's state (its access, cursor, values and registers):
      // GCC may leave this body out of line, and what it takes the address of lives in memory for
      // the whole function, reloaded in the loop above after every store. W3's loop ran at half the
      // speed of the same loop written by hand on an AMD EPYC (AVX2) before.
      const cursor last_at = at;
      batches<T> last_local;
      batches<T> last_folding;
      base::template for_each<register_folds<I>>([&]<int J>() { last_folding[J] = folding[J]; });
      const access<T> last{call, &task, &last_at, end - width, &last_local, ins.depth};
      base::template for_body<I>([&]<int... J>() {
        (batch_step<J, c, true>(last, last_local, last_folding, done), ...);
      });
      base::template for_each<register_folds<I>>([&]<int J>() { folding[J] = last_folding[J]; });
      fold_registers();
      if constexpr (ins.depth == 0) base::template flush<T, I, false>(call, task);
      return;
    }
    for (std::ptrdiff_t i = a.i; i < end; ++i) {
      task.index[c] = i;
      base::template for_body<I>([&]<int... J>() { (scalar_step<T, J>(call, task), ...); });
    }
  }

  // One batch of the innermost loop over class C at element a.i. Overlapped (the tail), its first
  // `done` lanes are elements already done: each statement keeps what they hold (an accumulator's
  // lanes, memory's elements), so an output bound over an input it reads is not read back.
  template <int J, int C, bool Overlapped = false, class T>
  static void batch_step(const access<T>& a, batches<T>& local, batches<T>& folding, std::ptrdiff_t done = 0) {
    using V = detail::batch<T>;
    constexpr ir::instruction ins = base::code(J);
    const call_state<T>& call = a.call;
    const cursor& at = *a.at;
    if constexpr (ins.op == ir::instr::compute) {
      local[J] = compute<mode::batch, J, C>(a);
    } else if constexpr (ins.op == ir::instr::accumulate) {
      using op = reducer<ins.node>;
      const V value = operand<mode::batch, ins.operands[0], C>(a);
      if constexpr (((base::plan.buffer_dims[ins.node] >> C) & 1U) == 0) {
        if constexpr (Overlapped)
          folding[J] = xsimd::select(base::template lanes_from<T>(done), op::combine(folding[J], value), folding[J]);
        else
          folding[J] = op::combine(folding[J], value);
      } else {
        const std::ptrdiff_t stride = call.stride[ins.node][C];
        base::template combine_into<op>(
            value, base::template accumulator<ins.node>(call, *a.task) + at.buffer[ins.node] + a.i * stride, stride,
            done);
      }
    } else if constexpr (ins.op == ir::instr::materialize) {
      const std::ptrdiff_t stride = base::template view_step<true>(call, ins.node, C);
      base::scatter(operand<mode::batch, ins.operands[0], C>(a),
                    call.source_data[ins.node] + at.source[ins.node] + a.i * stride, stride, done);
    } else if constexpr (ins.op == ir::instr::store) {
      constexpr std::size_t k = base::output_slot(ins.node);
      constexpr int axis = base::axis_of(ins.node, C);
      const V value = operand<mode::batch, ins.operands[0], C>(a);
      if constexpr (axis == base::info(ins.node).rank - 1 && !Overlapped) {  // row-major: the last axis is contiguous
        value.store_unaligned(call.out[k] + at.out[k] + a.i);
      } else {
        const std::ptrdiff_t stride =
            axis == base::info(ins.node).rank - 1 ? 1 : call.out_stride[k][static_cast<std::size_t>(axis)];
        base::scatter(value, call.out[k] + at.out[k] + a.i * stride, stride, done);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Block mode: a top-level loop with inner loops (per-row logits, losses and gradients, as in
  // logistic regression, softmax classifiers and MLPs) runs its rows in blocks of block_rows<T>,
  // one row per SIMD lane, block_batches batches per block. Its body runs once per block: the
  // inner loops element by element, each instruction on every row of the block at once (rows_of).
  // Whatever the inner extents, every operation is a full SIMD batch; the rows past the end of the
  // last block repeat its last row and are left out of every accumulation and store. Two nest
  // shapes run as register tiles: contractions and rank updates (nest_info).

  template <class T, int I>
  static void run_blocks(const call_state<T>& call, task_state<T>& task, std::ptrdiff_t begin, std::ptrdiff_t end,
                         detail::batch<T>* block) {
    constexpr ir::instruction ins = base::code(I);
    constexpr auto rows = static_cast<std::ptrdiff_t>(base::template block_rows<T>);
    block_state<T> state;
    for (std::ptrdiff_t first = begin; first < end; first += rows) {
      state.set(std::min(rows, end - first));
      task.index[ins.cls] = first;
      transpose_rows<T, I>(call, task, state, first, end);
      const access<T> a{call, &task, nullptr, 0, nullptr, 0, &state, block};
      block_range<T, I + 1, ins.match, ins.cls>(a, task);
    }
  }

  // The leaves the loop entered at I reads by rows, their rows its first axis: transposed for
  // the block (task.rows_of_leaf) when a row is at most `transposed_row` elements.
  static constexpr std::ptrdiff_t transposed_row = 1024;
  template <int I>
  static constexpr bool rows_first(int n) {
    return base::info(n).k == ir::kind::tensor_leaf && base::axis_of(n, base::code(I).cls) == 0;
  }
  template <class T, int I>
  static std::size_t transposed_size(const call_state<T>& call) {
    std::size_t size = 0;
    for (int n : base::template touched_nodes<I>) {
      const std::ptrdiff_t row = call.leaf_stride[static_cast<std::size_t>(n)][0];
      if (rows_first<I>(n) && row <= transposed_row)
        size += static_cast<std::size_t>(row) * base::template block_rows<T>;
    }
    return size;
  }
  template <class T, int I>
  static void assign_transposed(const call_state<T>& call, task_state<T>& task, T* memory) {
    for (int n : base::template touched_nodes<I>) {
      const std::ptrdiff_t row = call.leaf_stride[static_cast<std::size_t>(n)][0];
      if (rows_first<I>(n) && row <= transposed_row) {
        task.rows_of_leaf[static_cast<std::size_t>(n)] = memory;
        memory += static_cast<std::size_t>(row) * base::template block_rows<T>;
      }
    }
  }
  // The block's rows of each leaf it reads by rows, transposed into task.rows_of_leaf; and the
  // rows `prefetch_blocks` blocks on (before `end`) requested from memory, so that the blocks'
  // arithmetic hides their wait. The hardware's own prefetch did not: logistic regression over
  // 10⁶ rows of 16 floats (W2, 64 MB) took 13.0–13.7 ms as the fastest of 101 calls without it and
  // 12.3–12.8 ms with it on an AMD EPYC (medians 15.4–22 ms and 13.6–17.9 ms), which streams 64 MB
  // in 5 ms and computed 10⁴ rows, in cache, in 0.11 ms.
  static constexpr std::ptrdiff_t prefetch_blocks = 2;
  template <class T, int I>
  static void transpose_rows(const call_state<T>& call, task_state<T>& task, const block_state<T>& rows,
                             std::ptrdiff_t first, std::ptrdiff_t end) {
    constexpr std::size_t width = base::template block_rows<T>;
    constexpr std::ptrdiff_t line = 64 / static_cast<std::ptrdiff_t>(sizeof(T));  // elements per cache line
    const std::ptrdiff_t ahead = first + prefetch_blocks * static_cast<std::ptrdiff_t>(width);
    for (int n : base::template touched_nodes<I>) {
      T* out = task.rows_of_leaf[static_cast<std::size_t>(n)];
      if (!rows_first<I>(n) || out == nullptr) continue;
      const std::ptrdiff_t row = call.leaf_stride[static_cast<std::size_t>(n)][0];
      const T* in = call.leaf[static_cast<std::size_t>(n)] + first * row;
      if (ahead < end)
        for (const T *p = in + (ahead - first) * row,
                     *stop = in + (std::min(ahead + static_cast<std::ptrdiff_t>(width), end) - first) * row;
             p < stop; p += line)
          __builtin_prefetch(p);
      if (row == 1 && rows.full) {  // a vector's rows: already one per lane
        std::copy_n(in, width, out);
        continue;
      }
      // a full block in square tiles of SIMD width transposed in registers, the rest (the
      // elements past the last whole tile of a row, and a short last block) gathered a batch of
      // rows at a time
      constexpr auto tile = static_cast<std::ptrdiff_t>(detail::tile_size<T>);
      const std::ptrdiff_t tiled = rows.full ? row - row % tile : 0;
      for (std::ptrdiff_t r = 0; r < static_cast<std::ptrdiff_t>(width) && tiled > 0; r += tile)
        for (std::ptrdiff_t e = 0; e < tiled; e += tile)
          detail::transpose_tile(in + r * row + e, row, out + e * static_cast<std::ptrdiff_t>(width) + r,
                                 static_cast<std::ptrdiff_t>(width));
      for (std::ptrdiff_t e = tiled; e < row; ++e)
        for (std::size_t b = 0; b < base::block_batches; ++b)
          base::template gather_rows<T>(in + e, row, rows, static_cast<std::ptrdiff_t>(b))
              .store_aligned(out + static_cast<std::size_t>(e) * width + b * detail::batch<T>::size);
    }
  }

  template <class T, int I, int End, int C>
  static void block_range(const access<T>& a, task_state<T>& task) {
    if constexpr (I < End) {
      constexpr ir::instruction ins = base::code(I);
      if constexpr (ins.op == ir::instr::enter) {
        if constexpr (base::contraction(I) >= 0) {
          block_contraction<T, I, C>(a, task);
          run_after_inner_loop<T, I, C>(a, task);
        } else if constexpr (base::rank_update(I, C) >= 0) {
          block_rank_update<T, I, C>(a, task);
          run_after_inner_loop<T, I, C>(a, task);
        } else if constexpr (dot_tiled<I, C>()) {
          block_dot<T, I, C>(a, task);
          if constexpr (base::indexes(base::code(base::dot_nest(I)).node, base::code(I).cls))
            run_after_inner_loop<T, I, C>(a, task);
        } else if constexpr (base::innermost(I)) {
          block_innermost<T, I, C>(a, task);
        } else {
          const auto extent = static_cast<std::ptrdiff_t>(a.call.extent[ins.cls]);
          for (std::ptrdiff_t j = 0; j < extent; ++j) {
            task.index[ins.cls] = j;
            block_range<T, I + 1, ins.match, C>(a, task);
          }
        }
        block_range<T, ins.match + 1, End, C>(a, task);
      } else {
        if constexpr (!written_whole(I)) block_step<T, I, C>(a, task);
        block_range<T, I + 1, End, C>(a, task);
      }
    }
  }

  // A reset that the statement after it makes unnecessary: a cached value's (written, not added to)
  // and a contraction's that follows it at once (its first terms are written).
  static constexpr bool written_whole(int i) {
    const ir::instruction& ins = base::code(i);
    if (ins.op != ir::instr::reset) return false;
    if (base::plan.cached[static_cast<std::size_t>(ins.node)]) return true;
    const int next = base::contraction(i + 1);
    return next >= 0 && base::code(next).node == ins.node;
  }

  // A reader of operand O for the block's rows: a function of the batch b, its address worked out
  // once from the loop indices; a value that does not change with the rows (a weight, a root
  // value) is read once and broadcast.
  template <ir::operand O, int C, class T>
  [[gnu::always_inline]] static auto reader(const access<T>& a) {
    using V = detail::batch<T>;
    const call_state<T>& call = a.call;
    const task_state<T>& task = *a.task;
    const block_state<T>* rows = a.rows;
    constexpr auto n = static_cast<std::size_t>(O.node);
    auto broadcast = [](V value) { return [value](std::size_t) { return value; }; };
    auto strided = [rows](const T* first, std::ptrdiff_t stride) {
      return [first, stride, rows](std::size_t b) { return base::template gather_rows<T>(first, stride, *rows, b); };
    };
    if constexpr (O.s == ir::source::none) {
      return broadcast(V(T(0)));
    } else if constexpr (O.s == ir::source::tensor_leaf) {
      constexpr int axis = base::axis_of(O.node, C);
      const std::ptrdiff_t offset = base::leaf_offset(call, task, O.node);
      const T* first = call.leaf[n] + offset;
      if constexpr (axis < 0) {
        return broadcast(V(*first));
      } else if constexpr (axis == 0) {  // the rows transposed for the block, when they are
        const std::ptrdiff_t stride = call.leaf_stride[n][0];
        const T* transposed = task.rows_of_leaf[n];
        if (transposed != nullptr)
          transposed += (offset - task.index[C] * stride) * static_cast<std::ptrdiff_t>(base::template block_rows<T>);
        return [first, stride, rows, transposed](std::size_t b) {
          return transposed != nullptr ? V::load_aligned(transposed + b * V::size)
                                       : base::template gather_rows<T>(first, stride, *rows, b);
        };
      } else {
        return strided(first, call.leaf_stride[n][axis]);
      }
    } else if constexpr (O.s == ir::source::reduction && base::plan.global[n]) {  // completed by an earlier loop
      const T* first = base::result(call, task, O.node) + base::buffer_offset(call, task, O.node);
      if constexpr (((base::plan.buffer_dims[n] >> C) & 1U) == 0)
        return broadcast(V(*first));
      else
        return strided(first, call.stride[n][C]);
    } else if constexpr (O.s == ir::source::reduction) {  // local: each row's element, a lane each
      const auto* element = base::template block_element<O.node>(call, task);
      return [element](std::size_t b) { return base::template block_load<T>(element, static_cast<std::ptrdiff_t>(b)); };
    } else if constexpr (O.s == ir::source::view) {
      return strided(call.view_data[n] + base::view_offset(call, task, O.node),
                     base::template view_step<false>(call, O.node, C));
    } else if constexpr (O.s == ir::source::value && base::code(O.item).depth > 0) {
      const V* values = a.block + base::value_slot(O.item) * base::block_batches;
      return [values](std::size_t b) { return values[b]; };
    } else {
      return broadcast(V(operand<mode::scalar, O, C>(a)));
    }
  }
  // A reader of the value of compute instruction J from readers of its operands.
  template <int J, class T, class R0, class R1, class R2>
  [[gnu::always_inline]] static auto apply_reader(const call_state<T>& call, R0 r0, R1 r1, R2 r2) {
    using V = detail::batch<T>;
    constexpr int n = base::code(J).node;
    if constexpr (base::info(n).k == ir::kind::numel) {
      const V count(static_cast<T>(numel_value(call, base::info(n).args[0])));
      return [count](std::size_t) { return count; };
    } else {  // the node spelled out: Clang 14 will not use a local constexpr inside a lambda
      return [r0, r1, r2](std::size_t b) {
        return apply_op<V, typename node_at<base::code(J).node>::op>(std::array<V, 3>{r0(b), r1(b), r2(b)});
      };
    }
  }

  // The rows' values masked to the identity past the last row (full blocks unchanged).
  template <class Op, class T>
  static detail::batch<T> mask_rows(const detail::batch<T>& value, const block_state<T>& rows, std::size_t b) {
    return rows.full ? value : xsimd::select(rows.valid[b], value, detail::batch<T>(static_cast<T>(Op::identity)));
  }

  // Reduction R's accumulation of the values `read` gives for the block's rows: a local
  // reduction's lanes; a global reduction's element of each row, or (folding the rows) its lanes.
  // Write: stores instead of combining (a cached value's one term, or the first terms of a
  // reduction whose reset was skipped).
  template <int R, int C, bool Write, class T, class Read>
  [[gnu::always_inline]] static void block_accumulate(const access<T>& a, task_state<T>& task, Read read) {
    using op = reducer<R>;
    const call_state<T>& call = a.call;
    constexpr auto r = static_cast<std::size_t>(R);
    if constexpr (!base::plan.global[r]) {  // each row's own accumulator: a lane each
      auto* element = base::template block_element<R>(call, task);
      for (std::size_t b = 0; b < base::block_batches; ++b) {
        if constexpr (Write)
          base::block_store(read(b), element, b);
        else
          base::template block_combine<op>(read(b), element, b);
      }
    } else if constexpr (((base::plan.buffer_dims[r] >> C) & 1U) != 0) {
      // indexed by the rows themselves: each row has its own element (a global reduction made so
      // because a later loop reads it)
      auto* first = base::template accumulator<R>(call, task) + base::buffer_offset(call, task, R);
      for (std::size_t b = 0; b < base::block_batches; ++b)
        base::template combine_rows<op>(read(b), first, call.stride[r][C], *a.rows, b);
    } else {  // the block's batches folded together, then its lanes, into the task's accumulator
      rows_of<T> values;
      for (std::size_t b = 0; b < base::block_batches; ++b) values[b] = mask_rows<op>(read(b), *a.rows, b);
      for (std::size_t half = base::block_batches / 2; half > 0; half /= 2)
        for (std::size_t b = 0; b < half; ++b) values[b] = op::combine(values[b], values[b + half]);
      fold_into<op>(base::template accumulator<R>(call, task) + base::buffer_offset(call, task, R), values[0]);
    }
  }

  // *slot = Op::combine(*slot, every lane of value), the slot T or double.
  template <class Op, class U, class V>
  static void fold_into(U* slot, const V& value) {
    *slot = static_cast<U>(Op::combine(static_cast<double>(*slot), base::template horizontal<Op>(value)));
  }

  template <class T, int J, int C>
  static void block_step(const access<T>& a, task_state<T>& task) {
    using V = detail::batch<T>;
    constexpr ir::instruction ins = base::code(J);
    const call_state<T>& call = a.call;
    if constexpr (ins.op == ir::instr::compute) {
      const auto value = apply_reader<J>(call, reader<ins.operands[0], C>(a), reader<ins.operands[1], C>(a),
                                         reader<ins.operands[2], C>(a));
      V* values = const_cast<V*>(a.block) + base::value_slot(J) * base::block_batches;
      for (std::size_t b = 0; b < base::block_batches; ++b) values[b] = value(b);
    } else if constexpr (ins.op == ir::instr::accumulate) {
      block_accumulate<ins.node, C, base::plan.cached[static_cast<std::size_t>(ins.node)]>(
          a, task, reader<ins.operands[0], C>(a));
    } else if constexpr (ins.op == ir::instr::store || ins.op == ir::instr::materialize) {
      T* first;
      std::ptrdiff_t stride;
      if constexpr (ins.op == ir::instr::store) {
        constexpr std::size_t k = base::output_slot(ins.node);
        first = call.out[k] + base::offset_of(task, ins.node, call.out_stride[k]);
        stride = call.out_stride[k][static_cast<std::size_t>(base::axis_of(ins.node, C))];
      } else {
        first = call.source_data[ins.node] + base::source_offset(call, task, ins.node);
        stride = base::template view_step<true>(call, ins.node, C);
      }
      const auto value = reader<ins.operands[0], C>(a);
      for (std::size_t b = 0; b < base::block_batches; ++b)
        base::template store_rows<T>(value(b), first, stride, *a.rows, b);
    } else if constexpr (ins.op == ir::instr::reset) {  // a local reduction (global ones reset per task)
      using op = reducer<ins.node>;
      auto* first = base::template block_buffer<ins.node>(call, task);
      std::fill_n(first, call.size[ins.node] * base::template block_rows<T>,
                  static_cast<std::remove_reference_t<decltype(*first)>>(op::identity));
    }
  }

  /// Most terms a reduction adds up in T registers before they move to its buffer (in double for
  /// a float reduction).
  static constexpr std::ptrdiff_t held_terms = 256;

  // An innermost loop in block mode: the reductions it folds (folds_in_registers) accumulate in
  // registers across its iterations; every other instruction runs as block_step.
  template <int I>
  static constexpr auto held_folds = base::body_if(I, [](int j) { return base::folds_in_registers(j, I); });
  template <class T, int I, int C>
  static void block_innermost(const access<T>& a, task_state<T>& task) {
    constexpr ir::instruction ins = base::code(I);
    const auto extent = static_cast<std::ptrdiff_t>(a.call.extent[ins.cls]);
    constexpr int held_count = static_cast<int>(held_folds<I>.size);
    if constexpr (held_count == 0) {
      for (std::ptrdiff_t j = 0; j < extent; ++j) {
        task.index[ins.cls] = j;
        base::template for_body<I>([&]<int... J>() { (block_step<T, J, C>(a, task), ...); });
      }
    } else {
      // held[h]: the registers of the h-th such accumulate of the body
      constexpr auto held_slot = [] {
        std::array<int, base::code_size + 1> slot{};
        int next = 0;
        for (int j = I + 1; j < ins.match; ++j)
          slot[static_cast<std::size_t>(j)] = base::folds_in_registers(j, I) ? next++ : -1;
        return slot;
      }();
      std::array<rows_of<T>, held_count> held;
      auto reset = [&] {
        base::template for_each<held_folds<I>>([&]<int J>() {
          held[held_slot[J]].fill(detail::batch<T>(static_cast<T>(reducer<base::code(J).node>::identity)));
        });
      };
      reset();
      for (std::ptrdiff_t start = 0; start < extent; start += held_terms) {
        for (std::ptrdiff_t j = start; j < std::min(extent, start + held_terms); ++j) {
          task.index[ins.cls] = j;
          const auto step = [&]<int J>() {
            if constexpr (held_slot[J] >= 0) {
              using op = reducer<base::code(J).node>;
              const auto value = reader<base::code(J).operands[0], C>(a);
              for (std::size_t b = 0; b < base::block_batches; ++b)
                held[held_slot[J]][b] = op::combine(held[held_slot[J]][b], value(b));
            } else {
              block_step<T, J, C>(a, task);
            }
          };
          base::template for_body<I>([&]<int... J>() { (step.template operator()<J>(), ...); });
        }
        base::template for_each<held_folds<I>>([&]<int J>() {
          block_accumulate<base::code(J).node, C, false>(a, task, [&](std::size_t b) { return held[held_slot[J]][b]; });
        });
        reset();
      }
    }
  }

  // The outer loop's statements of the two-level nest at I run for every iteration of it, their
  // values packed (block_batches batches each, by iteration then value).
  template <class T, int I, int C>
  static const detail::batch<T>* pack_outer_values(const access<T>& a, task_state<T>& task) {
    using V = detail::batch<T>;
    constexpr int inner = base::inner_loop(I);
    constexpr std::size_t size = static_cast<std::size_t>(base::outer_values(I)) * base::block_batches;
    V* packed = reinterpret_cast<V*>(task.pack);
    if constexpr (inner > I + 1) {
      const auto extent = static_cast<std::ptrdiff_t>(a.call.extent[base::code(I).cls]);
      for (std::ptrdiff_t i = 0; i < extent; ++i) {
        task.index[base::code(I).cls] = i;
        [&]<int... K>(std::integer_sequence<int, K...>) { (block_step<T, I + 1 + K, C>(a, task), ...); }
        (std::make_integer_sequence<int, inner - I - 1>{});
        std::copy_n(a.block + base::first_outer_slot(I) * base::block_batches, size,
                    packed + static_cast<std::size_t>(i) * size);
      }
    }
    return packed;
  }

  // The statements after the inner loop of the two-level nest at I, for every iteration of it.
  template <class T, int I, int C>
  static void run_after_inner_loop(const access<T>& a, task_state<T>& task) {
    constexpr int first = base::after_inner_loop(I), end = base::code(I).match;
    if constexpr (first < end) {
      const auto extent = static_cast<std::ptrdiff_t>(a.call.extent[base::code(I).cls]);
      for (std::ptrdiff_t i = 0; i < extent; ++i) {
        task.index[base::code(I).cls] = i;
        [&]<int... K>(std::integer_sequence<int, K...>) { (block_step<T, first + K, C>(a, task), ...); }
        (std::make_integer_sequence<int, end - first>{});
      }
    }
  }

  // In a register tile of the two-level nest at I: whether operand O is a value the inner loop
  // computes (computed in place), or one the outer loop computes (read from the packed ones).
  template <ir::operand O, int I>
  static constexpr bool in_tile() {
    return O.s == ir::source::value && O.item > base::inner_loop(I) && O.item < base::after_inner_loop(I);
  }
  template <ir::operand O, int I>
  static constexpr bool packed_value() {
    return O.s == ir::source::value && O.item > I && O.item < base::inner_loop(I);
  }
  // A reader of operand O in a register tile of the nest at I (`packed`: this outer iteration's
  // packed values).
  template <ir::operand O, int I, int C, class T>
  [[gnu::always_inline]] static auto tile_reader(const access<T>& a, const detail::batch<T>* packed) {
    if constexpr (in_tile<O, I>()) {
      constexpr ir::instruction ins = base::code(O.item);
      return apply_reader<O.item>(a.call, tile_reader<ins.operands[0], I, C>(a, packed),
                                  tile_reader<ins.operands[1], I, C>(a, packed),
                                  tile_reader<ins.operands[2], I, C>(a, packed));
    } else if constexpr (packed_value<O, I>()) {
      const detail::batch<T>* first =
          packed + (base::value_slot(O.item) - base::first_outer_slot(I)) * base::block_batches;
      return [first](std::size_t b) { return first[b]; };
    } else {
      return reader<O, C>(a);
    }
  }
  // Whether reduction Op sums operand O, a product.
  template <class Op, ir::operand O>
  static constexpr bool sum_of_products() {
    if constexpr (O.s == ir::source::value && Op::id == ops::op_id::sum)
      return std::is_same_v<typename node_at<O.node>::op, ops::mul>;
    else
      return false;
  }
  // The operand a value passes on (unsqueeze, transpose, detach: the same values), followed.
  template <ir::operand, int I>
  static constexpr ir::operand passed(ir::operand o) {
    while (o.s == ir::source::value && o.item > I && base::info(o.node).passes) o = base::code(o.item).operands[0];
    return o;
  }
  // A weight of a register tile: an operand of the inner loop read from memory at the same place
  // for every row (a leaf or a global reduction without the rows' class), as base[k·sk + j·sj].
  template <ir::operand O, int C>
  static constexpr bool weight() {
    constexpr auto n = static_cast<std::size_t>(O.node);
    if constexpr (O.s == ir::source::tensor_leaf)
      return base::axis_of(O.node, C) < 0;
    else if constexpr (O.s == ir::source::reduction)
      return base::plan.global[n] && ((base::plan.buffer_dims[n] >> C) & 1U) == 0;
    else
      return false;
  }
  template <ir::operand O, int K, int J, class T>
  static const T* weight_at(const call_state<T>& call, task_state<T>& task, std::ptrdiff_t& sk, std::ptrdiff_t& sj) {
    constexpr auto n = static_cast<std::size_t>(O.node);
    task.index[K] = 0;
    task.index[J] = 0;
    if constexpr (O.s == ir::source::tensor_leaf) {
      constexpr int ak = base::axis_of(O.node, K), aj = base::axis_of(O.node, J);
      sk = ak < 0 ? 0 : call.leaf_stride[n][static_cast<std::size_t>(ak)];
      sj = aj < 0 ? 0 : call.leaf_stride[n][static_cast<std::size_t>(aj)];
      return call.leaf[n] + base::leaf_offset(call, task, O.node);
    } else {
      sk = base::indexes(O.node, K) ? call.stride[n][K] : 0;
      sj = base::indexes(O.node, J) ? call.stride[n][J] : 0;
      return base::result(call, task, O.node) + base::buffer_offset(call, task, O.node);
    }
  }

  // The factor beside a weight in a register tile's product: a contraction's (J < 0) is a value
  // that does not change with the inner class (a packed value of the outer loop, or a leaf read by
  // rows and k such as a layer's input X[n, k]); a dot nest's is a value that does not change with
  // the outer class J.
  template <ir::operand X, int I, int J>
  static constexpr bool beside_weight() {
    if constexpr (J < 0)
      return packed_value<X, I>() || !base::operand_depends(X, I, base::code(base::inner_loop(I)).cls);
    else
      return !base::operand_depends(X, I, J);
  }
  // A register tile's term as {x, w} when it is a product summed (seen through values that pass
  // their argument on) of a weight w and a factor x beside it (beside_weight); else {none, none}.
  template <class Op, ir::operand Term, int I, int C, int J = -1>
  static constexpr std::array<ir::operand, 2> weighted_factors() {
    if constexpr (sum_of_products<Op, Term>()) {
      constexpr ir::instruction times = base::code(Term.item);
      constexpr ir::operand p = passed<times.operands[0], I>(times.operands[0]),
                            q = passed<times.operands[1], I>(times.operands[1]);
      if constexpr (weight<q, C>() && beside_weight<p, I, J>())
        return {p, q};
      else if constexpr (weight<p, C>() && beside_weight<q, I, J>())
        return {q, p};
      else
        return {};
    } else {
      return {};
    }
  }

  // A contraction nest in block mode (nest_info::contraction): the outer loop's values for every
  // k are computed once per block and packed; then for each tile of `tile` j's, the tile's
  // accumulators (tile × block_batches registers) run over k and move into the reduction's lanes
  // at the end: written there by the first k's (its reset was skipped), added after. A sum of a
  // packed value times a weight W[k, j] is one fused multiply-add on a broadcast; any other term
  // is computed in place.
  template <class T, int I, int C>
  static void block_contraction(const access<T>& a, task_state<T>& task) {
    using V = detail::batch<T>;
    constexpr ir::instruction outer = base::code(I);
    constexpr int values = base::outer_values(I);
    constexpr int k_class = outer.cls, j_class = base::code(base::inner_loop(I)).cls;
    constexpr int A = base::contraction(I);
    constexpr ir::operand term = base::code(A).operands[0];
    constexpr std::size_t tile = V::size * sizeof(T) >= 64 ? 4 : 2;  // 32 or 16 SIMD registers
    constexpr std::size_t batches = base::block_batches;
    using op = reducer<base::code(A).node>;
    const auto k_extent = static_cast<std::ptrdiff_t>(a.call.extent[k_class]);
    const auto j_extent = static_cast<std::ptrdiff_t>(a.call.extent[j_class]);
    const V* packed = pack_outer_values<T, I, C>(a, task);
    const std::size_t packed_size = static_cast<std::size_t>(values) * batches;
    // The fast form: term = x·w, x packed (a value the outer loop computes, or else read for
    // every k into the pack after the outer loop's values), w a weight.
    constexpr std::array<ir::operand, 2> factors = weighted_factors<op, term, I, C>();
    std::ptrdiff_t sk = 0, sj = 0;
    const T* weights = nullptr;
    const V* x_first = nullptr;  // x of k = 0; the next k's a step of x_step further
    std::size_t x_step = packed_size;
    if constexpr (factors[0].s != ir::source::none) {
      weights = weight_at<factors[1], k_class, j_class>(a.call, task, sk, sj);
      if constexpr (packed_value<factors[0], I>()) {
        x_first = packed + (base::value_slot(factors[0].item) - base::first_outer_slot(I)) * batches;
      } else {
        V* xs = const_cast<V*>(packed) + static_cast<std::size_t>(k_extent) * packed_size;
        for (std::ptrdiff_t k = 0; k < k_extent; ++k) {
          task.index[k_class] = k;
          const auto x = tile_reader<factors[0], I, C>(a, packed + static_cast<std::size_t>(k) * packed_size);
          for (std::size_t b = 0; b < batches; ++b) xs[static_cast<std::size_t>(k) * batches + b] = x(b);
        }
        x_first = xs;
        x_step = batches;
      }
    }
    for (std::ptrdiff_t j0 = 0; j0 < j_extent; j0 += static_cast<std::ptrdiff_t>(tile)) {
      // (past the last j the tile repeats it, and leaves it out of the fold)
      const auto count =
          static_cast<std::size_t>(std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(tile), j_extent - j0));
      std::array<std::ptrdiff_t, tile> column;
      for (std::size_t t = 0; t < tile; ++t) column[t] = std::min(j0 + static_cast<std::ptrdiff_t>(t), j_extent - 1);
      for (std::ptrdiff_t start = 0; start < k_extent; start += held_terms) {
        std::array<rows_of<T>, tile> held;
        for (auto& h : held) h.fill(V(static_cast<T>(op::identity)));
        for (std::ptrdiff_t k = start; k < std::min(k_extent, start + held_terms); ++k) {
          const V* here = packed + static_cast<std::size_t>(k) * packed_size;
          if constexpr (factors[0].s != ir::source::none) {
            const V* x = x_first + static_cast<std::size_t>(k) * x_step;
            const T* row = weights + k * sk;
            rows_of<T> xs;
            for (std::size_t b = 0; b < batches; ++b) xs[b] = x[b];
#pragma GCC unroll 4
            for (std::size_t t = 0; t < tile; ++t) {
              const V w(row[column[t] * sj]);
#pragma GCC unroll 4
              for (std::size_t b = 0; b < batches; ++b) held[t][b] = xsimd::fma(xs[b], w, held[t][b]);
            }
          } else {
            task.index[k_class] = k;
            for (std::size_t t = 0; t < tile; ++t) {
              task.index[j_class] = column[t];
              const auto value = tile_reader<term, I, C>(a, here);
              for (std::size_t b = 0; b < batches; ++b) held[t][b] = op::combine(held[t][b], value(b));
            }
          }
        }
        for (std::size_t t = 0; t < count; ++t) {
          task.index[j_class] = j0 + static_cast<std::ptrdiff_t>(t);
          const auto value = [&](std::size_t b) { return held[t][b]; };
          if (start == 0 && written_whole(I - 1))
            block_accumulate<base::code(A).node, C, true>(a, task, value);
          else
            block_accumulate<base::code(A).node, C, false>(a, task, value);
        }
      }
    }
  }

  template <int I, int C>
  static constexpr bool dot_tiled() {
    if constexpr (base::dot_nest(I) >= 0)
      return dot_factors<I, C>()[0].s != ir::source::none;
    else
      return false;
  }
  // A dot nest's term as {x, w}: x a value of the inner loop that does not change with the outer class.
  template <int I, int C>
  static constexpr std::array<ir::operand, 2> dot_factors() {
    constexpr int A = base::dot_nest(I);
    return weighted_factors<reducer<base::code(A).node>, base::code(A).operands[0], I, C, base::code(I).cls>();
  }

  // A dot nest in block mode (nest_info::dot_nest, dot_factors): a[n, j] = Σ_k x[n, k]·W[j, k] for
  // tiles of `tile` j's at once, the row-dependent factor computed once per k for the whole tile,
  // the tile's accumulators (tile × block_batches registers) moved into the reduction's lanes after
  // every 256 k's (written by the first: its reset is skipped).
  template <class T, int I, int C>
  static void block_dot(const access<T>& a, task_state<T>& task) {
    using V = detail::batch<T>;
    constexpr int j_class = base::code(I).cls, k_class = base::code(base::inner_loop(I)).cls;
    constexpr int A = base::dot_nest(I);
    constexpr int r = base::code(A).node;
    constexpr std::array<ir::operand, 2> factors = dot_factors<I, C>();
    constexpr std::size_t tile = V::size * sizeof(T) >= 64 ? 4 : 2;  // 32 or 16 SIMD registers
    constexpr std::size_t batches = base::block_batches;
    using op = reducer<r>;
    const auto j_extent = static_cast<std::ptrdiff_t>(a.call.extent[j_class]);
    const auto k_extent = static_cast<std::ptrdiff_t>(a.call.extent[k_class]);
    std::ptrdiff_t sj = 0, sk = 0;
    const T* weights = weight_at<factors[1], j_class, k_class>(a.call, task, sj, sk);
    for (std::ptrdiff_t j0 = 0; j0 < j_extent; j0 += static_cast<std::ptrdiff_t>(tile)) {
      const auto count =
          static_cast<std::size_t>(std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(tile), j_extent - j0));
      std::array<const T*, tile> row;  // (past the last j, the last one again)
      for (std::size_t t = 0; t < tile; ++t)
        row[t] = weights + std::min(j0 + static_cast<std::ptrdiff_t>(t), j_extent - 1) * sj;
      for (std::ptrdiff_t start = 0; start < k_extent; start += held_terms) {
        std::array<rows_of<T>, tile> held;
        for (auto& h : held) h.fill(V(static_cast<T>(op::identity)));
        for (std::ptrdiff_t k = start; k < std::min(k_extent, start + held_terms); ++k) {
          task.index[k_class] = k;
          const auto x = tile_reader<factors[0], I, C>(a, static_cast<const V*>(nullptr));
          rows_of<T> xs;
          for (std::size_t b = 0; b < batches; ++b) xs[b] = x(b);
#pragma GCC unroll 4
          for (std::size_t t = 0; t < tile; ++t) {
            const V w(row[t][k * sk]);
#pragma GCC unroll 4
            for (std::size_t b = 0; b < batches; ++b) held[t][b] = xsimd::fma(xs[b], w, held[t][b]);
          }
        }
        for (std::size_t t = 0; t < count; ++t) {
          task.index[j_class] = j0 + static_cast<std::ptrdiff_t>(t);
          if constexpr (base::indexes(r, j_class)) {
            const auto value = [&](std::size_t b) { return held[t][b]; };
            if (start == 0)
              block_accumulate<r, C, true>(a, task, value);
            else
              block_accumulate<r, C, false>(a, task, value);
          } else {  // one element for every j: kept per j until the statements after the loop read it
            V* kept = reinterpret_cast<V*>(task.pack) + static_cast<std::size_t>(j0) * batches + t * batches;
            for (std::size_t b = 0; b < batches; ++b)
              kept[b] = start == 0 ? held[t][b] : op::combine(kept[b], held[t][b]);
          }
        }
      }
    }
    if constexpr (!base::indexes(r, j_class)) {  // the statements after the loop, each j's element in place
      constexpr int first = base::after_inner_loop(I), end = base::code(I).match;
      auto* element = base::template block_element<r>(a.call, task);
      for (std::ptrdiff_t j = 0; j < j_extent; ++j) {
        task.index[j_class] = j;
        const V* kept = reinterpret_cast<const V*>(task.pack) + static_cast<std::size_t>(j) * batches;
        for (std::size_t b = 0; b < batches; ++b) base::block_store(kept[b], element, b);
        [&]<int... K>(std::integer_sequence<int, K...>) { (block_step<T, first + K, C>(a, task), ...); }
        (std::make_integer_sequence<int, end - first>{});
      }
    }
  }

  // A rank update in block mode (nest_info::rank_update), dW[d, h] += Σ_rows x[row, d]·g[row, h]:
  // when the accumulated value is such a product of a factor that changes with d alone and one
  // that changes with h alone, both are computed once per block for every d and every h (the rows
  // past the last one zeroed), and tiles of d's × h's accumulate in registers, one per (d, h) with
  // the rows in its lanes, over the block's batches, then move into the reduction's lanes. Any
  // other value is computed per (d, h) in the same tiles.
  template <class T, int I, int C>
  static void block_rank_update(const access<T>& a, task_state<T>& task) {
    using V = detail::batch<T>;
    constexpr ir::instruction outer = base::code(I);
    constexpr int values = base::outer_values(I);
    constexpr int d_class = outer.cls, h_class = base::code(base::inner_loop(I)).cls;
    constexpr int A = base::rank_update(I, C);
    constexpr int r = base::code(A).node;
    constexpr ir::operand term = base::code(A).operands[0];
    constexpr std::size_t tile = V::size * sizeof(T) >= 64 ? 4 : 2;  // 32 or 16 SIMD registers
    constexpr std::size_t batches = base::block_batches;
    using op = reducer<r>;
    const V* packed = pack_outer_values<T, I, C>(a, task);
    const auto d_extent = static_cast<std::ptrdiff_t>(a.call.extent[d_class]);
    const auto h_extent = static_cast<std::ptrdiff_t>(a.call.extent[h_class]);
    const block_state<T>& rows = *a.rows;
    const std::size_t packed_size = static_cast<std::size_t>(values) * batches;
    // the task's accumulator of element (d, h): total + d·sd + h·sh
    task.index[d_class] = 0;
    task.index[h_class] = 0;
    auto* total = base::template accumulator<r>(a.call, task) + base::buffer_offset(a.call, task, r);
    const std::ptrdiff_t sd = a.call.stride[static_cast<std::size_t>(r)][d_class],
                         sh = a.call.stride[static_cast<std::size_t>(r)][h_class];
    auto fold = [&](std::ptrdiff_t d0, std::ptrdiff_t h0, std::array<std::array<V, tile>, tile>& held) {
      for (std::size_t td = 0; td < tile && d0 + static_cast<std::ptrdiff_t>(td) < d_extent; ++td)
        for (std::size_t th = 0; th < tile && h0 + static_cast<std::ptrdiff_t>(th) < h_extent; ++th)
          fold_into<op>(
              total + (d0 + static_cast<std::ptrdiff_t>(td)) * sd + (h0 + static_cast<std::ptrdiff_t>(th)) * sh,
              held[td][th]);
    };
    if constexpr (sum_of_products<op, term>()) {
      constexpr ir::instruction times = base::code(term.item);
      constexpr bool swapped = base::operand_depends(times.operands[0], I, h_class);
      constexpr ir::operand x = times.operands[swapped ? 1 : 0], g = times.operands[swapped ? 0 : 1];
      if constexpr (!base::operand_depends(x, I, h_class) && !base::operand_depends(g, I, d_class)) {
        // the factors for every d and every h, the missing rows zeroed, and the h's padded to
        // whole batches with zeros
        constexpr std::size_t rows_per_block = base::template block_rows<T>;
        const auto padded = static_cast<std::size_t>((h_extent + static_cast<std::ptrdiff_t>(V::size) - 1) /
                                                     static_cast<std::ptrdiff_t>(V::size)) *
                            V::size;
        V* xs = reinterpret_cast<V*>(task.pack) + static_cast<std::size_t>(d_extent) * packed_size;
        V* gs = xs + static_cast<std::size_t>(d_extent) * batches;
        auto factor = [&]<ir::operand O>(V* out, std::ptrdiff_t at_d) {
          const auto value = tile_reader<O, I, C>(a, packed + static_cast<std::size_t>(at_d) * packed_size);
          for (std::size_t b = 0; b < batches; ++b)
            out[b] = rows.full ? value(b) : xsimd::select(rows.valid[b], value(b), V(T(0)));
        };
        for (std::ptrdiff_t d = 0; d < d_extent; ++d) {
          task.index[d_class] = d;
          factor.template operator()<x>(xs + static_cast<std::size_t>(d) * batches, d);
        }
        task.index[d_class] = 0;
        for (std::ptrdiff_t h = 0; h < h_extent; ++h) {
          task.index[h_class] = h;
          factor.template operator()<g>(gs + static_cast<std::size_t>(h) * batches, 0);
        }
        std::fill(gs + static_cast<std::size_t>(h_extent) * batches, gs + padded * batches, V(T(0)));
        // dW[d, h] += Σ_rows x[row, d]·g[row, h] as a matrix product over the block's rows: g
        // transposed to a row of h's per block row (in square tiles of SIMD width), then tiles of
        // DT d's × HT batches of h's in registers, a broadcast x[row, d] each, over every row; the
        // tiles add into the accumulator's rows, contiguous along h. A tile is 4 d's × 2 batches
        // while two batches of h's are left, else 8 d's × 1 (no multiply-adds of the padding's zeros).
        static_assert(detail::tile_size<T> == V::size && rows_per_block % V::size == 0);
        T* gT = reinterpret_cast<T*>(gs + padded * batches);
        const T* gsT = reinterpret_cast<const T*>(gs);
        for (std::size_t h0 = 0; h0 < padded; h0 += V::size)
          for (std::size_t r0 = 0; r0 < rows_per_block; r0 += V::size)
            detail::transpose_tile(gsT + h0 * rows_per_block + r0, static_cast<std::ptrdiff_t>(rows_per_block),
                                   gT + r0 * padded + h0, static_cast<std::ptrdiff_t>(padded));
        const T* xsT = reinterpret_cast<const T*>(xs);
        auto tile = [&]<std::size_t DT, std::size_t HT>(std::ptrdiff_t d0, std::size_t h0) {
          std::array<std::array<V, HT>, DT> held;
          for (auto& h : held) h.fill(V(T(0)));
          std::array<const T*, DT> xrow;  // (past the last d, the last one again)
          for (std::size_t t = 0; t < DT; ++t)
            xrow[t] = xsT + static_cast<std::size_t>(std::min(d0 + static_cast<std::ptrdiff_t>(t), d_extent - 1)) *
                                rows_per_block;
          for (std::size_t row = 0; row < rows_per_block; ++row) {
            const T* g_row = gT + row * padded + h0;
            std::array<V, HT> g;
            for (std::size_t u = 0; u < HT; ++u) g[u] = V::load_unaligned(g_row + u * V::size);
#pragma GCC unroll 8
            for (std::size_t t = 0; t < DT; ++t) {
              const V x(xrow[t][row]);
              for (std::size_t u = 0; u < HT; ++u) held[t][u] = xsimd::fma(x, g[u], held[t][u]);
            }
          }
          std::array<T, HT * V::size> spill;
          const std::size_t count = std::min(HT * V::size, static_cast<std::size_t>(h_extent) - h0);
          for (std::size_t t = 0; t < DT && d0 + static_cast<std::ptrdiff_t>(t) < d_extent; ++t) {
            auto* target = total + (d0 + static_cast<std::ptrdiff_t>(t)) * sd;
            for (std::size_t u = 0; u < HT; ++u) held[t][u].store_unaligned(spill.data() + u * V::size);
            for (std::size_t e = 0; e < count; ++e) {
              auto& slot = target[static_cast<std::ptrdiff_t>(h0 + e) * sh];
              slot = static_cast<std::remove_reference_t<decltype(slot)>>(slot + spill[e]);
            }
          }
        };
        for (std::size_t h0 = 0; h0 < padded; h0 += 2 * V::size) {
          if (h0 + V::size < padded)
            for (std::ptrdiff_t d0 = 0; d0 < d_extent; d0 += 4) tile.template operator()<4, 2>(d0, h0);
          else
            for (std::ptrdiff_t d0 = 0; d0 < d_extent; d0 += 8) tile.template operator()<8, 1>(d0, h0);
        }
        return;
      }
    }
    for (std::ptrdiff_t d0 = 0; d0 < d_extent; d0 += static_cast<std::ptrdiff_t>(tile))
      for (std::ptrdiff_t h0 = 0; h0 < h_extent; h0 += static_cast<std::ptrdiff_t>(tile)) {
        std::array<std::array<V, tile>, tile> held;
        for (std::size_t td = 0; td < tile; ++td) {
          const std::ptrdiff_t d = std::min(d0 + static_cast<std::ptrdiff_t>(td), d_extent - 1);
          task.index[d_class] = d;
          for (std::size_t th = 0; th < tile; ++th) {
            task.index[h_class] = std::min(h0 + static_cast<std::ptrdiff_t>(th), h_extent - 1);
            const auto value = tile_reader<term, I, C>(a, packed + static_cast<std::size_t>(d) * packed_size);
            rows_of<T> terms;
            for (std::size_t b = 0; b < batches; ++b) terms[b] = mask_rows<op>(value(b), rows, b);
            for (std::size_t half = batches / 2; half > 0; half /= 2)
              for (std::size_t b = 0; b < half; ++b) terms[b] = op::combine(terms[b], terms[b + half]);
            held[td][th] = terms[0];
          }
        }
        fold(d0, h0, held);
      }
  }
};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace kobai::cpu

// The types this layer defines, as the layers above it name them.
#define KOBAI_CPU_INTERPRETER_TYPES(base)             \
  template <class T>                                  \
  using batches = typename base::template batches<T>; \
  template <class T>                                  \
  using access = typename base::template access<T>;
