// The fifth layer of cpu::program (see cpu/nest_info.hpp): the interpreter.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "kobai/cpu/folds.hpp"

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
template <expression... Outputs>
struct interpreter : folds<Outputs...> {
  using base = folds<Outputs...>;
  KOBAI_CPU_NEST_INFO_TYPES(base)
  KOBAI_CPU_LAYOUT_TYPES(base)
  KOBAI_CPU_ADDRESSING_TYPES(base)
  template <class T>
  using batches = std::array<detail::batch<T>, base::code_size + 1>;  // by instruction

  /// What an instruction reads from in a mode: the call, its task (none at the root) and the
  /// bindings; batch: the loop's cursor, its element i, the values it computed (`local`, whose
  /// depth is `depth` + 1); block: the block's rows, the values computed for them (`block`,
  /// batches by value slot) and the batch `i` of the block being computed.
  template <class T, class Point>
  struct access {
    const call_state<T>& call;
    const task_state<T>* task;
    const Point& point;
    const cursor* at = nullptr;
    std::ptrdiff_t i = 0;
    const batches<T>* local = nullptr;
    int depth = 0;
    const block_state<T>* rows = nullptr;
    const detail::batch<T>* block = nullptr;
  };
  template <mode M, class T>
  using value_in = std::conditional_t<M == mode::root || M == mode::scalar, T, detail::batch<T>>;

  template <class V, class Op, class Array, std::size_t... K>
  static V apply_op(const Array& args, std::index_sequence<K...>) {
    return Op::apply(args[K]...);
  }
  template <int N, class V, class Args>
  static V apply_node(const Args& args) {
    return [&]<class Op, class... As>(node<Op, As...>*) {
      return apply_op<V, Op>(args, std::index_sequence_for<As...>{});
    }(static_cast<node_at<N>*>(nullptr));
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

  /// The value of operand O in mode M: batch at element a.i of the innermost loop over class C,
  /// block along the rows' class C, for the rows of batch a.i of the block.
  template <mode M, ir::operand O, int C, class T, class Point>
  static value_in<M, T> operand(const access<T, Point>& a) {
    using V = detail::batch<T>;
    const call_state<T>& call = a.call;
    constexpr auto n = static_cast<std::size_t>(O.node);
    if constexpr (O.s == ir::source::none) {
      return value_in<M, T>(0);
    } else if constexpr (M == mode::root) {  // outside every loop: scalars, folded results, root values
      if constexpr (O.s == ir::source::constant)
        return static_cast<T>(node_at<O.node>::value.value());
      else if constexpr (O.s == ir::source::scalar_leaf)
        return static_cast<T>(a.point.template get<node_at<O.node>::name>());
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
        return static_cast<T>(a.point.template get<node_at<O.node>::name>());
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
    } else {  // block
      const task_state<T>& task = *a.task;
      const block_state<T>& rows = *a.rows;
      if constexpr (O.s == ir::source::tensor_leaf) {
        constexpr int axis = base::axis_of(O.node, C);
        const T* first = call.leaf[n] + base::leaf_offset(call, task, O.node);
        if constexpr (axis < 0)
          return V(*first);
        else
          return base::template gather_rows<T>(first, call.leaf_stride[n][axis], rows, a.i);
      } else if constexpr (O.s == ir::source::reduction && base::plan.global[n]) {  // completed by an earlier loop
        const T* first = base::result(call, task, O.node) + base::buffer_offset(call, task, O.node);
        if constexpr (((base::plan.buffer_dims[n] >> C) & 1U) == 0)
          return V(*first);
        else
          return base::template gather_rows<T>(first, call.stride[n][C], rows, a.i);
      } else if constexpr (O.s == ir::source::reduction) {  // local: each row's element, a lane each
        return base::template block_load<T>(base::template block_element<O.node>(call, task), a.i);
      } else if constexpr (O.s == ir::source::view) {
        return base::template gather_rows<T>(call.view_data[n] + base::view_offset(call, task, O.node),
                                             base::template view_step<false>(call, O.node, C), rows, a.i);
      } else if constexpr (O.s == ir::source::value && base::code(O.item).depth > 0) {
        return a.block[base::value_slot(O.item) * base::block_batches + static_cast<std::size_t>(a.i)];
      } else {
        return V(operand<mode::scalar, O, C>(a));
      }
    }
  }

  /// Node `ins.node` of compute instruction J in mode M. One element (scalar mode) is computed with
  /// the bits it has in a SIMD lane when libm and xsimd may round it differently: a value computed
  /// in the scalar tail of one loop and in the batches of another must compare equal (a max's ties,
  /// a where's branch).
  template <mode M, int J, int C, class T, class Point>
  static value_in<M, T> compute(const access<T, Point>& a) {
    using V = value_in<M, T>;
    constexpr ir::instruction ins = base::code(J);
    constexpr int n = ins.node;
    if constexpr (base::info(n).k == ir::kind::numel) {
      return V(static_cast<T>(numel_value(a.call, base::info(n).args[0])));
    } else {
      std::array<V, 3> args{};
      [&]<std::size_t... K>(std::index_sequence<K...>) { ((args[K] = operand<M, ins.operands[K], C>(a)), ...); }
      (std::make_index_sequence<3>{});
      if constexpr ((M == mode::scalar || M == mode::root) && !node_at<n>::op::exact) {
        using B = detail::batch<T>;
        return apply_node<n, B>(std::array<B, 3>{B(args[0]), B(args[1]), B(args[2])}).get(0);
      } else {
        return apply_node<n, V>(args);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Scalar mode: instructions outside the innermost loops, and innermost loops' scalar tails

  template <class T, int I, class Point>
  static void scalar_step(const call_state<T>& call, task_state<T>& task, const Point& point) {
    constexpr ir::instruction ins = base::code(I);
    const access<T, Point> a{call, &task, point};
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
      call.view_data[ins.node][base::source_offset(call, task, ins.node)] =
          operand<mode::scalar, ins.operands[0], -1>(a);
    }
  }

  // Instructions [I, End) at one loop level.
  template <class T, int I, int End, class Point>
  static void run_range(const call_state<T>& call, task_state<T>& task, const Point& point) {
    if constexpr (I < End) {
      constexpr ir::instruction ins = base::code(I);
      if constexpr (ins.op == ir::instr::enter) {
        run_loop<T, I>(call, task, point, 0, static_cast<std::ptrdiff_t>(call.extent[ins.cls]));
        base::template round_shadows<T, I>(call, task);
        run_range<T, ins.match + 1, End>(call, task, point);
      } else {
        scalar_step<T, I>(call, task, point);
        run_range<T, I + 1, End>(call, task, point);
      }
    }
  }

  // The loop entered at instruction I over [begin, end) of its class.
  template <class T, int I, class Point>
  static void run_loop(const call_state<T>& call, task_state<T>& task, const Point& point, std::ptrdiff_t begin,
                       std::ptrdiff_t end) {
    constexpr ir::instruction ins = base::code(I);
    if constexpr (base::innermost(I)) {
      run_innermost<T, I>(call, task, point, begin, end);
    } else {
      for (std::ptrdiff_t i = begin; i < end; ++i) {
        task.index[ins.cls] = i;
        run_range<T, I + 1, ins.match>(call, task, point);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Batch mode: the innermost loop entered at I, SIMD batches along its class, then a scalar tail.
  // A reduction folding this class accumulates in a register (`folding`), added to its
  // accumulator every 16 batches; a top-level loop's accumulators also move to double every block.

  template <class T, int I, class Point>
  static void run_innermost(const call_state<T>& call, task_state<T>& task, const Point& point, std::ptrdiff_t begin,
                            std::ptrdiff_t end) {
    using V = detail::batch<T>;
    constexpr ir::instruction ins = base::code(I);
    constexpr int c = ins.cls;
    constexpr auto width = static_cast<std::ptrdiff_t>(V::size);
    batches<T> local;
    batches<T> folding;  // by instruction: registers of reductions over c
    const cursor at = base::template start<T, I>(call, task);
    auto fold_registers = [&] {
      base::template for_body<I>([&]<int J>() {
        constexpr ir::instruction step = base::code(J);
        if constexpr (step.op == ir::instr::accumulate && ((base::plan.buffer_dims[step.node] >> c) & 1U) == 0) {
          using op = reducer<step.node>;
          if constexpr (base::plan.global[step.node]) {  // straight into the task's double partial
            double& slot =
                task.partial[call.partial_offset[step.node] + static_cast<std::size_t>(at.buffer[step.node])];
            slot = op::combine(slot, base::template horizontal<op>(folding[J]));
          } else {
            auto* slot = base::template accumulator<step.node>(call, task) + at.buffer[step.node];
            *slot = static_cast<std::remove_reference_t<decltype(*slot)>>(
                op::combine(static_cast<double>(*slot), base::template horizontal<op>(folding[J])));
          }
          folding[J] = V(static_cast<T>(op::identity));
        }
      });
    };
    base::template for_body<I>([&]<int J>() {
      constexpr ir::instruction step = base::code(J);
      if constexpr (step.op == ir::instr::accumulate) folding[J] = V(static_cast<T>(reducer<step.node>::identity));
    });
    access<T, Point> a{call, &task, point, &at, begin, &local, ins.depth};
    while (a.i + width <= end) {
      const std::ptrdiff_t block_end = std::min(end, a.i + 16 * width);
      for (; a.i + width <= block_end; a.i += width)
        base::template for_body<I>([&]<int J>() { batch_step<J, c>(a, local, folding); });
      fold_registers();
      if constexpr (ins.depth == 0) base::template flush<T, I, false>(call, task);
    }
    for (std::ptrdiff_t i = a.i; i < end; ++i) {
      task.index[c] = i;
      base::template for_body<I>([&]<int J>() { scalar_step<T, J>(call, task, point); });
    }
  }

  template <int J, int C, class T, class Point>
  static void batch_step(const access<T, Point>& a, batches<T>& local, batches<T>& folding) {
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
        folding[J] = op::combine(folding[J], value);
      } else {
        const std::ptrdiff_t stride = call.stride[ins.node][C];
        base::template combine_into<op>(
            value, base::template accumulator<ins.node>(call, *a.task) + at.buffer[ins.node] + a.i * stride, stride);
      }
    } else if constexpr (ins.op == ir::instr::materialize) {
      const std::ptrdiff_t stride = base::template view_step<true>(call, ins.node, C);
      base::scatter(operand<mode::batch, ins.operands[0], C>(a),
                    call.view_data[ins.node] + at.source[ins.node] + a.i * stride, stride);
    } else if constexpr (ins.op == ir::instr::store) {
      constexpr std::size_t k = base::output_slot(ins.node);
      constexpr int axis = base::axis_of(ins.node, C);
      const V value = operand<mode::batch, ins.operands[0], C>(a);
      if constexpr (axis == base::info(ins.node).rank - 1) {  // row-major: the last axis is contiguous
        value.store_unaligned(call.out[k] + at.out[k] + a.i);
      } else {
        const std::ptrdiff_t stride = call.out_stride[k][static_cast<std::size_t>(axis)];
        base::scatter(value, call.out[k] + at.out[k] + a.i * stride, stride);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Block mode: a top-level loop with inner loops (per-row logits, losses and gradients, as in
  // logistic regression, softmax classifiers and MLPs) runs its rows in blocks of block_rows<T>,
  // one row per SIMD lane, block_batches batches per block. Its body runs once per block: the
  // inner loops element by element, each instruction on the whole block. Whatever the inner
  // extents, every operation is a full SIMD batch; the rows past the end of the last block repeat
  // its last row and are left out of every accumulation and store.

  template <class T, int I, class Point>
  static void run_blocks(const call_state<T>& call, task_state<T>& task, const Point& point, std::ptrdiff_t begin,
                         std::ptrdiff_t end, detail::batch<T>* block) {
    constexpr ir::instruction ins = base::code(I);
    constexpr auto rows = static_cast<std::ptrdiff_t>(base::template block_rows<T>);
    block_state<T> state;
    for (std::ptrdiff_t first = begin; first < end; first += rows) {
      state.set(std::min(rows, end - first));
      task.index[ins.cls] = first;
      const access<T, Point> a{call, &task, point, nullptr, 0, nullptr, 0, &state, block};
      block_range<T, I + 1, ins.match, ins.cls>(a);
    }
  }

  template <class T, int I, int End, int C, class Point>
  static void block_range(const access<T, Point>& a) {
    if constexpr (I < End) {
      constexpr ir::instruction ins = base::code(I);
      task_state<T>& task = const_cast<task_state<T>&>(*a.task);
      if constexpr (ins.op == ir::instr::enter) {
        if constexpr (base::contraction(I) >= 0) {
          block_contraction<T, I, C>(a, task);
        } else if constexpr (base::innermost(I)) {
          block_innermost<T, I, C>(a, task);
        } else {
          const auto extent = static_cast<std::ptrdiff_t>(a.call.extent[ins.cls]);
          for (std::ptrdiff_t j = 0; j < extent; ++j) {
            task.index[ins.cls] = j;
            block_range<T, I + 1, ins.match, C>(a);
          }
        }
        block_range<T, ins.match + 1, End, C>(a);
      } else {
        block_step<T, I, C>(a, task);
        block_range<T, I + 1, End, C>(a);
      }
    }
  }

  // The rows' accumulations held in registers (`held`, block_batches batches each) folded into
  // their buffers: a local reduction's lanes, or (global) the task's double lanes, the rows past
  // the last one left out.
  template <class T, int A, int C, class Point>
  static void fold_held(const access<T, Point>& a, task_state<T>& task,
                        std::array<detail::batch<T>, base::block_batches>& held) {
    using V = detail::batch<T>;
    using op = reducer<base::code(A).node>;
    constexpr int r = base::code(A).node;
    if constexpr (!base::plan.global[static_cast<std::size_t>(r)]) {
      auto* element = base::template block_element<r>(a.call, task);
      for (std::size_t b = 0; b < base::block_batches; ++b) base::template block_combine<op>(held[b], element, b);
    } else if constexpr (((base::plan.buffer_dims[static_cast<std::size_t>(r)] >> C) & 1U) != 0) {  // a row each
      auto* first = base::template accumulator<r>(a.call, task) + base::buffer_offset(a.call, task, r);
      for (std::size_t b = 0; b < base::block_batches; ++b)
        base::template combine_rows<op>(held[b], first, a.call.stride[static_cast<std::size_t>(r)][C], *a.rows, b);
    } else {
      for (std::size_t b = 0; b < base::block_batches; ++b)
        if (!a.rows->full) held[b] = xsimd::select(a.rows->valid[b], held[b], V(static_cast<T>(op::identity)));
      for (std::size_t half = base::block_batches / 2; half > 0; half /= 2)
        for (std::size_t b = 0; b < half; ++b) held[b] = op::combine(held[b], held[b + half]);
      base::template combine_into<op>(held[0], base::lane_slot(a.call, task, r), 1);
    }
    held.fill(V(static_cast<T>(op::identity)));
  }

  /// Most terms a reduction adds up in T registers before they move to its buffer (in double for
  /// a float reduction).
  static constexpr std::ptrdiff_t held_terms = 256;

  // An innermost loop in block mode: the reductions it folds (folds_in_registers) accumulate in
  // registers across its iterations; every other instruction runs as block_step.
  template <class T, int I, int C, class Point>
  static void block_innermost(const access<T, Point>& a, task_state<T>& task) {
    using V = detail::batch<T>;
    constexpr ir::instruction ins = base::code(I);
    constexpr int held_count = [] {
      int count = 0;
      for (int j = I + 1; j < ins.match; ++j) count += base::folds_in_registers(j, I) ? 1 : 0;
      return count;
    }();
    if constexpr (held_count == 0) {
      const auto extent = static_cast<std::ptrdiff_t>(a.call.extent[ins.cls]);
      for (std::ptrdiff_t j = 0; j < extent; ++j) {
        task.index[ins.cls] = j;
        base::template for_body<I>([&]<int J>() { block_step<T, J, C>(a, task); });
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
      std::array<std::array<V, base::block_batches>, held_count> held;
      base::template for_body<I>([&]<int J>() {
        if constexpr (held_slot[J] >= 0)
          held[held_slot[J]].fill(V(static_cast<T>(reducer<base::code(J).node>::identity)));
      });
      const auto extent = static_cast<std::ptrdiff_t>(a.call.extent[ins.cls]);
      access<T, Point> at = a;
      for (std::ptrdiff_t start = 0; start < extent; start += held_terms) {
        for (std::ptrdiff_t j = start; j < std::min(extent, start + held_terms); ++j) {
          task.index[ins.cls] = j;
          base::template for_body<I>([&]<int J>() {
            if constexpr (held_slot[J] >= 0) {
              using op = reducer<base::code(J).node>;
              for (std::size_t b = 0; b < base::block_batches; ++b) {
                at.i = static_cast<std::ptrdiff_t>(b);
                held[held_slot[J]][b] =
                    op::combine(held[held_slot[J]][b], operand<mode::block, base::code(J).operands[0], C>(at));
              }
            } else {
              block_step<T, J, C>(a, task);
            }
          });
        }
        base::template for_body<I>([&]<int J>() {
          if constexpr (held_slot[J] >= 0) fold_held<T, J, C>(a, task, held[held_slot[J]]);
        });
      }
    }
  }

  // A contraction nest in block mode (nest_info::contraction): the outer loop's values for every
  // k are computed once per block and packed; then for each tile of `tile` j's, the tile's
  // accumulators (tile × block_batches registers) run over k, reading the packed values and the
  // inner loop's operands (W[k, j], broadcast), and fold into the reduction's lanes at the end.
  template <class T, int I, int C, class Point>
  static void block_contraction(const access<T, Point>& a, task_state<T>& task) {
    using V = detail::batch<T>;
    constexpr std::size_t batches_per_block = base::block_batches;
    constexpr ir::instruction outer = base::code(I);
    constexpr int values = base::contraction_values(I);
    constexpr int inner = I + 1 + values;
    constexpr int j_class = base::code(inner).cls;
    constexpr int A = base::contraction(I);
    constexpr std::size_t tile = V::size * sizeof(T) >= 64 ? 4 : 2;  // 32 or 16 SIMD registers
    using op = reducer<base::code(A).node>;
    const auto k_extent = static_cast<std::ptrdiff_t>(a.call.extent[outer.cls]);
    const auto j_extent = static_cast<std::ptrdiff_t>(a.call.extent[j_class]);
    // pack: the outer loop's values for every k, block_batches batches each
    V* packed = reinterpret_cast<V*>(task.pack);
    if constexpr (values > 0)
      for (std::ptrdiff_t k = 0; k < k_extent; ++k) {
        task.index[outer.cls] = k;
        [&]<int... K>(std::integer_sequence<int, K...>) { (block_step<T, I + 1 + K, C>(a, task), ...); }
        (std::make_integer_sequence<int, values>{});
        const V* computed = a.block + base::value_slot(I + 1) * batches_per_block;
        std::copy_n(computed, values * batches_per_block,
                    packed + static_cast<std::size_t>(k) * values * batches_per_block);
      }
    for (std::ptrdiff_t j0 = 0; j0 < j_extent; j0 += static_cast<std::ptrdiff_t>(tile)) {
      // (past the last j the tile repeats it, and leaves it out of the fold)
      const auto count =
          static_cast<std::size_t>(std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(tile), j_extent - j0));
      std::array<std::array<V, batches_per_block>, tile> held;
      for (auto& h : held) h.fill(V(static_cast<T>(op::identity)));
      for (std::ptrdiff_t start = 0; start < k_extent; start += held_terms) {
        for (std::ptrdiff_t k = start; k < std::min(k_extent, start + held_terms); ++k) {
          task.index[outer.cls] = k;
          const V* here = packed + static_cast<std::size_t>(k) * values * batches_per_block;
#pragma GCC unroll 4
          for (std::size_t t = 0; t < tile; ++t) {
            task.index[j_class] = std::min(j0 + static_cast<std::ptrdiff_t>(t), j_extent - 1);
#pragma GCC unroll 4
            for (std::size_t b = 0; b < batches_per_block; ++b)
              held[t][b] = tile_accumulate<op, base::code(A).operands[0], I, C>(
                  with_batch(a, static_cast<std::ptrdiff_t>(b)), here, held[t][b]);
          }
        }
        for (std::size_t t = 0; t < count; ++t) {
          task.index[j_class] = j0 + static_cast<std::ptrdiff_t>(t);
          fold_held<T, A, C>(a, task, held[t]);
        }
      }
    }
  }
  template <class T, class Point>
  static access<T, Point> with_batch(const access<T, Point>& a, std::ptrdiff_t b) {
    access<T, Point> at = a;
    at.i = b;
    return at;
  }
  // op::combine(total, the value of operand O) in a contraction tile: a product added to a sum is
  // one fused multiply-add.
  template <class Op, ir::operand O, int I, int C, class T, class Point>
  static detail::batch<T> tile_accumulate(const access<T, Point>& a, const detail::batch<T>* packed,
                                          const detail::batch<T>& total) {
    if constexpr (in_tile<O, I>() && std::is_same_v<Op, ops::sum>) {
      if constexpr (std::is_same_v<typename node_at<O.node>::op, ops::mul>) {
        constexpr ir::instruction product = base::code(O.item);
        return xsimd::fma(tile_operand<product.operands[0], I, C>(a, packed),
                          tile_operand<product.operands[1], I, C>(a, packed), total);
      } else {
        return Op::combine(total, tile_operand<O, I, C>(a, packed));
      }
    } else {
      return Op::combine(total, tile_operand<O, I, C>(a, packed));
    }
  }
  // Whether operand O is a value the inner loop of the contraction nest at I computes.
  template <ir::operand O, int I>
  static constexpr bool in_tile() {
    return O.s == ir::source::value && O.item > I + base::contraction_values(I);
  }
  // Operand O in a contraction tile, for batch a.i: the outer loop's values from the packed ones,
  // the inner loop's values computed in place, everything else as in block mode.
  template <ir::operand O, int I, int C, class T, class Point>
  static detail::batch<T> tile_operand(const access<T, Point>& a, const detail::batch<T>* packed) {
    if constexpr (in_tile<O, I>()) {
      constexpr ir::instruction ins = base::code(O.item);
      constexpr int n = ins.node;
      if constexpr (base::info(n).k == ir::kind::numel) {
        return compute<mode::block, O.item, C>(a);
      } else {
        std::array<detail::batch<T>, 3> args{};
        [&]<std::size_t... K>(std::index_sequence<K...>) {
          ((args[K] = tile_operand<ins.operands[K], I, C>(a, packed)), ...);
        }
        (std::make_index_sequence<3>{});
        return apply_node<n, detail::batch<T>>(args);
      }
    } else if constexpr (O.s == ir::source::value && O.item > I) {  // the outer loop's, packed
      return packed[static_cast<std::size_t>(O.item - I - 1) * base::block_batches + static_cast<std::size_t>(a.i)];
    } else {
      return operand<mode::block, O, C>(a);
    }
  }

  template <class T, int J, int C, class Point>
  static void block_step(const access<T, Point>& a, task_state<T>& task) {
    using V = detail::batch<T>;
    constexpr ir::instruction ins = base::code(J);
    constexpr std::size_t batches_per_block = base::block_batches;
    const call_state<T>& call = a.call;
    const block_state<T>& rows = *a.rows;
    access<T, Point> at = a;
    if constexpr (ins.op == ir::instr::compute) {
      auto* values = const_cast<V*>(a.block) + base::value_slot(J) * batches_per_block;
      for (std::size_t b = 0; b < batches_per_block; ++b) {
        at.i = static_cast<std::ptrdiff_t>(b);
        values[b] = compute<mode::block, J, C>(at);
      }
    } else if constexpr (ins.op == ir::instr::accumulate) {
      using op = reducer<ins.node>;
      constexpr auto n = static_cast<std::size_t>(ins.node);
      if constexpr (!base::plan.global[n]) {  // each row's own accumulator: a lane each
        auto* element = base::template block_element<ins.node>(call, task);
        for (std::size_t b = 0; b < batches_per_block; ++b) {
          at.i = static_cast<std::ptrdiff_t>(b);
          base::template block_combine<op>(operand<mode::block, ins.operands[0], C>(at), element, b);
        }
      } else if constexpr (((base::plan.buffer_dims[n] >> C) & 1U) != 0) {
        // indexed by the rows themselves: each row has its own element (a global reduction made so
        // because a later loop reads it)
        auto* first = base::template accumulator<ins.node>(call, task) + base::buffer_offset(call, task, ins.node);
        for (std::size_t b = 0; b < batches_per_block; ++b) {
          at.i = static_cast<std::ptrdiff_t>(b);
          base::template combine_rows<op>(operand<mode::block, ins.operands[0], C>(at), first, call.stride[n][C], rows,
                                          b);
        }
      } else {  // the block's batches folded together, then into the double lanes (folded into the
                // partials after each run of blocks)
        std::array<V, batches_per_block> values;
        for (std::size_t b = 0; b < batches_per_block; ++b) {
          at.i = static_cast<std::ptrdiff_t>(b);
          values[b] = operand<mode::block, ins.operands[0], C>(at);
          if (!rows.full) values[b] = xsimd::select(rows.valid[b], values[b], V(static_cast<T>(op::identity)));
        }
        for (std::size_t half = batches_per_block / 2; half > 0; half /= 2)
          for (std::size_t b = 0; b < half; ++b) values[b] = op::combine(values[b], values[b + half]);
        base::template combine_into<op>(values[0], base::lane_slot(call, task, ins.node), 1);
      }
    } else if constexpr (ins.op == ir::instr::store) {
      constexpr std::size_t k = base::output_slot(ins.node);
      T* first = call.out[k] + base::offset_of(task, ins.node, call.out_stride[k]);
      const std::ptrdiff_t stride = call.out_stride[k][static_cast<std::size_t>(base::axis_of(ins.node, C))];
      for (std::size_t b = 0; b < batches_per_block; ++b) {
        at.i = static_cast<std::ptrdiff_t>(b);
        base::template store_rows<T>(operand<mode::block, ins.operands[0], C>(at), first, stride, rows, b);
      }
    } else if constexpr (ins.op == ir::instr::reset) {  // a local reduction (global ones reset per task)
      using op = reducer<ins.node>;
      auto* first = base::template block_buffer<ins.node>(call, task);
      std::fill_n(first, call.size[ins.node] * base::template block_rows<T>,
                  static_cast<std::remove_reference_t<decltype(*first)>>(op::identity));
    } else if constexpr (ins.op == ir::instr::materialize) {
      T* first = call.view_data[ins.node] + base::source_offset(call, task, ins.node);
      const std::ptrdiff_t stride = base::template view_step<true>(call, ins.node, C);
      for (std::size_t b = 0; b < batches_per_block; ++b) {
        at.i = static_cast<std::ptrdiff_t>(b);
        base::template store_rows<T>(operand<mode::block, ins.operands[0], C>(at), first, stride, rows, b);
      }
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
  template <class T, class Point>                     \
  using access = typename base::template access<T, Point>;
