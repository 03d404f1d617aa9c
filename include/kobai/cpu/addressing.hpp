// The third layer of cpu::program (see cpu/nest_info.hpp): addressing and SIMD memory access.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "kobai/core/simd.hpp"

#include "kobai/cpu/layout.hpp"

namespace kobai::cpu {

/// Where values live at the current loop indices: offsets into leaves, views, outputs and
/// buffers, the cursor an innermost loop starts from, and SIMD loads, gathers, scatters and folds
/// into memory of T or double.
template <class Key>
struct addressing : layout<Key> {
  using base = layout<Key>;
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

  // first[j·stride] = lane j of value, for the lanes from `from` on.
  template <class V, class T>
  static void scatter(const V& value, T* first, std::ptrdiff_t stride, std::ptrdiff_t from = 0) {
    if (stride == 1) {
      (from == 0 ? value : xsimd::select(lanes_from<T>(from), value, V::load_unaligned(first))).store_unaligned(first);
      return;
    }
    alignas(V::arch_type::alignment()) std::array<T, V::size> lanes;
    value.store_aligned(lanes.data());
    for (auto j = static_cast<std::size_t>(from); j < V::size; ++j)
      first[static_cast<std::ptrdiff_t>(j) * stride] = lanes[j];
  }
  // The lanes from `from` on, as a mask.
  template <class T>
  static xsimd::batch_bool<T> lanes_from(std::ptrdiff_t from) {
    static constexpr auto index = [] {
      std::array<T, xsimd::batch<T>::size> lanes{};
      for (std::size_t j = 0; j < lanes.size(); ++j) lanes[j] = static_cast<T>(j);
      return lanes;
    }();
    return xsimd::batch<T>::load_unaligned(index.data()) >= xsimd::batch<T>(static_cast<T>(from));
  }

  // A float batch as two double batches (its first and second halves), and back: the SIMD
  // conversions (vcvtps2pd, vcvtpd2ps) and the halves' moves in registers, through the compilers'
  // vector extensions (a round trip through memory in halves stalls store-to-load forwarding).
  static constexpr std::size_t half = xsimd::batch<double>::size;
  using half_floats = float __attribute__((vector_size(half * sizeof(float))));
  using all_floats = float __attribute__((vector_size(2 * half * sizeof(float))));
  using doubles = double __attribute__((vector_size(half * sizeof(double))));
  static_assert(xsimd::batch<float>::size == 2 * half);
  static std::array<xsimd::batch<double>, 2> widen(const xsimd::batch<float>& value) {
    using register_type = typename xsimd::batch<double>::register_type;
    const auto all = (all_floats)(typename xsimd::batch<float>::register_type)(value);
    return [&]<std::size_t... i>(std::index_sequence<i...>) {
      const half_floats first = __builtin_shufflevector(all, all, i...);
      const half_floats second = __builtin_shufflevector(all, all, (half + i)...);
      return std::array<xsimd::batch<double>, 2>{
          xsimd::batch<double>((register_type) __builtin_convertvector(first, doubles)),
          xsimd::batch<double>((register_type) __builtin_convertvector(second, doubles))};
    }
    (std::make_index_sequence<half>{});
  }
  static xsimd::batch<float> narrow(const double* first) {
    using register_type = typename xsimd::batch<double>::register_type;
    const auto low =
        __builtin_convertvector((doubles)(register_type)xsimd::batch<double>::load_unaligned(first), half_floats);
    const auto high = __builtin_convertvector(
        (doubles)(register_type)xsimd::batch<double>::load_unaligned(first + half), half_floats);
    const all_floats all = [&]<std::size_t... i>(std::index_sequence<i...>) {
      return __builtin_shufflevector(low, high, i...);
    }
    (std::make_index_sequence<2 * half>{});
    return xsimd::batch<float>((typename xsimd::batch<float>::register_type)all);
  }

  // first[j·stride] = Op::combine(first[j·stride], lane j of value), for each lane; first holds the
  // batch's element type, or double.
  template <class Op, class V, class U>
  static void combine_into(const V& value, U* first, std::ptrdiff_t stride, std::ptrdiff_t from = 0) {
    if (from > 0) {  // the lanes from `from` on (an overlapped tail's)
      alignas(V::arch_type::alignment()) std::array<typename V::value_type, V::size> lanes;
      value.store_aligned(lanes.data());
      for (auto j = static_cast<std::size_t>(from); j < V::size; ++j)
        first[static_cast<std::ptrdiff_t>(j) * stride] =
            Op::combine(first[static_cast<std::ptrdiff_t>(j) * stride], static_cast<U>(lanes[j]));
      return;
    }
    if constexpr (std::is_same_v<U, typename V::value_type>) {
      if (stride == 1) {
        Op::combine(V::load_unaligned(first), value).store_unaligned(first);
        return;
      }
    } else if constexpr (std::is_same_v<U, double> && std::is_same_v<typename V::value_type, float>) {
      if (stride == 1) {
        using D = xsimd::batch<double>;
        const auto halves = widen(value);
        for (std::size_t h = 0; h < 2; ++h)
          Op::combine(D::load_unaligned(first + h * D::size), halves[h]).store_unaligned(first + h * D::size);
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
    if constexpr (Op::id == ops::op_id::sum) {
      return static_cast<double>(xsimd::hadd(batch));
    } else {
      alignas(Batch::arch_type::alignment()) std::array<typename Batch::value_type, Batch::size> lanes;
      batch.store_aligned(lanes.data());
      double folded = Op::identity;
      for (auto lane : lanes) folded = Op::combine(folded, static_cast<double>(lane));
      return folded;
    }
  }
  // ---------------------------------------------------------------------------------------------
  // Block mode: the rows of a block, one per lane of block_batches batches.

  /// The rows of the block being run: how many there are, which lanes hold one, and for each lane
  /// the row it reads (past the last row, the last row again: every read stays in the data).
  template <class T>
  struct block_state {
    using index_type = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
    static constexpr std::size_t width = detail::batch<T>::size;
    std::ptrdiff_t count = 0;
    bool full = false;
    alignas(64) std::array<index_type, base::template block_rows<T>> row{};
    std::array<xsimd::batch_bool<T>, base::block_batches> valid{};
    void set(std::ptrdiff_t rows) {
      if (rows == count) return;
      count = rows;
      full = rows == static_cast<std::ptrdiff_t>(base::template block_rows<T>);
      for (std::size_t j = 0; j < row.size(); ++j)
        row[j] = static_cast<index_type>(std::min(static_cast<std::ptrdiff_t>(j), rows - 1));
      for (std::size_t b = 0; b < base::block_batches; ++b) {
        alignas(64) std::array<T, width> lane{};
        for (std::size_t j = 0; j < width; ++j) lane[j] = static_cast<T>(b * width + j);
        valid[b] = xsimd::batch<T>::load_aligned(lane.data()) < xsimd::batch<T>(static_cast<T>(rows));
      }
    }
  };

  /// Batch b of the block's rows of memory whose rows are `stride` apart (a leaf, a buffer, a view
  /// indexed by the rows' class), from the block's first row at `first`.
  template <class T>
  static detail::batch<T> gather_rows(const T* first, std::ptrdiff_t stride, const block_state<T>& rows,
                                      std::ptrdiff_t b) {
    using V = detail::batch<T>;
    using index_type = typename block_state<T>::index_type;
    using I = xsimd::batch<index_type>;
    const auto lane0 = static_cast<std::size_t>(b) * V::size;
    if (stride == 1 && rows.full) return V::load_unaligned(first + lane0);
    if (stride <= std::numeric_limits<index_type>::max() / static_cast<std::ptrdiff_t>(base::template block_rows<T>))
      return hardware_gather(first, I::load_aligned(rows.row.data() + lane0) * I(static_cast<index_type>(stride)));
    alignas(V::arch_type::alignment()) std::array<T, V::size> lanes;
    for (std::size_t j = 0; j < V::size; ++j)
      lanes[j] = first[static_cast<std::ptrdiff_t>(rows.row[lane0 + j]) * stride];
    return V::load_aligned(lanes.data());
  }
  // first[offset[j]] for each lane j: the gather instruction where the target has one (xsimd 8.1's
  // batch::gather falls back to a lane-by-lane loop for float on AVX-512).
  template <class T, class Offsets>
  static detail::batch<T> hardware_gather(const T* first, const Offsets& offsets) {
    using V = detail::batch<T>;
#if defined(__AVX512F__)
    if constexpr (V::size * sizeof(T) == 64) {
      if constexpr (std::is_same_v<T, float>)
        return _mm512_i32gather_ps(offsets, first, sizeof(T));
      else
        return _mm512_i64gather_pd(offsets, first, sizeof(T));
    }
#endif
#if defined(__AVX2__)
    if constexpr (V::size * sizeof(T) == 32) {
      if constexpr (std::is_same_v<T, float>)
        return _mm256_i32gather_ps(first, offsets, sizeof(T));
      else
        return _mm256_i64gather_pd(first, offsets, sizeof(T));
    }
#endif
    alignas(V::arch_type::alignment()) std::array<typename Offsets::value_type, V::size> at;
    offsets.store_aligned(at.data());
    alignas(V::arch_type::alignment()) std::array<T, V::size> lanes;
    for (std::size_t j = 0; j < V::size; ++j) lanes[j] = first[at[j]];
    return V::load_aligned(lanes.data());
  }
  /// Writes batch b of the block's rows, `stride` apart, for the lanes holding a row.
  template <class T>
  static void store_rows(const detail::batch<T>& value, T* first, std::ptrdiff_t stride, const block_state<T>& rows,
                         std::size_t b) {
    using V = detail::batch<T>;
    const std::size_t lane0 = b * V::size;
    if (stride == 1 && rows.full) {
      value.store_unaligned(first + lane0);
      return;
    }
    alignas(V::arch_type::alignment()) std::array<T, V::size> lanes;
    value.store_aligned(lanes.data());
    for (std::size_t j = 0; j < V::size && static_cast<std::ptrdiff_t>(lane0 + j) < rows.count; ++j)
      first[static_cast<std::ptrdiff_t>(lane0 + j) * stride] = lanes[j];
  }
  /// Folds batch b of the block's rows into memory of T or double `stride` apart, for the lanes
  /// holding a row.
  template <class Op, class T, class U>
  static void combine_rows(const detail::batch<T>& value, U* first, std::ptrdiff_t stride, const block_state<T>& rows,
                           std::size_t b) {
    using V = detail::batch<T>;
    const std::size_t lane0 = b * V::size;
    alignas(V::arch_type::alignment()) std::array<T, V::size> lanes;
    value.store_aligned(lanes.data());
    for (std::size_t j = 0; j < V::size && static_cast<std::ptrdiff_t>(lane0 + j) < rows.count; ++j) {
      U& slot = first[static_cast<std::ptrdiff_t>(lane0 + j) * stride];
      slot = static_cast<U>(Op::combine(static_cast<double>(slot), static_cast<double>(lanes[j])));
    }
  }
  /// A local reduction's (or cached value's) lanes in block mode: element e of its buffer holds the
  /// block's rows at [e·block_rows, (e + 1)·block_rows).
  template <int R, class T>
  static auto block_buffer(const call_state<T>& call, const task_state<T>& task) {
    if constexpr (base::template block_in_double<T>(R))
      return task.block_d + call.block_offset[R];
    else
      return task.block_t + call.block_offset[R];
  }
  template <int R, class T>
  static auto block_element(const call_state<T>& call, const task_state<T>& task) {
    return block_buffer<R>(call, task) +
           static_cast<std::size_t>(buffer_offset(call, task, R)) * base::template block_rows<T>;
  }
  template <class T, class U>
  static detail::batch<T> block_load(const U* element, std::ptrdiff_t b) {
    using V = detail::batch<T>;
    if constexpr (std::is_same_v<T, U>)
      return V::load_aligned(element + static_cast<std::size_t>(b) * V::size);
    else
      return narrow(element + static_cast<std::size_t>(b) * V::size);
  }
  template <class Op, class V, class U>
  static void block_combine(const V& value, U* element, std::size_t b) {
    combine_into<Op>(value, element + b * V::size, 1);
  }
  template <class V, class U>
  static void block_store(const V& value, U* element, std::size_t b) {
    if constexpr (std::is_same_v<U, typename V::value_type>) {
      value.store_aligned(element + b * V::size);
    } else {
      const auto halves = widen(value);
      for (std::size_t h = 0; h < 2; ++h) halves[h].store_aligned(element + b * V::size + h * halves[h].size);
    }
  }
};

}  // namespace kobai::cpu

// The types this layer defines, as the layers above it name them.
#define KOBAI_CPU_ADDRESSING_TYPES(base) \
  using cursor = typename base::cursor;  \
  template <class T>                     \
  using block_state = typename base::template block_state<T>;
