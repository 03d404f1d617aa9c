// The second layer of cpu::program (see cpu/nest_info.hpp): a call's layout.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string_view>
#include <type_traits>
#include <vector>

#include <xtensor/xtensor.hpp>
#include "kobai/core/simd.hpp"

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"
#include "kobai/cpu/nest_info.hpp"
#include "kobai/expr/indices.hpp"
#include "kobai/ir/extents.hpp"
#include "kobai/ir/index_checks.hpp"

namespace kobai::detail {
template <class T>
using batch = xsimd::batch<T>;
}  // namespace kobai::detail

namespace kobai::cpu {

/// Everything one call knows once its tensors are bound, and the memory it runs in: the extent
/// of every class, where each tensor leaf, output, view and buffer lives with its strides, and the
/// per-task slices of the accumulators.
template <class Key>
struct layout : nest_info<Key> {
  using base = nest_info<Key>;
  KOBAI_CPU_NEST_INFO_TYPES(base)

  /// Block mode (cpu/interpreter.hpp) runs block_rows<T> consecutive rows at once, one per SIMD
  /// lane, block_batches batches.
  static constexpr std::size_t block_batches = 4;
  template <class T>
  static constexpr std::size_t block_rows = block_batches* detail::batch<T>::size;
  /// In block mode a local reduction keeps a lane per row, in double when its buffer is a float
  /// reduction's double shadow (nest_info::shadowed), else in T.
  template <class T>
  static constexpr bool block_in_double(int r) {
    return base::template shadowed<T>(r);
  }

  template <class T>
  struct call_state {
    std::array<std::size_t, base::classes + 1> extent{};
    std::array<const T*, base::nodes> leaf{};
    std::array<std::array<std::ptrdiff_t, ir::max_axes>, base::nodes> leaf_stride{};
    std::array<T*, base::output_count> out{};
    std::array<std::array<std::ptrdiff_t, ir::max_axes>, base::output_count> out_stride{};
    // reductions: buffer size, stride per class (0 when the class does not index it), and offsets
    // of each task's slice in the scratch memory
    std::array<std::size_t, base::nodes> size{};
    std::array<std::array<std::ptrdiff_t, base::classes + 1>, base::nodes> stride{};
    std::array<std::size_t, base::nodes> local_offset{};    // into a task's T scratch
    std::array<std::size_t, base::nodes> fast_offset{};     // global: a task's T accumulator
    std::array<std::size_t, base::nodes> partial_offset{};  // a task's double accumulator (global, or shadowed)
    std::array<std::size_t, base::nodes> final_offset{};    // global: folded result, double and T
    std::array<std::size_t, base::nodes> block_offset{};    // local, block mode: a lane per row of a block
    std::size_t task_elements = 0, task_doubles = 0, final_size = 0;
    std::size_t task_block_t = 0, task_block_d = 0;  // block mode's local buffers per task, T and double
    std::size_t task_pack = 0;                       // block mode: the largest contraction nest's packed values
    // views (flatten, reshape): their memory, row-major strides by their own axes and by their
    // source's axes (for writing it), and the size of the memory to provide for computed sources
    std::array<T*, base::nodes> view_data{};
    std::array<std::array<std::ptrdiff_t, ir::max_axes>, base::nodes> view_stride{};
    std::array<std::array<std::ptrdiff_t, ir::max_axes>, base::nodes> source_stride{};
    std::array<std::size_t, base::nodes> view_scratch{};  // offset in the views' scratch memory
    std::size_t view_size = 0;
    // where a view's computed source is written (its own memory, but for take and put_add, whose
    // own memory is filled from it between loops)
    std::array<T*, base::nodes> source_data{};
    std::array<std::size_t, base::nodes> source_scratch{};
    std::array<T, base::code_size + 1> root{};  // values computed outside every loop
    // the scalar leaves' values, in T: what the interpreter reads, so that it does not depend on
    // the bindings' types (one executor for every kind of container a program is called with)
    std::array<T, base::nodes> scalar{};
    T* final_t = nullptr;
    double* final_d = nullptr;
  };

  // The per-task view: loop indices, values computed in loops, and the task's scratch.
  template <class T>
  struct task_state {
    std::array<std::ptrdiff_t, base::classes + 1> index{};
    std::array<T, base::code_size + 1> value{};
    T* scratch = nullptr;
    double* partial = nullptr;
    T* block_t = nullptr;  // block mode: local buffers, a lane per row of the block
    double* block_d = nullptr;
    T* pack = nullptr;  // block mode: a contraction nest's packed values
    // block mode: the block's rows of each leaf read by rows (its first axis), transposed so that a
    // batch of rows is one aligned load (element e of the rows at [e·block_rows, (e + 1)·block_rows)),
    // or null
    std::array<T*, base::nodes> rows_of_leaf{};
  };

  // `count` elements of `memory`, starting on a 128-byte boundary.
  template <class T>
  static T* line_aligned(std::vector<T>& memory, std::size_t count) {
    const std::size_t slack = 128 / sizeof(T);
    if (memory.size() < count + slack) memory.resize(count + slack);
    const auto address = reinterpret_cast<std::uintptr_t>(memory.data());
    return memory.data() + ((128 - address % 128) % 128) / sizeof(T);
  }

  // The calling thread's memory for the tasks' accumulators (grown, never shrunk: after the first
  // call with a shape, no allocation). Which: 0 for T accumulators, 1 for double partials, 2 and 3
  // for the folded results, 4 for SIMD-lane accumulators, 5 for views of computed values, 6 and 7
  // for block mode's local buffers, 8 for arange's 0, 1, 2, …
  template <class T, int Which>
  static std::vector<T>& scratch() {
    thread_local std::vector<T> memory;
    return memory;
  }
  // Extents of every class from the bound tensors, checked against each other.
  template <class T, class Point>
  static void bind(call_state<T>& call, const Point& point) {
    ir::extents<base::nodes, base::classes> extents(base::plan, plan_type::nodes);
    // The leaves only, each given its binding's value: a function per node, or one taking the
    // bindings, would be named with the whole program or all its bindings (docs/compile.md).
    // (Pack expansions in braced lists, not folds: clang refuses folds of more than 256 terms.)
    using leaves = kobai::detail::filter<is_leaf_t, order>;
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (void)std::initializer_list<int>{
          (bind_leaf<T, typename order::template at<leaves::positions[K]>, leaves::positions[K]>(
               call, point.template get<order::template at<leaves::positions[K]>::name>(), extents),
           0)...};
    }
    (std::make_index_sequence<leaves::count>{});
    extents.bind_views();
    for (std::size_t c = 0; c < base::classes; ++c) call.extent[c] = extents[c];
    bind_ranges(call);
    check_indices(call);
    bind_views(call);
    // reduction buffers, indexed by their classes in loop order (the innermost contiguous)
    std::size_t local = 0, fast = 0, partial = 0, final_size = 0;
    for (std::size_t r = 0; r < base::nodes; ++r) {
      if (!base::stored(static_cast<int>(r))) continue;
      const std::size_t size = ir::buffer_layout(base::plan, static_cast<int>(r), call.extent, call.stride[r]);
      call.size[r] = size;
      if (base::plan.global[r]) {
        call.fast_offset[r] = fast;
        fast += size;
        call.partial_offset[r] = partial;
        partial += size;
        call.final_offset[r] = final_size;
        final_size += size;
      } else {
        call.local_offset[r] = local;
        local += size;
        if (base::template shadowed<T>(static_cast<int>(r))) {
          call.partial_offset[r] = partial;
          partial += size;
        }
      }
    }
    // Each task's slices start on their own cache lines (128 bytes: adjacent-line prefetch), so
    // tasks never write to a line another task writes to.
    auto padded = [](std::size_t count, std::size_t size) {
      const std::size_t per_line = 128 / size;
      return (count + per_line - 1) / per_line * per_line;
    };
    call.task_elements = padded(local + fast, sizeof(T));
    for (std::size_t r = 0; r < base::nodes; ++r) call.fast_offset[r] += local;
    call.task_doubles = padded(partial, sizeof(double));
    call.final_size = final_size;
    std::size_t block_t = 0, block_d = 0;
    for (std::size_t r = 0; r < base::nodes; ++r) {
      if (!base::stored(static_cast<int>(r)) || base::plan.global[r]) continue;
      std::size_t& next = block_in_double<T>(static_cast<int>(r)) ? block_d : block_t;
      call.block_offset[r] = next;
      next += call.size[r] * block_rows<T>;
    }
    std::size_t pack = 0;
    for (int i = 0; i < static_cast<int>(base::code_size); ++i)
      if (base::code(i).op == ir::instr::enter && base::two_level_accumulate(i) >= 0) {
        // the outer loop's values for every iteration; a rank update's two factors besides, and
        // the second one transposed, both with the inner extent padded to whole batches
        const std::size_t outer = call.extent[static_cast<std::size_t>(base::code(i).cls)];
        const std::size_t inner = call.extent[static_cast<std::size_t>(base::code(base::inner_loop(i)).cls)];
        pack = std::max(
            pack, (outer * static_cast<std::size_t>(base::outer_values(i) + 1) + 2 * (inner + detail::batch<T>::size)) *
                      block_rows<T>);
      }
    call.task_pack = padded(pack, sizeof(T));
    call.task_block_t = padded(block_t, sizeof(T));
    call.task_block_d = padded(block_d, sizeof(double));
  }

  // An integer leaf's values in T, exactly (ir::integers_into): memory per leaf node, grown, never shrunk.
  template <class T, std::size_t N, class I>
  static const T* integers_as(std::string_view name, const I* data, std::size_t size) {
    thread_local std::vector<T> memory;
    if (memory.size() < size) memory.resize(size);
    ir::integers_into(name, data, size, memory.data());
    return memory.data();
  }

  // The extent of node n's axis p in this call (1 for a unit axis).
  template <class T>
  static std::size_t extent_of(const call_state<T>& call, int n, int p) {
    const int c = base::plan.cls[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)];
    return c < 0 ? 1 : call.extent[static_cast<std::size_t>(c)];
  }
  // Every index the integer leaves hold inside the axis it indexes, and a scatter's slices of the
  // shape its target gives (ir/index_checks.hpp), once per call before any loop runs.
  template <class T>
  static void check_indices(const call_state<T>& call) {
    ir::check_indices<order, T>(
        plan_type::nodes, [&](int n, int p) { return extent_of(call, n, p); },
        [&](int n) { return call.leaf[static_cast<std::size_t>(n)]; });
  }

  // arange's memory: 0, 1, 2, … in T, as long as the longest arange of the call (grown, never shrunk).
  template <class T>
  static void bind_ranges(call_state<T>& call) {
    const std::size_t longest = ir::range_length<T>(base::plan, plan_type::nodes, call.extent);
    if (longest == 0) return;
    std::vector<T>& memory = scratch<T, 8>();
    for (std::size_t i = memory.size(); i < longest; ++i) memory.push_back(static_cast<T>(i));
    for (std::size_t n = 0; n < base::nodes; ++n)
      if (base::info(static_cast<int>(n)).range) {
        call.leaf[n] = memory.data();
        call.leaf_stride[n][0] = 1;
      }
  }

  // Views' memory: row-major strides by their own axes and by their source's (for writing it).
  template <class T>
  static void bind_views(call_state<T>& call) {
    for (int v = 0; v < static_cast<int>(base::nodes); ++v) {
      if (base::info(v).k != ir::kind::view) continue;
      const auto n = static_cast<std::size_t>(v);
      const int source = base::info(v).args[0];
      auto extent_of = [&](int node, int p) -> std::size_t {
        const int c = base::plan.cls[static_cast<std::size_t>(node)][static_cast<std::size_t>(p)];
        return c < 0 ? 1 : call.extent[static_cast<std::size_t>(c)];
      };
      std::size_t count = 1;
      for (int p = 0; p < base::info(source).rank; ++p) count *= extent_of(source, p);
      std::ptrdiff_t stride = 1;
      for (int p = base::info(v).rank - 1; p >= 0; --p) {
        call.view_stride[n][static_cast<std::size_t>(p)] = stride;
        stride *= static_cast<std::ptrdiff_t>(extent_of(v, p));
      }
      const auto own = static_cast<std::size_t>(stride);
      stride = 1;
      for (int p = base::info(source).rank - 1; p >= 0; --p) {
        call.source_stride[n][static_cast<std::size_t>(p)] = stride;
        stride *= static_cast<std::ptrdiff_t>(extent_of(source, p));
      }
      if (base::info(v).indirect) {  // its own memory (or the output's), and its source's
        if (base::info(source).k == ir::kind::tensor_leaf) {
          call.source_data[n] = const_cast<T*>(call.leaf[static_cast<std::size_t>(source)]);  // only read
        } else {
          call.source_scratch[n] = call.view_size;
          call.view_size += count;
        }
        if (!base::in_output(v)) {
          call.view_scratch[n] = call.view_size;
          call.view_size += own;
        }
      } else if (base::info(source).k == ir::kind::tensor_leaf) {
        call.view_data[n] = const_cast<T*>(call.leaf[static_cast<std::size_t>(source)]);  // only read
      } else if (!base::in_output(v)) {
        call.view_scratch[n] = call.view_size;
        call.view_size += count;
      }
    }
  }

  // Leaf L, node n, bound to `bound`.
  template <class T, class L, std::size_t n, class Value>
  static void bind_leaf(call_state<T>& call, const Value& bound, ir::extents<base::nodes, base::classes>& extents) {
    if constexpr (is_counted<L>) {  // arange<"n">(): its extent
      extents.bind_leaf(static_cast<int>(n), L::name.view(),
                        std::array<std::size_t, 1>{ir::count_bound(L::name.view(), bound)});
    } else if constexpr (L::rank > 0) {
      const auto& container = bound;
      if (static_cast<int>(container.dimension()) != L::rank)
        throw binding_error(
            detail::join("kobai: '", L::name.view(), "' is a rank-", std::to_string(L::rank),
                         " leaf but was bound to a container of shape ",
                         ir::shape_text(container.shape().data(), static_cast<int>(container.dimension()))));
      if constexpr (std::is_void_v<typename L::element>)
        call.leaf[n] = container.data();
      else
        call.leaf[n] = integers_as<T, n>(L::name.view(), container.data(), container.size());
      std::ptrdiff_t stride = 1;
      for (int p = L::rank - 1; p >= 0; --p) {
        call.leaf_stride[n][static_cast<std::size_t>(p)] = stride;
        stride *= static_cast<std::ptrdiff_t>(container.shape()[static_cast<std::size_t>(p)]);
      }
      extents.bind_leaf(static_cast<int>(n), L::name.view(), container.shape());
    } else {
      call.scalar[n] = static_cast<T>(bound);
    }
  }

  template <class T, class Output>
  static auto allocate(const call_state<T>& call) {
    if constexpr (Output::rank == 0)
      return T{};
    else
      return xt::xtensor<T, Output::rank>::from_shape(output_shape<Output>(call));
  }
  template <class Output, class T>
  static std::array<std::size_t, Output::rank> output_shape(const call_state<T>& call) {
    return ir::shape_of<Output::rank>(base::plan, plan_type::template output_node<Output>, call.extent);
  }
  template <class Output, class Value, class T>
  static void resize(Value& value, const call_state<T>& call) {
    if constexpr (Output::rank > 0) value.resize(output_shape<Output>(call));  // keeps the buffer if unchanged
  }
};

}  // namespace kobai::cpu

// The types this layer defines, as the layers above it name them.
#define KOBAI_CPU_LAYOUT_TYPES(base)                        \
  template <class T>                                        \
  using call_state = typename base::template call_state<T>; \
  template <class T>                                        \
  using task_state = typename base::template task_state<T>;
