// The third layer of cpu::program (see cpu/nest_info.hpp): addressing and SIMD memory access.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "kobai/cpu/layout.hpp"

namespace kobai::cpu {

/// Where values live at the current loop indices: offsets into leaves, views, outputs and
/// buffers, the cursor an innermost loop starts from, and SIMD loads, gathers, scatters and folds
/// into memory of T or double.
template <expression... Outputs>
struct addressing : layout<Outputs...> {
  using base = layout<Outputs...>;
  KOBAI_CPU_NEST_INFO_TYPES(base)
  KOBAI_CPU_LAYOUT_TYPES(base)

  // Where the current indices fall in memory laid out by `stride` over the axes of node n.
  template <class T>
  static std::ptrdiff_t offset_of(const task_state<T>& task, int n,
                                  const std::array<std::ptrdiff_t, ir::max_axes>& stride) {
    std::ptrdiff_t offset = 0;
    for (int p = 0; p < base::info(n).rank; ++p) {
      const int c = base::plan.cls[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)];
      if (c >= 0) offset += task.index[static_cast<std::size_t>(c)] * stride[static_cast<std::size_t>(p)];
    }
    return offset;
  }
  template <class T>
  static std::ptrdiff_t leaf_offset(const call_state<T>& call, const task_state<T>& task, int n) {
    return offset_of(task, n, call.leaf_stride[static_cast<std::size_t>(n)]);
  }
  // A view's memory by its own axes, and by its source's (for writing it).
  template <class T>
  static std::ptrdiff_t view_offset(const call_state<T>& call, const task_state<T>& task, int n) {
    return offset_of(task, n, call.view_stride[static_cast<std::size_t>(n)]);
  }
  template <class T>
  static std::ptrdiff_t source_offset(const call_state<T>& call, const task_state<T>& task, int n) {
    return offset_of(task, base::info(n).args[0], call.source_stride[static_cast<std::size_t>(n)]);
  }
  // The stride along class C of a view's memory, by its own axes (Source: by its source's axes).
  template <bool Source, class T>
  static std::ptrdiff_t view_step(const call_state<T>& call, int n, int c) {
    const int node = Source ? base::info(n).args[0] : n;
    for (int p = 0; p < base::info(node).rank; ++p)
      if (base::plan.cls[static_cast<std::size_t>(node)][static_cast<std::size_t>(p)] == c)
        return (Source ? call.source_stride
                       : call.view_stride)[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)];
    return 0;
  }

  template <class T>
  static std::ptrdiff_t buffer_offset(const call_state<T>& call, const task_state<T>& task, int r) {
    std::ptrdiff_t offset = 0;
    for (int c = 0; c < base::classes; ++c)
      if (((base::plan.buffer_dims[static_cast<std::size_t>(r)] >> c) & 1U) != 0)
        offset += task.index[static_cast<std::size_t>(c)] *
                  call.stride[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
    return offset;
  }
  template <class T>
  static T* buffer(const call_state<T>& call, const task_state<T>& task, int r) {
    const auto i = static_cast<std::size_t>(r);
    return base::plan.global[i] ? task.scratch + call.fast_offset[i] : task.scratch + call.local_offset[i];
  }
  // Where reduction R accumulates in a task: its double partial (or shadow), or its T buffer.
  template <int R, class T>
  static auto accumulator(const call_state<T>& call, const task_state<T>& task) {
    if constexpr (base::accumulates_in_double(R) || base::template shadowed<T>(R))
      return task.partial + call.partial_offset[R];
    else
      return buffer(call, task, R);
  }
  // A reduction's value as read by a later loop: the folded result (global) or the task's buffer.
  template <class T>
  static const T* result(const call_state<T>& call, const task_state<T>& task, int r) {
    const auto i = static_cast<std::size_t>(r);
    return base::plan.global[i] ? call.final_t + call.final_offset[i] : task.scratch + call.local_offset[i];
  }
  // Offsets at the start of an innermost loop (its index at 0), so that element i of the loop is
  // at base + i·stride: leaves, reduction buffers and outputs.
  struct cursor {
    std::array<std::ptrdiff_t, base::nodes> leaf{};
    std::array<std::ptrdiff_t, base::nodes> buffer{};
    std::array<std::ptrdiff_t, base::output_count> out{};
    std::array<std::ptrdiff_t, base::nodes> view{};    // reading a view
    std::array<std::ptrdiff_t, base::nodes> source{};  // writing a view's source
  };
  template <class T, int I>
  static cursor start(const call_state<T>& call, task_state<T>& task) {
    cursor at;
    task.index[base::code(I).cls] = 0;
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (
          [&] {
            constexpr int N = base::template touched_nodes<I>[K];
            if constexpr (base::info(N).k == ir::kind::tensor_leaf) at.leaf[N] = leaf_offset(call, task, N);
            if constexpr (base::stored(N)) at.buffer[N] = buffer_offset(call, task, N);
            if constexpr (base::info(N).k == ir::kind::view) {
              at.view[N] = view_offset(call, task, N);
              at.source[N] = source_offset(call, task, N);
            }
          }(),
          ...);
    }
    (std::make_index_sequence<base::template touched_nodes<I>.size()>{});
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (
          [&] {
            if constexpr (base::template touched<I>[static_cast<std::size_t>(base::output_node[K])])
              at.out[K] = offset_of(task, base::output_node[K], call.out_stride[K]);
          }(),
          ...);
    }
    (std::make_index_sequence<base::output_count>{});
    return at;
  }
  template <class T>
  static T lane(const detail::batch<T>& batch, std::size_t r) {
    alignas(detail::batch<T>::arch_type::alignment()) std::array<T, detail::batch<T>::size> lanes;
    batch.store_aligned(lanes.data());
    return lanes[r];
  }
  // Lane r of a local reduction's accumulator element at `offset`, and its stride along class C.
  template <class T>
  static double* lane_element(const call_state<T>& call, const task_state<T>& task, int r, std::ptrdiff_t offset,
                              std::size_t row) {
    return task.lanes + call.lane_offset[static_cast<std::size_t>(r)] +
           static_cast<std::size_t>(offset) * detail::batch<T>::size + row;
  }
  // A batch of T from memory of T or (lane accumulators) double.
  template <class T, class U>
  static detail::batch<T> gather(const U* first, std::ptrdiff_t stride) {
    using V = detail::batch<T>;
    if constexpr (std::is_same_v<T, U>)
      if (stride == 1) return V::load_unaligned(first);
    alignas(V::arch_type::alignment()) std::array<T, V::size> lanes;
    for (std::size_t j = 0; j < V::size; ++j) lanes[j] = static_cast<T>(first[static_cast<std::ptrdiff_t>(j) * stride]);
    return V::load_aligned(lanes.data());
  }

  template <class V, class T>
  static void scatter(const V& value, T* first, std::ptrdiff_t stride) {
    if (stride == 1) {
      value.store_unaligned(first);
      return;
    }
    alignas(V::arch_type::alignment()) std::array<T, V::size> lanes;
    value.store_aligned(lanes.data());
    for (std::size_t j = 0; j < V::size; ++j) first[static_cast<std::ptrdiff_t>(j) * stride] = lanes[j];
  }

  // first[j·stride] = Op::combine(first[j·stride], lane j of value), for each lane; first holds the
  // batch's element type, or double.
  template <class Op, class V, class U>
  static void combine_into(const V& value, U* first, std::ptrdiff_t stride) {
    if constexpr (std::is_same_v<U, typename V::value_type>) {
      if (stride == 1) {
        Op::combine(V::load_unaligned(first), value).store_unaligned(first);
        return;
      }
    }
    alignas(V::arch_type::alignment()) std::array<typename V::value_type, V::size> lanes;
    value.store_aligned(lanes.data());
    if (stride == 1) {  // contiguous: the compiler converts and combines in SIMD
      for (std::size_t j = 0; j < V::size; ++j) first[j] = Op::combine(first[j], static_cast<U>(lanes[j]));
      return;
    }
    for (std::size_t j = 0; j < V::size; ++j)
      first[static_cast<std::ptrdiff_t>(j) * stride] =
          Op::combine(first[static_cast<std::ptrdiff_t>(j) * stride], static_cast<U>(lanes[j]));
  }
  template <class Op, class Batch>
  static double horizontal(const Batch& batch) {
    if constexpr (std::is_same_v<Op, ops::sum>) {
      return static_cast<double>(xsimd::hadd(batch));
    } else {
      alignas(Batch::arch_type::alignment()) std::array<typename Batch::value_type, Batch::size> lanes;
      batch.store_aligned(lanes.data());
      double folded = Op::identity;
      for (auto lane : lanes) folded = Op::combine(folded, static_cast<double>(lane));
      return folded;
    }
  }
  // A reduction's per-lane accumulators in lanes mode: its buffer element e is lanes [e·W, e·W + W).
  template <class T>
  static double* lane_slot(const call_state<T>& call, const task_state<T>& task, int r) {
    return task.lanes + call.lane_offset[static_cast<std::size_t>(r)] +
           static_cast<std::size_t>(buffer_offset(call, task, r)) * detail::batch<T>::size;
  }
};

}  // namespace kobai::cpu

// The types this layer defines, as the layers above it name them.
#define KOBAI_CPU_ADDRESSING_TYPES(base) using cursor = typename base::cursor;
