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
/// SIMD batch along an innermost loop (batch), a batch of consecutive rows of a top-level loop, one
/// per lane (lanes), or one value outside every loop (root). Every mode computes a node in T with
/// the same bits: a value outside every loop equals the same value computed in a loop (a cube of
/// a max against the cube of its argmax element is a tie in float too).
enum class mode : std::uint8_t { scalar, batch, lanes, root };

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

  // An innermost loop runs on its own (no_row), or for one row r of a group of rows that a
  // top-level loop runs as SIMD lanes (one_row): then values computed per row are lane r of the
  // group's batches, and the row's local reductions are lane r of their lane accumulators.
  struct no_row {};
  template <class T>
  struct one_row {
    const batches<T>* values;
    std::size_t r;
  };
  template <class Row>
  static constexpr bool in_row = !std::is_same_v<Row, no_row>;

  /// What an instruction reads from in a mode: the call, its task (none at the root) and the
  /// bindings; batch: the loop's cursor, its element i, the values it computed (`local`, whose
  /// depth is `depth` + 1) and the row it runs for; lanes: the row group's values (`local`).
  template <class T, class Point, class Row = no_row>
  struct access {
    const call_state<T>& call;
    const task_state<T>* task;
    const Point& point;
    const cursor* at = nullptr;
    std::ptrdiff_t i = 0;
    const batches<T>* local = nullptr;
    int depth = 0;
    Row row{};
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
  /// lanes along the rows' class C.
  template <mode M, ir::operand O, int C, class T, class Point, class Row>
  static value_in<M, T> operand(const access<T, Point, Row>& a) {
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
      constexpr bool stride_c = ((base::plan.buffer_dims[n] >> C) & 1U) != 0;                // a buffer indexed by C
      if constexpr (in_row<Row> && O.s == ir::source::reduction && !base::plan.global[n]) {  // the row's lane
        const std::ptrdiff_t stride = call.stride[n][C] * static_cast<std::ptrdiff_t>(V::size);
        const double* first = base::lane_element(call, task, O.node, at.buffer[n], a.row.r);
        if constexpr (!stride_c)
          return V(static_cast<T>(*first));
        else
          return base::template gather<T>(first + a.i * stride, stride);
      } else if constexpr (in_row<Row> && O.s == ir::source::value && base::code(O.item).depth > 0) {
        return (*a.local)[static_cast<std::size_t>(O.item)];  // the row's values, broadcast when the loop started
      } else if constexpr (O.s == ir::source::tensor_leaf) {
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
    } else {  // lanes
      const task_state<T>& task = *a.task;
      if constexpr (O.s == ir::source::tensor_leaf) {
        const T* first = call.leaf[n] + base::leaf_offset(call, task, O.node);
        constexpr int axis = base::axis_of(O.node, C);
        if constexpr (axis < 0)
          return V(*first);
        else
          return base::template gather<T>(first, call.leaf_stride[n][axis]);
      } else if constexpr (O.s == ir::source::reduction && base::plan.global[n]) {  // completed by an earlier loop
        const T* first = base::result(call, task, O.node) + base::buffer_offset(call, task, O.node);
        if constexpr (((base::plan.buffer_dims[n] >> C) & 1U) == 0)
          return V(*first);
        else
          return base::template gather<T>(first, call.stride[n][C]);
      } else if constexpr (O.s == ir::source::reduction) {  // local: earlier in this row group, a lane each
        return base::template gather<T>(base::lane_slot(call, task, O.node), 1);
      } else if constexpr (O.s == ir::source::view) {
        return base::template gather<T>(call.view_data[n] + base::view_offset(call, task, O.node),
                                        base::template view_step<false>(call, O.node, C));
      } else if constexpr (O.s == ir::source::value && base::code(O.item).depth > 0) {
        return (*a.local)[static_cast<std::size_t>(O.item)];
      } else {
        return V(operand<mode::scalar, O, C>(a));
      }
    }
  }

  /// Node `ins.node` of compute instruction J in mode M. One element (scalar mode) is computed with
  /// the bits it has in a SIMD lane when libm and xsimd may round it differently: a value computed
  /// in the scalar tail of one loop and in the batches of another must compare equal (a max's ties,
  /// a where's branch).
  template <mode M, int J, int C, class T, class Point, class Row>
  static value_in<M, T> compute(const access<T, Point, Row>& a) {
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

  template <class T, int I, class Point, class Row = no_row>
  static void run_innermost(const call_state<T>& call, task_state<T>& task, const Point& point, std::ptrdiff_t begin,
                            std::ptrdiff_t end, const Row& row = {}) {
    using V = detail::batch<T>;
    constexpr ir::instruction ins = base::code(I);
    constexpr int c = ins.cls;
    constexpr auto width = static_cast<std::ptrdiff_t>(V::size);
    batches<T> local;
    batches<T> folding;  // by instruction: registers of reductions over c
    const cursor at = base::template start<T, I>(call, task);
    if constexpr (in_row<Row>)  // values computed per row, broadcast once for the whole loop
      base::template for_body<I>([&]<int J>() {
        [&]<std::size_t... K>(std::index_sequence<K...>) {
          (
              [&] {
                constexpr ir::operand o = base::code(J).operands[K];
                if constexpr (o.s == ir::source::value && base::code(o.item).depth > 0 &&
                              base::code(o.item).depth != ins.depth + 1)
                  local[o.item] = V(base::lane((*row.values)[o.item], row.r));
              }(),
              ...);
        }
        (std::make_index_sequence<3>{});
      });
    auto fold_registers = [&] {
      base::template for_body<I>([&]<int J>() {
        constexpr ir::instruction step = base::code(J);
        if constexpr (step.op == ir::instr::accumulate && ((base::plan.buffer_dims[step.node] >> c) & 1U) == 0) {
          using op = reducer<step.node>;
          if constexpr (base::plan.global[step.node]) {  // straight into the task's double partial
            double& slot =
                task.partial[call.partial_offset[step.node] + static_cast<std::size_t>(at.buffer[step.node])];
            slot = op::combine(slot, base::template horizontal<op>(folding[J]));
          } else if constexpr (in_row<Row>) {  // the row's lane of its accumulator
            double* slot = base::lane_element(call, task, step.node, at.buffer[step.node], row.r);
            *slot = op::combine(*slot, base::template horizontal<op>(folding[J]));
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
    access<T, Point, Row> a{call, &task, point, &at, begin, &local, ins.depth, row};
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

  template <int J, int C, class T, class Point, class Row>
  static void batch_step(const access<T, Point, Row>& a, batches<T>& local, batches<T>& folding) {
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
  // Lanes mode: a top-level loop whose work sits at its own level (per-row logits, losses and
  // gradients, as in logistic regression) runs W consecutive iterations at once, one per lane, its
  // inner loops element by element (or, for rows_vectorized ones, row by row in batch mode); loads
  // along the rows are gathers.

  template <class T, int I, class Point>
  static void run_lanes(const call_state<T>& call, task_state<T>& task, const Point& point, std::ptrdiff_t begin,
                        std::ptrdiff_t end) {
    constexpr ir::instruction ins = base::code(I);
    constexpr auto width = static_cast<std::ptrdiff_t>(detail::batch<T>::size);
    batches<T> values;
    std::ptrdiff_t i = begin;
    for (; i + width <= end; i += width) {
      task.index[ins.cls] = i;
      lane_range<T, I + 1, ins.match, ins.cls>(call, task, point, values);
    }
    for (; i < end; ++i) {  // the last rows one at a time
      task.index[ins.cls] = i;
      run_range<T, I + 1, ins.match>(call, task, point);
    }
  }

  template <class T, int I, int End, int C, class Point>
  static void lane_range(const call_state<T>& call, task_state<T>& task, const Point& point, batches<T>& values) {
    if constexpr (I < End) {
      constexpr ir::instruction ins = base::code(I);
      if constexpr (ins.op == ir::instr::enter) {
        const auto extent = static_cast<std::ptrdiff_t>(call.extent[ins.cls]);
        std::ptrdiff_t j = 0;
        if constexpr (base::rows_vectorized(I)) {  // row by row, SIMD along the inner class
          constexpr auto width = static_cast<std::ptrdiff_t>(detail::batch<T>::size);
          j = extent - extent % width;
          const std::ptrdiff_t first = task.index[C];
          for (std::size_t r = 0; r < detail::batch<T>::size; ++r) {
            task.index[C] = first + static_cast<std::ptrdiff_t>(r);
            run_innermost<T, I>(call, task, point, 0, j, one_row<T>{&values, r});
          }
          task.index[C] = first;
        }
        for (; j < extent; ++j) {  // the rest element by element, all rows at once
          task.index[ins.cls] = j;
          lane_range<T, I + 1, ins.match, C>(call, task, point, values);
        }
        lane_range<T, ins.match + 1, End, C>(call, task, point, values);
      } else {
        lane_step<T, I, C>(call, task, point, values);
        lane_range<T, I + 1, End, C>(call, task, point, values);
      }
    }
  }

  template <class T, int J, int C, class Point>
  static void lane_step(const call_state<T>& call, task_state<T>& task, const Point& point, batches<T>& values) {
    using V = detail::batch<T>;
    constexpr ir::instruction ins = base::code(J);
    const access<T, Point> a{call, &task, point, nullptr, 0, &values};
    if constexpr (ins.op == ir::instr::compute) {
      values[J] = compute<mode::lanes, J, C>(a);
    } else if constexpr (ins.op == ir::instr::accumulate) {
      using op = reducer<ins.node>;
      const V value = operand<mode::lanes, ins.operands[0], C>(a);
      if constexpr (((base::plan.buffer_dims[ins.node] >> C) & 1U) != 0) {
        // indexed by the rows themselves: each lane has its own element (a global reduction made
        // so because a later loop reads it)
        base::template combine_into<op>(
            value, base::template accumulator<ins.node>(call, task) + base::buffer_offset(call, task, ins.node),
            call.stride[ins.node][C]);
      } else {  // the lanes are double, folded into the partials after each block of rows
        base::template combine_into<op>(value, base::lane_slot(call, task, ins.node), 1);
      }
    } else if constexpr (ins.op == ir::instr::store) {
      constexpr std::size_t k = base::output_slot(ins.node);
      base::scatter(operand<mode::lanes, ins.operands[0], C>(a),
                    call.out[k] + base::offset_of(task, ins.node, call.out_stride[k]),
                    call.out_stride[k][base::axis_of(ins.node, C)]);
    } else if constexpr (ins.op == ir::instr::reset) {
      using op = reducer<ins.node>;
      std::fill_n(task.lanes + call.lane_offset[ins.node], call.size[ins.node] * V::size, op::identity);
    } else if constexpr (ins.op == ir::instr::materialize) {
      base::scatter(operand<mode::lanes, ins.operands[0], C>(a),
                    call.view_data[ins.node] + base::source_offset(call, task, ins.node),
                    base::template view_step<true>(call, ins.node, C));
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
  using no_row = typename base::no_row;               \
  template <class T>                                  \
  using one_row = typename base::template one_row<T>; \
  template <class T, class Point, class Row = no_row> \
  using access = typename base::template access<T, Point, Row>;
