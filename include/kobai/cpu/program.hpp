// The CPU executor: compile(outputs...) gives a program that binds xtensor containers and scalars
// by name and runs the loop nests of ir/plan.hpp with xsimd batches, on the thread pool, with
// reductions accumulated in a fixed order (bit-identical run to run for a given thread count).
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>
#include <xtensor/xtensor.hpp>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"
#include "kobai/cpu/thread_pool.hpp"
#include "kobai/expr/environment.hpp"
#include "kobai/ir/extents.hpp"
#include "kobai/ir/plan.hpp"

namespace kobai {
namespace detail {

template <class T>
concept scalar_value = std::is_arithmetic_v<std::remove_cvref_t<T>>;
template <class T>
concept tensor_value = requires(const std::remove_cvref_t<T>& c) {
  c.data();
  c.shape();
  c.dimension();
  typename std::remove_cvref_t<T>::value_type;
};

template <class B>
using bound_type = std::remove_cvref_t<decltype(B::value)>;

/// Containers the loops can read as flat row-major arrays: xt::xtensor, xt::xarray, and xt::adapt
/// of contiguous memory, in row-major layout.
template <class T>
struct is_row_major_container : std::false_type {};
template <class EC, std::size_t N, class Tag>
struct is_row_major_container<xt::xtensor_container<EC, N, xt::layout_type::row_major, Tag>> : std::true_type {};
template <class EC, class SC, class Tag>
struct is_row_major_container<xt::xarray_container<EC, xt::layout_type::row_major, SC, Tag>> : std::true_type {};
template <class EC, std::size_t N, class Tag>
struct is_row_major_container<xt::xtensor_adaptor<EC, N, xt::layout_type::row_major, Tag>> : std::true_type {};
template <class EC, class SC, class Tag>
struct is_row_major_container<xt::xarray_adaptor<EC, xt::layout_type::row_major, SC, Tag>> : std::true_type {};

template <class T>
struct static_rank : std::integral_constant<int, -1> {};  // dynamic (xt::xarray)
template <class V, std::size_t N, xt::layout_type L, class Tag>
struct static_rank<xt::xtensor_container<V, N, L, Tag>> : std::integral_constant<int, static_cast<int>(N)> {};
template <class V, std::size_t N, xt::layout_type L, class Tag>
struct static_rank<xt::xtensor_adaptor<V, N, L, Tag>> : std::integral_constant<int, static_cast<int>(N)> {};

template <class Leaf>
constexpr void report_unknown_name() {
  static_assert(dependent_false<Leaf>,
                "kobai: a binding names a leaf the program does not have; bind only the var<> and input<> "
                "leaves of the compiled outputs (the trace names it: leaf_named<...>)");
}
template <class Leaf>
constexpr void report_rank_mismatch() {
  static_assert(dependent_false<Leaf>,
                "kobai: a binding's rank does not match its leaf: bind numbers to rank-0 leaves and containers "
                "of the leaf's rank to tensor leaves (the trace names it: leaf_named<...>)");
}

template <class Leaves, class Binding>
struct check_binding;
template <class... Leaves, class Binding>
struct check_binding<type_list<Leaves...>, Binding> {
  static constexpr bool known = ((Leaves::name.view() == Binding::name.view()) || ...);
  static constexpr int leaf_rank = ((Leaves::name.view() == Binding::name.view() ? Leaves::rank : 0) + ... + 0);
  static constexpr bool check() {
    using value = bound_type<Binding>;
    static_assert(scalar_value<value> || (tensor_value<value> && is_row_major_container<value>::value),
                  "kobai: bind a number or a row-major xtensor container (xt::xtensor, xt::xarray, or xt::adapt of "
                  "contiguous memory); copy a view, a transpose, an expression or a column-major array into one "
                  "first, e.g. xt::xtensor<double, 2> copy = expression;");
    if constexpr (!known)
      report_unknown_name<spelled<Binding::name>>();
    else if constexpr (scalar_value<value> ? leaf_rank != 0
                                           : leaf_rank == 0 || (static_rank<value>::value >= 0 &&
                                                                static_rank<value>::value != leaf_rank))
      report_rank_mismatch<spelled<Binding::name>>();
    return true;
  }
};

template <class Leaves, class... Bindings>
struct check_all_bound;
template <class... Leaves, class... Bindings>
struct check_all_bound<type_list<Leaves...>, Bindings...> {
  template <class L>
  static constexpr bool check_leaf() {
    if constexpr (!environment<Bindings...>::template has<L::name>) report_unbound<L::name>();
    return true;
  }
  static constexpr bool value = (check_leaf<Leaves>() && ...);
};

template <class... Bindings>
struct element_type_t {
  using type = double;
};
template <class B, class... Bs>
struct element_type_t<B, Bs...> : element_type_t<Bs...> {};
template <class B, class... Bs>
requires tensor_value<bound_type<B>>
struct element_type_t<B, Bs...> {
  using type = typename bound_type<B>::value_type;
};

template <class T, class V>
inline constexpr bool element_type_agrees = true;
template <class T, tensor_value V>
inline constexpr bool element_type_agrees<T, V> = std::is_same_v<typename V::value_type, T>;

template <class T>
using batch = xsimd::batch<T>;

}  // namespace detail

/// A compiled CPU program for the outputs. Call it with bindings, `program(x = X, w = 0.5f)`; it
/// returns the output (a number for a scalar output, an xt::xtensor otherwise), or a tuple of them.
/// It runs the loop nests of ir::make_plan: the innermost loop of each nest with SIMD batches, each
/// top-level loop split into chunks run on the thread pool. After the first call with a given
/// shape, a call allocates nothing on the heap (scalar outputs, or tensor outputs through `into`);
/// calls are independent and may run concurrently.
template <expression... Outputs>
class program {
 public:
  using plan_type = ir::program_plan<Outputs...>;
  using order = typename plan_type::order;
  using leaves = leaves_of<Outputs...>;
  static constexpr auto plan = plan_type::value;
  static_assert(plan.error != ir::failure::axis_conflict,
                "kobai: an expression combines a tensor with itself along two different axes (as in outer(x, x), "
                "x·A·x or X·Xᵀ); each axis of the computation must be one axis of each tensor. Bind a copy of the "
                "tensor to a second leaf for the other role.");
  static_assert(plan.error != ir::failure::too_many_axes, "kobai: tensors have at most 8 axes");
  static_assert(
      plan.error != ir::failure::too_large,
      "kobai: the program's loop nests outgrew the planner's tables; compile its outputs in several programs");
  static_assert(plan.error != ir::failure::too_many_classes,
                "kobai: a program has at most 64 distinct axes; split it into several programs");

  /// Most tasks a loop is split into.
  static constexpr std::size_t max_tasks = 64;
  /// Fewest element visits worth a task of their own, by default.
  static constexpr std::size_t min_elements_per_task = 1 << 17;

  /// Number of loop tasks: 0 uses every thread of the pool. Results are bit-identical run to run
  /// for a given setting; the same chunks are folded in the same order whichever thread runs them.
  constexpr program& threads(unsigned count) {
    threads_ = count;
    return *this;
  }
  /// The fewest element visits worth a task of their own (default min_elements_per_task): a loop is
  /// split into at most (its element visits) / elements tasks. Results are bit-identical run to run
  /// for a given thread count and grain.
  constexpr program& grain(std::size_t elements) {
    grain_ = std::max<std::size_t>(elements, 1);
    return *this;
  }

  template <class... Bindings>
  auto operator()(Bindings... bindings) const {
    using T = checked_element_type<Bindings...>;
    const environment<Bindings...> point{std::tuple<Bindings...>{std::move(bindings)...}};
    state<T> st;
    bind(st, point);
    auto results = std::tuple{allocate<T, Outputs>(st)...};
    run<T>(st, point, results);
    if constexpr (sizeof...(Outputs) == 1)
      return std::get<0>(results);
    else
      return results;
  }

  /// Like operator(), but writes into `results`, a value the program returned before: tensors
  /// keep their buffers while the shape stays the same, so a step allocates nothing.
  template <class Results, class... Bindings>
  void into(Results& results, Bindings... bindings) const {
    using T = checked_element_type<Bindings...>;
    const environment<Bindings...> point{std::tuple<Bindings...>{std::move(bindings)...}};
    state<T> st;
    bind(st, point);
    auto targets = [&] {
      if constexpr (sizeof...(Outputs) == 1)
        return std::tie(results);
      else
        return std::apply([](auto&... each) { return std::tie(each...); }, results);
    }();
    static_assert(
        std::is_same_v<std::remove_cvref_t<decltype(std::tuple{allocate<T, Outputs>(st)...})>,
                       std::remove_cvref_t<decltype(std::apply([](auto&... e) { return std::tuple{e...}; }, targets))>>,
        "kobai::program::into: pass a result this program returned (same outputs, same element type)");
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (resize<std::tuple_element_t<K, std::tuple<Outputs...>>>(std::get<K>(targets), st), ...);
    }
    (std::index_sequence_for<Outputs...>{});
    run<T>(st, point, targets);
  }

 private:
  unsigned threads_ = 0;
  std::size_t grain_ = min_elements_per_task;
  static constexpr std::size_t nodes = order::size;
  static constexpr int classes = plan.classes;
  static constexpr std::size_t code_size = static_cast<std::size_t>(plan.size);
  static constexpr ir::instruction code(int i) { return plan.code[static_cast<std::size_t>(i)]; }
  template <int N>
  using node_at = typename order::template at<static_cast<std::size_t>(N)>;
  static constexpr const ir::node_info& info(int n) { return plan_type::nodes[static_cast<std::size_t>(n)]; }
  // Nodes held in buffers: reductions, and costly values the plan computes once (one sum term each).
  static constexpr bool stored(int n) { return ir::stored(plan, plan_type::nodes, n); }
  template <int N>
  using reducer = std::conditional_t<info(N).k == ir::kind::reduction, typename node_at<N>::op, ops::sum>;
  static constexpr std::size_t output_count = sizeof...(Outputs);
  static constexpr std::array<int, output_count> output_node = plan_type::output_index;

  template <class... Bindings>
  static constexpr bool check_bindings() {
    static_assert((detail::is_binding<Bindings> && ...), "kobai: call a program with bindings written as `x = X`");
    static_assert((detail::check_binding<leaves, Bindings>::check() && ...));
    static_assert(detail::check_all_bound<leaves, Bindings...>::value);
    using T = typename detail::element_type_t<Bindings...>::type;
    static_assert((detail::element_type_agrees<T, detail::bound_type<Bindings>> && ...),
                  "kobai: the bound tensors mix element types; convert them to one (float or double)");
    static_assert(std::is_floating_point_v<T>, "kobai: tensors must hold float or double");
    return true;
  }
  template <class... Bindings>
  using checked_element_type =
      std::enable_if_t<check_bindings<Bindings...>(), typename detail::element_type_t<Bindings...>::type>;

  // Everything a call knows once its tensors are bound: the extent of every class, and where each
  // tensor leaf, output and reduction buffer lives with its strides.
  template <class T>
  struct state {
    std::array<std::size_t, classes + 1> extent{};
    std::array<const T*, nodes> leaf{};
    std::array<std::array<std::ptrdiff_t, ir::max_axes>, nodes> leaf_stride{};
    std::array<T*, output_count> out{};
    std::array<std::array<std::ptrdiff_t, ir::max_axes>, output_count> out_stride{};
    // reductions: buffer size, stride per class (0 when the class does not index it), and offsets
    // of each task's slice in the scratch memory
    std::array<std::size_t, nodes> size{};
    std::array<std::array<std::ptrdiff_t, classes + 1>, nodes> stride{};
    std::array<std::size_t, nodes> local_offset{};    // into a task's T scratch
    std::array<std::size_t, nodes> fast_offset{};     // global: a task's T accumulator
    std::array<std::size_t, nodes> partial_offset{};  // a task's double accumulator (global, or shadowed)
    std::array<std::size_t, nodes> final_offset{};    // global: folded result, double and T
    std::array<std::size_t, nodes> lane_offset{};     // a task's SIMD-lane accumulators (rows as lanes)
    std::size_t task_t = 0, task_d = 0, task_lanes = 0, final_size = 0;
    // views (flatten, reshape): their memory, row-major strides by their own axes and by their
    // source's axes (for writing it), and the size of the memory to provide for computed sources
    std::array<T*, nodes> view_data{};
    std::array<std::array<std::ptrdiff_t, ir::max_axes>, nodes> view_stride{};
    std::array<std::array<std::ptrdiff_t, ir::max_axes>, nodes> source_stride{};
    std::array<std::size_t, nodes> view_scratch{};  // offset in the views' scratch memory
    std::size_t view_size = 0;
    std::array<double, code_size + 1> root{};  // values computed outside every loop
    T* final_t = nullptr;
    double* final_d = nullptr;
  };

  // The per-task view: loop indices, values computed in loops, and the task's scratch.
  template <class T>
  struct task_state {
    std::array<std::ptrdiff_t, classes + 1> index{};
    std::array<T, code_size + 1> value{};
    T* scratch = nullptr;
    double* partial = nullptr;
    double* lanes = nullptr;  // rows as lanes: each lane's accumulators, in double
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
  // for the folded results, 4 for SIMD-lane accumulators, 5 for views of computed values.
  template <class T, int Which>
  static std::vector<T>& scratch() {
    thread_local std::vector<T> memory;
    return memory;
  }

  static constexpr std::uint64_t classes_of(int n) { return ir::classes_of(plan, plan_type::nodes, n); }

  // Extents of every class from the bound tensors, checked against each other.
  template <class T, class Point>
  static void bind(state<T>& st, const Point& point) {
    ir::extents<nodes, classes> extents(plan, plan_type::nodes);
    [&]<class... Ns>(type_list<Ns...>) { (bind_leaf<T, Ns>(st, point, extents), ...); }(order{});
    extents.bind_views();
    for (std::size_t c = 0; c < classes; ++c) st.extent[c] = extents[c];
    bind_views(st);
    // reduction buffers, indexed by their classes in loop order (the innermost contiguous)
    std::size_t local = 0, fast = 0, partial = 0, final_size = 0;
    for (std::size_t r = 0; r < nodes; ++r) {
      if (!stored(static_cast<int>(r))) continue;
      const std::size_t size = ir::buffer_layout(plan, static_cast<int>(r), st.extent, st.stride[r]);
      st.size[r] = size;
      if (plan.global[r]) {
        st.fast_offset[r] = fast;
        fast += size;
        st.partial_offset[r] = partial;
        partial += size;
        st.final_offset[r] = final_size;
        final_size += size;
      } else {
        st.local_offset[r] = local;
        local += size;
        if (shadowed<T>(static_cast<int>(r))) {
          st.partial_offset[r] = partial;
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
    st.task_t = padded(local + fast, sizeof(T));
    for (std::size_t r = 0; r < nodes; ++r) st.fast_offset[r] += local;
    st.task_d = padded(partial, sizeof(double));
    st.final_size = final_size;
    std::size_t lanes = 0;
    for (std::size_t r = 0; r < nodes; ++r)
      if (stored(static_cast<int>(r))) {
        st.lane_offset[r] = lanes;
        lanes += st.size[r] * detail::batch<T>::size;
      }
    st.task_lanes = padded(lanes, sizeof(double));
  }

  // Views' memory: row-major strides by their own axes and by their source's (for writing it).
  template <class T>
  static void bind_views(state<T>& st) {
    for (int v = 0; v < static_cast<int>(nodes); ++v) {
      if (info(v).k != ir::kind::view) continue;
      const auto n = static_cast<std::size_t>(v);
      const int source = info(v).args[0];
      auto extent_of = [&](int node, int p) -> std::size_t {
        const int c = plan.cls[static_cast<std::size_t>(node)][static_cast<std::size_t>(p)];
        return c < 0 ? 1 : st.extent[static_cast<std::size_t>(c)];
      };
      std::size_t count = 1;
      for (int p = 0; p < info(source).rank; ++p) count *= extent_of(source, p);
      std::ptrdiff_t stride = 1;
      for (int p = info(v).rank - 1; p >= 0; --p) {
        st.view_stride[n][static_cast<std::size_t>(p)] = stride;
        stride *= static_cast<std::ptrdiff_t>(extent_of(v, p));
      }
      stride = 1;
      for (int p = info(source).rank - 1; p >= 0; --p) {
        st.source_stride[n][static_cast<std::size_t>(p)] = stride;
        stride *= static_cast<std::ptrdiff_t>(extent_of(source, p));
      }
      if (info(source).k == ir::kind::tensor_leaf) {
        st.view_data[n] = const_cast<T*>(st.leaf[static_cast<std::size_t>(source)]);  // only read
      } else if (!is_output(v)) {
        st.view_scratch[n] = st.view_size;
        st.view_size += count;
      }
    }
  }
  static constexpr bool is_output(int n) {
    for (int o : output_node)
      if (o == n) return true;
    return false;
  }

  template <class T, class L, class Point>
  static void bind_leaf(state<T>& st, const Point& point, ir::extents<nodes, classes>& extents) {
    if constexpr (is_leaf<L> && L::rank > 0) {
      constexpr auto n = index_of<L, order>;
      const auto& container = point.template get<L::name>();
      if (static_cast<int>(container.dimension()) != L::rank)
        throw binding_error(
            detail::join("kobai: '", L::name.view(), "' is a rank-", std::to_string(L::rank),
                         " leaf but was bound to a container of shape ",
                         ir::shape_text(container.shape().data(), static_cast<int>(container.dimension()))));
      st.leaf[n] = container.data();
      std::ptrdiff_t stride = 1;
      for (int p = L::rank - 1; p >= 0; --p) {
        st.leaf_stride[n][static_cast<std::size_t>(p)] = stride;
        stride *= static_cast<std::ptrdiff_t>(container.shape()[static_cast<std::size_t>(p)]);
      }
      extents.bind_leaf(static_cast<int>(n), L::name.view(), container.shape());
    }
  }

  template <class T, class Output>
  static auto allocate(const state<T>& st) {
    if constexpr (Output::rank == 0)
      return T{};
    else
      return xt::xtensor<T, Output::rank>::from_shape(output_shape<Output>(st));
  }
  template <class Output, class T>
  static std::array<std::size_t, Output::rank> output_shape(const state<T>& st) {
    return ir::shape_of<Output::rank>(plan, index_of<Output, order>, st.extent);
  }
  template <class Output, class Value, class T>
  static void resize(Value& value, const state<T>& st) {
    if constexpr (Output::rank > 0) value.resize(output_shape<Output>(st));  // keeps the buffer if unchanged
  }

  // ---------------------------------------------------------------------------------------------
  // Reading values

  // Where the current indices fall in memory laid out by `stride` over the axes of node n.
  template <class T>
  static std::ptrdiff_t offset_of(const task_state<T>& ts, int n,
                                  const std::array<std::ptrdiff_t, ir::max_axes>& stride) {
    std::ptrdiff_t offset = 0;
    for (int p = 0; p < info(n).rank; ++p) {
      const int c = plan.cls[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)];
      if (c >= 0) offset += ts.index[static_cast<std::size_t>(c)] * stride[static_cast<std::size_t>(p)];
    }
    return offset;
  }
  template <class T>
  static std::ptrdiff_t leaf_offset(const state<T>& st, const task_state<T>& ts, int n) {
    return offset_of(ts, n, st.leaf_stride[static_cast<std::size_t>(n)]);
  }
  // A view's memory by its own axes, and by its source's (for writing it).
  template <class T>
  static std::ptrdiff_t view_offset(const state<T>& st, const task_state<T>& ts, int n) {
    return offset_of(ts, n, st.view_stride[static_cast<std::size_t>(n)]);
  }
  template <class T>
  static std::ptrdiff_t source_offset(const state<T>& st, const task_state<T>& ts, int n) {
    return offset_of(ts, info(n).args[0], st.source_stride[static_cast<std::size_t>(n)]);
  }
  // The stride along class C of a view's memory, by its own axes (Source: by its source's axes).
  template <bool Source, class T>
  static std::ptrdiff_t view_step(const state<T>& st, int n, int c) {
    const int node = Source ? info(n).args[0] : n;
    for (int p = 0; p < info(node).rank; ++p)
      if (plan.cls[static_cast<std::size_t>(node)][static_cast<std::size_t>(p)] == c)
        return (Source ? st.source_stride : st.view_stride)[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)];
    return 0;
  }

  template <class T>
  static std::ptrdiff_t buffer_offset(const state<T>& st, const task_state<T>& ts, int r) {
    std::ptrdiff_t offset = 0;
    for (int c = 0; c < classes; ++c)
      if (((plan.buffer_dims[static_cast<std::size_t>(r)] >> c) & 1U) != 0)
        offset +=
            ts.index[static_cast<std::size_t>(c)] * st.stride[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
    return offset;
  }
  template <class T>
  static T* buffer(const state<T>& st, const task_state<T>& ts, int r) {
    const auto i = static_cast<std::size_t>(r);
    return plan.global[i] ? ts.scratch + st.fast_offset[i] : ts.scratch + st.local_offset[i];
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
  // Where reduction R accumulates in a task: its double partial (or shadow), or its T buffer.
  template <int R, class T>
  static auto accumulator(const state<T>& st, const task_state<T>& ts) {
    if constexpr (accumulates_in_double(R) || shadowed<T>(R))
      return ts.partial + st.partial_offset[R];
    else
      return buffer(st, ts, R);
  }
  // A reduction's value as read by a later loop: the folded result (global) or the task's buffer.
  template <class T>
  static const T* result(const state<T>& st, const task_state<T>& ts, int r) {
    const auto i = static_cast<std::size_t>(r);
    return plan.global[i] ? st.final_t + st.final_offset[i] : ts.scratch + st.local_offset[i];
  }

  // The value of operand O, one element at the current indices, as a T.
  template <class T, ir::operand O, class Point>
  static T scalar_operand(const state<T>& st, const task_state<T>& ts, const Point& point) {
    if constexpr (O.s == ir::source::constant) {
      return static_cast<T>(node_at<O.node>::value.value());
    } else if constexpr (O.s == ir::source::scalar_leaf) {
      return static_cast<T>(point.template get<node_at<O.node>::name>());
    } else if constexpr (O.s == ir::source::tensor_leaf) {
      return st.leaf[O.node][leaf_offset(st, ts, O.node)];
    } else if constexpr (O.s == ir::source::reduction) {
      return result(st, ts, O.node)[buffer_offset(st, ts, O.node)];
    } else if constexpr (O.s == ir::source::view) {
      return st.view_data[O.node][view_offset(st, ts, O.node)];
    } else if constexpr (O.s == ir::source::value) {
      if constexpr (code(O.item).depth == 0)
        return static_cast<T>(st.root[O.item]);
      else
        return ts.value[O.item];
    } else {
      return T(0);
    }
  }

  // Offsets at the start of an innermost loop (its index at 0), so that element i of the loop is
  // at base + i·stride: leaves, reduction buffers and outputs.
  struct cursor {
    std::array<std::ptrdiff_t, nodes> leaf{};
    std::array<std::ptrdiff_t, nodes> buffer{};
    std::array<std::ptrdiff_t, output_count> out{};
    std::array<std::ptrdiff_t, nodes> view{};    // reading a view
    std::array<std::ptrdiff_t, nodes> source{};  // writing a view's source
  };
  // Whether the body of the loop entered at I reads or writes node n (a leaf, a reduction buffer
  // or an output).
  static constexpr bool touches(int enter, int n) {
    for (int j = enter + 1; j < code(enter).match; ++j) {
      const ir::instruction& ins = code(j);
      if ((ins.op == ir::instr::accumulate || ins.op == ir::instr::store || ins.op == ir::instr::materialize) &&
          ins.node == n)
        return true;
      for (const auto& o : ins.operands)
        if ((o.s == ir::source::tensor_leaf || o.s == ir::source::reduction || o.s == ir::source::view) && o.node == n)
          return true;
    }
    return false;
  }
  template <class T, int I>
  static cursor start(const state<T>& st, task_state<T>& ts) {
    cursor at;
    ts.index[code(I).cls] = 0;
    [&]<int... N>(std::integer_sequence<int, N...>) {
      (
          [&] {
            if constexpr (touches(I, N) && info(N).k == ir::kind::tensor_leaf) at.leaf[N] = leaf_offset(st, ts, N);
            if constexpr (touches(I, N) && stored(N)) at.buffer[N] = buffer_offset(st, ts, N);
            if constexpr (touches(I, N) && info(N).k == ir::kind::view) {
              at.view[N] = view_offset(st, ts, N);
              at.source[N] = source_offset(st, ts, N);
            }
          }(),
          ...);
    }
    (std::make_integer_sequence<int, static_cast<int>(nodes)>{});
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (
          [&] {
            if constexpr (touches(I, output_node[K])) at.out[K] = offset_of(ts, output_node[K], st.out_stride[K]);
          }(),
          ...);
    }
    (std::make_index_sequence<output_count>{});
    return at;
  }

  // An innermost loop runs on its own (no_row), or for one row r of a group of rows that a
  // top-level loop runs as SIMD lanes (one_row): then values computed per row are lane r of the
  // group's batches, and the row's local reductions are lane r of their lane accumulators.
  struct no_row {};
  template <class T>
  struct one_row {
    const std::array<detail::batch<T>, code_size + 1>* values;
    std::size_t r;
  };
  template <class Row>
  static constexpr bool in_row = !std::is_same_v<Row, no_row>;
  static constexpr std::size_t row_of(const no_row&) { return 0; }
  template <class T>
  static constexpr std::size_t row_of(const one_row<T>& row) {
    return row.r;
  }
  template <class T>
  static T lane(const detail::batch<T>& batch, std::size_t r) {
    alignas(detail::batch<T>::arch_type::alignment()) std::array<T, detail::batch<T>::size> lanes;
    batch.store_aligned(lanes.data());
    return lanes[r];
  }
  // Lane r of a local reduction's accumulator element at `offset`, and its stride along class C.
  template <class T>
  static double* lane_element(const state<T>& st, const task_state<T>& ts, int r, std::ptrdiff_t offset,
                              std::size_t row) {
    return ts.lanes + st.lane_offset[static_cast<std::size_t>(r)] +
           static_cast<std::size_t>(offset) * detail::batch<T>::size + row;
  }

  // The value of operand O at element i of the innermost loop over class C.
  template <class T, ir::operand O, int C, class Point, class Row>
  static detail::batch<T> batch_operand(const state<T>& st, const task_state<T>& ts, const Point& point,
                                        const cursor& at, std::ptrdiff_t i,
                                        const std::array<detail::batch<T>, code_size + 1>& local, int depth,
                                        const Row& row) {
    using V = detail::batch<T>;
    if constexpr (in_row<Row> && O.s == ir::source::reduction && !plan.global[O.node]) {
      const std::ptrdiff_t stride = st.stride[O.node][C] * static_cast<std::ptrdiff_t>(V::size);
      const double* base = lane_element(st, ts, O.node, at.buffer[O.node], row.r);
      if constexpr (((plan.buffer_dims[O.node] >> C) & 1U) == 0)
        return V(static_cast<T>(*base));
      else
        return gather<T>(base + i * stride, stride);
    } else if constexpr (in_row<Row> && O.s == ir::source::value && code(O.item).depth > 0) {
      return local[O.item];  // the row's values were broadcast into `local` when the loop started
    } else if constexpr (O.s == ir::source::tensor_leaf) {
      constexpr int axis = axis_of(O.node, C);
      const T* base = st.leaf[O.node] + at.leaf[O.node];
      if constexpr (axis < 0)
        return V(*base);
      else if constexpr (axis == info(O.node).rank - 1)
        return V::load_unaligned(base + i);
      else
        return gather<T>(base + i * st.leaf_stride[O.node][axis], st.leaf_stride[O.node][axis]);
    } else if constexpr (O.s == ir::source::reduction) {
      const T* base = result(st, ts, O.node) + at.buffer[O.node];
      if constexpr (((plan.buffer_dims[O.node] >> C) & 1U) == 0)
        return V(*base);
      else
        return gather<T>(base + i * st.stride[O.node][C], st.stride[O.node][C]);
    } else if constexpr (O.s == ir::source::view) {
      const std::ptrdiff_t stride = view_step<false>(st, O.node, C);
      return gather<T>(st.view_data[O.node] + at.view[O.node] + i * stride, stride);
    } else if constexpr (O.s == ir::source::value) {
      if (code(O.item).depth == depth + 1) return local[O.item];
      return V(scalar_operand<T, O>(st, ts, point));
    } else {
      return V(scalar_operand<T, O>(st, ts, point));
    }
  }
  static constexpr int axis_of(int n, int c) {
    for (int p = 0; p < info(n).rank; ++p)
      if (plan.cls[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)] == c) return p;
    return -1;
  }
  // A batch of T from memory of T or (lane accumulators) double.
  template <class T, class U>
  static detail::batch<T> gather(const U* base, std::ptrdiff_t stride) {
    using V = detail::batch<T>;
    if constexpr (std::is_same_v<T, U>)
      if (stride == 1) return V::load_unaligned(base);
    alignas(V::arch_type::alignment()) std::array<T, V::size> lanes;
    for (std::size_t j = 0; j < V::size; ++j) lanes[j] = static_cast<T>(base[static_cast<std::ptrdiff_t>(j) * stride]);
    return V::load_aligned(lanes.data());
  }

  template <class V, class T>
  static void scatter(const V& value, T* base, std::ptrdiff_t stride) {
    if (stride == 1) {
      value.store_unaligned(base);
      return;
    }
    alignas(V::arch_type::alignment()) std::array<T, V::size> lanes;
    value.store_aligned(lanes.data());
    for (std::size_t j = 0; j < V::size; ++j) base[static_cast<std::ptrdiff_t>(j) * stride] = lanes[j];
  }

  // base[j·stride] = Op::combine(base[j·stride], lane j of value), for each lane; base holds the
  // batch's element type, or double.
  template <class Op, class V, class U>
  static void combine_into(const V& value, U* base, std::ptrdiff_t stride) {
    if constexpr (std::is_same_v<U, typename V::value_type>) {
      if (stride == 1) {
        Op::combine(V::load_unaligned(base), value).store_unaligned(base);
        return;
      }
    }
    alignas(V::arch_type::alignment()) std::array<typename V::value_type, V::size> lanes;
    value.store_aligned(lanes.data());
    if (stride == 1) {  // contiguous: the compiler converts and combines in SIMD
      for (std::size_t j = 0; j < V::size; ++j) base[j] = Op::combine(base[j], static_cast<U>(lanes[j]));
      return;
    }
    for (std::size_t j = 0; j < V::size; ++j)
      base[static_cast<std::ptrdiff_t>(j) * stride] =
          Op::combine(base[static_cast<std::ptrdiff_t>(j) * stride], static_cast<U>(lanes[j]));
  }

// GCC 12 warns falsely inside the AVX-512 intrinsics that xsimd's exp, log and friends inline
// (-Wmaybe-uninitialized, and -Wuninitialized at -O2, on _mm512_undefined_*, GCC bug 105593),
// which -Werror builds with -march=native would stop on; the warnings stay on for the rest of the
// executor.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
  template <class V, class Op, class Array, std::size_t... K>
  static V apply_op(const Array& args, std::index_sequence<K...>) {
    return Op::apply(args[K]...);
  }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  template <int N, class V, class Args>
  static V apply_node(const Args& args) {
    return [&]<class Op, class... As>(node<Op, As...>*) {
      return apply_op<V, Op>(args, std::index_sequence_for<As...>{});
    }(static_cast<node_at<N>*>(nullptr));
  }

  // Whether the scalar (libm) and SIMD (xsimd) implementations of node N's op may round
  // differently: everything but IEEE-exact arithmetic, comparisons and selections.
  template <int N>
  static constexpr bool rounds_by_implementation() {
    return !node_at<N>::op::exact;
  }
  // Node N at one element, with the bits it has in a SIMD lane: a value computed in the scalar tail
  // of one loop and in the batches of another must compare equal (a max's ties, a where's branch).
  template <int N, class T>
  static T apply_scalar(const std::array<T, 3>& args) {
    if constexpr (rounds_by_implementation<N>()) {
      using V = detail::batch<T>;
      return apply_node<N, V>(std::array<V, 3>{V(args[0]), V(args[1]), V(args[2])}).get(0);
    } else {
      return apply_node<N, T>(args);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Instructions outside the innermost loops, one element at a time

  template <class T, int I, class Point>
  static void scalar_step(const state<T>& st, task_state<T>& ts, const Point& point) {
    constexpr ir::instruction ins = code(I);
    if constexpr (ins.op == ir::instr::compute) {
      constexpr int n = ins.node;
      if constexpr (info(n).k == ir::kind::numel) {
        ts.value[I] = static_cast<T>(numel_value(st, info(n).args[0]));
      } else {
        std::array<T, 3> args{};
        [&]<std::size_t... K>(std::index_sequence<K...>) {
          ((args[K] = scalar_operand<T, ins.operands[K]>(st, ts, point)), ...);
        }
        (std::make_index_sequence<3>{});
        ts.value[I] = apply_scalar<n, T>(args);
      }
    } else if constexpr (ins.op == ir::instr::accumulate) {
      using op = reducer<ins.node>;
      auto& slot = accumulator<ins.node>(st, ts)[buffer_offset(st, ts, ins.node)];
      slot = op::combine(slot, static_cast<std::remove_reference_t<decltype(slot)>>(
                                   scalar_operand<T, ins.operands[0]>(st, ts, point)));
    } else if constexpr (ins.op == ir::instr::store) {
      constexpr std::size_t k = output_slot(ins.node);
      st.out[k][offset_of(ts, ins.node, st.out_stride[k])] = scalar_operand<T, ins.operands[0]>(st, ts, point);
    } else if constexpr (ins.op == ir::instr::reset) {
      using op = reducer<ins.node>;
      auto* start = accumulator<ins.node>(st, ts);
      std::fill_n(start, st.size[ins.node], static_cast<std::remove_reference_t<decltype(*start)>>(op::identity));
    } else if constexpr (ins.op == ir::instr::materialize) {
      st.view_data[ins.node][source_offset(st, ts, ins.node)] = scalar_operand<T, ins.operands[0]>(st, ts, point);
    }
  }
  static constexpr std::size_t output_slot(int n) {
    for (std::size_t k = 0; k < output_count; ++k)
      if (output_node[k] == n) return k;
    return 0;
  }
  template <class T>
  static double numel_value(const state<T>& st, int n) {
    double count = 1;
    for (int p = 0; p < info(n).rank; ++p) {
      const int c = plan.cls[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)];
      if (c >= 0) count *= static_cast<double>(st.extent[static_cast<std::size_t>(c)]);
    }
    return count;
  }

  static constexpr bool innermost(int enter) {
    for (int i = enter + 1; i < code(enter).match; ++i)
      if (code(i).op == ir::instr::enter) return false;
    return true;
  }

  // Instructions [I, End) at one loop level.
  template <class T, int I, int End, class Point>
  static void run_range(const state<T>& st, task_state<T>& ts, const Point& point) {
    if constexpr (I < End) {
      constexpr ir::instruction ins = code(I);
      if constexpr (ins.op == ir::instr::enter) {
        run_loop<T, I>(st, ts, point, 0, static_cast<std::ptrdiff_t>(st.extent[ins.cls]));
        round_shadows<T, I>(st, ts);
        run_range<T, ins.match + 1, End>(st, ts, point);
      } else {
        scalar_step<T, I>(st, ts, point);
        run_range<T, I + 1, End>(st, ts, point);
      }
    }
  }

  // The local reductions the loop entered at I completes, rounded from their shadows.
  template <class T, int I>
  static void round_shadows(const state<T>& st, task_state<T>& ts) {
    for_reductions([&]<int R>() {
      if constexpr (shadowed<T>(R) && plan.done[R] == I) {
        const double* shadow = ts.partial + st.partial_offset[R];
        T* rounded = buffer(st, ts, R);
        for (std::size_t e = 0; e < st.size[R]; ++e) rounded[e] = static_cast<T>(shadow[e]);
      }
    });
  }

  // The loop entered at instruction I over [begin, end) of its class.
  template <class T, int I, class Point>
  static void run_loop(const state<T>& st, task_state<T>& ts, const Point& point, std::ptrdiff_t begin,
                       std::ptrdiff_t end) {
    constexpr ir::instruction ins = code(I);
    if constexpr (innermost(I)) {
      run_innermost<T, I>(st, ts, point, begin, end);
    } else {
      for (std::ptrdiff_t i = begin; i < end; ++i) {
        ts.index[ins.cls] = i;
        run_range<T, I + 1, ins.match>(st, ts, point);
      }
    }
  }

  // The innermost loop entered at I: SIMD batches along its class, then a scalar tail. A
  // reduction folding this class accumulates in a register, added to its accumulator every 16 batches.
  template <class T, int I, class Point, class Row = no_row>
  static void run_innermost(const state<T>& st, task_state<T>& ts, const Point& point, std::ptrdiff_t begin,
                            std::ptrdiff_t end, const Row& row = {}) {
    // A top-level loop's accumulators also move to double every block, for accuracy over long loops.
    using V = detail::batch<T>;
    constexpr ir::instruction ins = code(I);
    constexpr int c = ins.cls;
    constexpr auto width = static_cast<std::ptrdiff_t>(V::size);
    std::array<V, code_size + 1> local;
    std::array<V, code_size + 1> folding;  // by instruction: registers of reductions over c
    const cursor at = start<T, I>(st, ts);
    if constexpr (in_row<Row>)  // values computed per row, broadcast once for the whole loop
      for_body<I>([&]<int J>() {
        [&]<std::size_t... K>(std::index_sequence<K...>) {
          (
              [&] {
                constexpr ir::operand o = code(J).operands[K];
                if constexpr (o.s == ir::source::value && code(o.item).depth > 0 && code(o.item).depth != ins.depth + 1)
                  local[o.item] = V(lane((*row.values)[o.item], row.r));
              }(),
              ...);
        }
        (std::make_index_sequence<3>{});
      });
    auto fold_registers = [&] {
      for_body<I>([&]<int J>() {
        constexpr ir::instruction step = code(J);
        if constexpr (step.op == ir::instr::accumulate && ((plan.buffer_dims[step.node] >> c) & 1U) == 0) {
          using op = reducer<step.node>;
          if constexpr (plan.global[step.node]) {  // straight into the task's double partial
            double& slot = ts.partial[st.partial_offset[step.node] + static_cast<std::size_t>(at.buffer[step.node])];
            slot = op::combine(slot, horizontal<op>(folding[J]));
          } else if constexpr (in_row<Row>) {  // the row's lane of its accumulator
            double* slot = lane_element(st, ts, step.node, at.buffer[step.node], row_of(row));
            *slot = op::combine(*slot, horizontal<op>(folding[J]));
          } else {
            auto* slot = accumulator<step.node>(st, ts) + at.buffer[step.node];
            *slot = static_cast<std::remove_reference_t<decltype(*slot)>>(
                op::combine(static_cast<double>(*slot), horizontal<op>(folding[J])));
          }
          folding[J] = V(static_cast<T>(op::identity));
        }
      });
    };
    for_body<I>([&]<int J>() {
      constexpr ir::instruction step = code(J);
      if constexpr (step.op == ir::instr::accumulate) folding[J] = V(static_cast<T>(reducer<step.node>::identity));
    });
    std::ptrdiff_t i = begin;
    while (i + width <= end) {
      const std::ptrdiff_t block_end = std::min(end, i + 16 * width);
      for (; i + width <= block_end; i += width)
        for_body<I>([&]<int J>() { batch_step<T, J, c>(st, ts, point, at, i, local, folding, row); });
      fold_registers();
      if constexpr (ins.depth == 0) flush<T, I, false>(st, ts);
    }
    for (; i < end; ++i) {
      ts.index[c] = i;
      for_body<I>([&]<int J>() { scalar_step<T, J>(st, ts, point); });
    }
  }
  template <int I, class F>
  static void for_body(F&& f) {
    [&]<int... J>(std::integer_sequence<int, J...>) { (f.template operator()<I + 1 + J>(), ...); }
    (std::make_integer_sequence<int, code(I).match - I - 1>{});
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

  template <class T, int J, int C, class Point, class Row>
  static void batch_step(const state<T>& st, task_state<T>& ts, const Point& point, const cursor& at, std::ptrdiff_t i,
                         std::array<detail::batch<T>, code_size + 1>& local,
                         std::array<detail::batch<T>, code_size + 1>& folding, const Row& row) {
    using V = detail::batch<T>;
    constexpr ir::instruction ins = code(J);
    constexpr int depth = ins.depth - 1;  // of the loop's enter
    if constexpr (ins.op == ir::instr::compute) {
      constexpr int n = ins.node;
      if constexpr (info(n).k == ir::kind::numel) {
        local[J] = V(static_cast<T>(numel_value(st, info(n).args[0])));
      } else {
        std::array<V, 3> args{};
        [&]<std::size_t... K>(std::index_sequence<K...>) {
          ((args[K] = batch_operand<T, ins.operands[K], C>(st, ts, point, at, i, local, depth, row)), ...);
        }
        (std::make_index_sequence<3>{});
        local[J] = apply_node<n, V>(args);
      }
    } else if constexpr (ins.op == ir::instr::accumulate) {
      using op = reducer<ins.node>;
      const V value = batch_operand<T, ins.operands[0], C>(st, ts, point, at, i, local, depth, row);
      if constexpr (((plan.buffer_dims[ins.node] >> C) & 1U) == 0) {
        folding[J] = op::combine(folding[J], value);
      } else {
        const std::ptrdiff_t stride = st.stride[ins.node][C];
        combine_into<op>(value, accumulator<ins.node>(st, ts) + at.buffer[ins.node] + i * stride, stride);
      }
    } else if constexpr (ins.op == ir::instr::materialize) {
      const V value = batch_operand<T, ins.operands[0], C>(st, ts, point, at, i, local, depth, row);
      const std::ptrdiff_t stride = view_step<true>(st, ins.node, C);
      scatter(value, st.view_data[ins.node] + at.source[ins.node] + i * stride, stride);
    } else if constexpr (ins.op == ir::instr::store) {
      constexpr std::size_t k = output_slot(ins.node);
      constexpr int axis = axis_of(ins.node, C);
      const V value = batch_operand<T, ins.operands[0], C>(st, ts, point, at, i, local, depth, row);
      if constexpr (axis == info(ins.node).rank - 1) {  // row-major: the last axis is contiguous
        value.store_unaligned(st.out[k] + at.out[k] + i);
      } else {
        const std::ptrdiff_t stride = st.out_stride[k][static_cast<std::size_t>(axis)];
        scatter(value, st.out[k] + at.out[k] + i * stride, stride);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Top level: values outside every loop in double, each top-level loop split into tasks

  template <class T, int I, class Point>
  void run_top(state<T>& st, const Point& point) const {
    if constexpr (I < static_cast<int>(code_size)) {
      constexpr ir::instruction ins = code(I);
      if constexpr (ins.op == ir::instr::compute) {
        constexpr int n = ins.node;
        if constexpr (info(n).k == ir::kind::numel) {
          st.root[I] = numel_value(st, info(n).args[0]);
        } else {
          std::array<double, 3> args{};
          [&]<std::size_t... K>(std::index_sequence<K...>) {
            ((args[K] = root_operand<ins.operands[K]>(st, point)), ...);
          }
          (std::make_index_sequence<3>{});
          st.root[I] = apply_node<n, double>(args);
        }
        run_top<T, I + 1>(st, point);
      } else if constexpr (ins.op == ir::instr::enter) {
        run_top_loop<T, I>(st, point);
        run_top<T, ins.match + 1>(st, point);
      } else if constexpr (ins.op == ir::instr::materialize) {  // a source without axes: one element
        st.view_data[ins.node][0] = static_cast<T>(root_operand<ins.operands[0]>(st, point));
        run_top<T, I + 1>(st, point);
      } else {
        run_top<T, I + 1>(st, point);  // resets of global reductions happen in each task
      }
    }
  }

  template <ir::operand O, class T, class Point>
  static double root_operand(const state<T>& st, const Point& point) {
    if constexpr (O.s == ir::source::constant)
      return node_at<O.node>::value.value();
    else if constexpr (O.s == ir::source::scalar_leaf)
      return static_cast<double>(point.template get<node_at<O.node>::name>());
    else if constexpr (O.s == ir::source::reduction)
      return st.final_d[st.final_offset[O.node]];
    else if constexpr (O.s == ir::source::value)
      return st.root[O.item];
    else if constexpr (O.s == ir::source::view)
      return static_cast<double>(st.view_data[O.node][0]);
    else
      return 0.0;
  }

  template <int I>
  static constexpr bool completes(int r) {
    return plan.global[static_cast<std::size_t>(r)] && plan.done[static_cast<std::size_t>(r)] == I;
  }

  template <class T, int I, class Point>
  void run_top_loop(state<T>& st, const Point& point) const {
    constexpr ir::instruction ins = code(I);
    const auto extent = static_cast<std::ptrdiff_t>(st.extent[ins.cls]);
    std::size_t work = 1;  // element visits per iteration
    for (int i = I + 1; i < ins.match; ++i)
      if (code(i).op == ir::instr::enter) work = std::max(work, st.extent[code(i).cls]);
    const std::size_t wanted = threads_ == 0 ? cpu::thread_pool::instance().size() : threads_;
    const std::size_t tasks = std::clamp<std::size_t>(
        std::min({wanted, static_cast<std::size_t>(extent) * work / grain_, static_cast<std::size_t>(extent)}), 1,
        max_tasks);
    constexpr std::ptrdiff_t width =
        innermost(I) || lanes_mode(I) ? static_cast<std::ptrdiff_t>(detail::batch<T>::size) : 1;
    const std::ptrdiff_t chunk = (extent / static_cast<std::ptrdiff_t>(tasks) + width - 1) / width * width;
    T* base_t = line_aligned(scratch<T, 0>(), tasks * st.task_t);
    double* base_d = line_aligned(scratch<double, 1>(), tasks * st.task_d);
    double* base_lanes = line_aligned(scratch<double, 4>(), lanes_mode(I) ? tasks * st.task_lanes : 0);
    auto task = [&](std::size_t k) {
      task_state<T> ts;
      ts.scratch = base_t + k * st.task_t;
      ts.partial = base_d + k * st.task_d;
      ts.lanes = base_lanes + k * st.task_lanes;
      for_reductions([&]<int R>() {
        if constexpr (completes<I>(R)) {
          using op = reducer<R>;
          std::fill_n(buffer(st, ts, R), st.size[R], static_cast<T>(op::identity));
          std::fill_n(ts.partial + st.partial_offset[R], st.size[R], op::identity);
          if constexpr (lanes_mode(I))
            std::fill_n(ts.lanes + st.lane_offset[R], st.size[R] * detail::batch<T>::size, op::identity);
        }
      });
      const std::ptrdiff_t begin = std::min(extent, static_cast<std::ptrdiff_t>(k) * chunk);
      const std::ptrdiff_t end = k + 1 == tasks ? extent : std::min(extent, begin + chunk);
      constexpr std::ptrdiff_t block = innermost(I) ? std::numeric_limits<std::ptrdiff_t>::max() / 2 : 64 * width;
      for (std::ptrdiff_t i = begin; i < end; i += block) {
        if constexpr (lanes_mode(I)) {
          run_lanes<T, I>(st, ts, point, i, std::min(end, i + block));
          flush_lanes<T, I>(st, ts);
        } else {
          run_loop<T, I>(st, ts, point, i, std::min(end, i + block));
        }
        flush<T, I, false>(st, ts);
      }
      flush<T, I, true>(st, ts);
    };
    if (tasks == 1)
      task(0);
    else
      cpu::thread_pool::instance().run(tasks, task);
    // fold the tasks' partials in order: the same bits whichever thread ran a task
    for_reductions([&]<int R>() {
      if constexpr (completes<I>(R)) {
        using op = reducer<R>;
        double* total = st.final_d + st.final_offset[R];
        std::fill_n(total, st.size[R], op::identity);
        for (std::size_t k = 0; k < tasks; ++k) {
          const double* part = base_d + k * st.task_d + st.partial_offset[R];
          for (std::size_t e = 0; e < st.size[R]; ++e) total[e] = op::combine(total[e], part[e]);
        }
        T* copy = st.final_t + st.final_offset[R];
        for (std::size_t e = 0; e < st.size[R]; ++e) copy[e] = static_cast<T>(total[e]);
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Rows as SIMD lanes: a top-level loop whose work sits at its own level (per-row logits, losses
  // and gradients, as in logistic regression) runs W consecutive iterations at once, one per lane,
  // its inner loops element by element; loads along the rows are gathers.

  /// Whether the top-level loop entered at I runs rows as lanes: it has inner loops, and at least
  // as many values are computed per row as inside its inner loops.
  static constexpr bool lanes_mode(int enter) {
    if (innermost(enter)) return false;
    int outer = 0, inner = 0;
    for (int i = enter + 1; i < code(enter).match; ++i)
      if (code(i).op == ir::instr::compute) (code(i).depth == code(enter).depth + 1 ? outer : inner) += 1;
    return outer > 0 && outer >= inner;
  }

  // Whether an inner loop of a lanes-mode loop runs row by row with SIMD along its own class: it is
  // innermost, and the local reductions it accumulates do not keep its class (their lane
  // accumulators hold one row's element per lane).
  static constexpr bool rows_vectorized(int enter) {
    if (!innermost(enter)) return false;
    for (int j = enter + 1; j < code(enter).match; ++j)
      if (code(j).op == ir::instr::accumulate && !plan.global[static_cast<std::size_t>(code(j).node)] &&
          ((plan.buffer_dims[static_cast<std::size_t>(code(j).node)] >> code(enter).cls) & 1U) != 0)
        return false;
    return true;
  }

  template <class T, int I, class Point>
  static void run_lanes(const state<T>& st, task_state<T>& ts, const Point& point, std::ptrdiff_t begin,
                        std::ptrdiff_t end) {
    constexpr ir::instruction ins = code(I);
    constexpr auto width = static_cast<std::ptrdiff_t>(detail::batch<T>::size);
    std::array<detail::batch<T>, code_size + 1> values;
    std::ptrdiff_t i = begin;
    for (; i + width <= end; i += width) {
      ts.index[ins.cls] = i;
      lane_range<T, I + 1, ins.match, ins.cls>(st, ts, point, values);
    }
    for (; i < end; ++i) {  // the last rows one at a time
      ts.index[ins.cls] = i;
      run_range<T, I + 1, ins.match>(st, ts, point);
    }
  }

  template <class T, int I, int End, int C, class Point>
  static void lane_range(const state<T>& st, task_state<T>& ts, const Point& point,
                         std::array<detail::batch<T>, code_size + 1>& values) {
    if constexpr (I < End) {
      constexpr ir::instruction ins = code(I);
      if constexpr (ins.op == ir::instr::enter) {
        const auto extent = static_cast<std::ptrdiff_t>(st.extent[ins.cls]);
        std::ptrdiff_t j = 0;
        if constexpr (rows_vectorized(I)) {  // row by row, SIMD along the inner class
          constexpr auto width = static_cast<std::ptrdiff_t>(detail::batch<T>::size);
          j = extent - extent % width;
          const std::ptrdiff_t first = ts.index[C];
          for (std::size_t r = 0; r < detail::batch<T>::size; ++r) {
            ts.index[C] = first + static_cast<std::ptrdiff_t>(r);
            run_innermost<T, I>(st, ts, point, 0, j, one_row<T>{&values, r});
          }
          ts.index[C] = first;
        }
        for (; j < extent; ++j) {  // the rest element by element, all rows at once
          ts.index[ins.cls] = j;
          lane_range<T, I + 1, ins.match, C>(st, ts, point, values);
        }
        lane_range<T, ins.match + 1, End, C>(st, ts, point, values);
      } else {
        lane_step<T, I, C>(st, ts, point, values);
        lane_range<T, I + 1, End, C>(st, ts, point, values);
      }
    }
  }

  // A reduction's per-lane accumulators in lanes mode: its buffer element e is lanes [e·W, e·W + W).
  template <class T>
  static double* lane_slot(const state<T>& st, const task_state<T>& ts, int r) {
    return ts.lanes + st.lane_offset[static_cast<std::size_t>(r)] +
           static_cast<std::size_t>(buffer_offset(st, ts, r)) * detail::batch<T>::size;
  }

  template <class T, ir::operand O, int C, class Point>
  static detail::batch<T> lane_operand(const state<T>& st, const task_state<T>& ts, const Point& point,
                                       const std::array<detail::batch<T>, code_size + 1>& values) {
    using V = detail::batch<T>;
    if constexpr (O.s == ir::source::tensor_leaf) {
      const T* base = st.leaf[O.node] + leaf_offset(st, ts, O.node);
      constexpr int axis = axis_of(O.node, C);
      if constexpr (axis < 0)
        return V(*base);
      else
        return gather<T>(base, st.leaf_stride[O.node][axis]);
    } else if constexpr (O.s == ir::source::reduction) {
      if constexpr (plan.global[O.node]) {  // completed by an earlier loop
        const T* base = result(st, ts, O.node) + buffer_offset(st, ts, O.node);
        if constexpr (((plan.buffer_dims[O.node] >> C) & 1U) == 0)
          return V(*base);
        else
          return gather<T>(base, st.stride[O.node][C]);
      } else {  // local: completed earlier in this row group, one accumulator per lane
        return gather<T>(lane_slot(st, ts, O.node), 1);
      }
    } else if constexpr (O.s == ir::source::view) {
      return gather<T>(st.view_data[O.node] + view_offset(st, ts, O.node), view_step<false>(st, O.node, C));
    } else if constexpr (O.s == ir::source::value && code(O.item).depth > 0) {
      return values[O.item];
    } else {
      return V(scalar_operand<T, O>(st, ts, point));
    }
  }

  template <class T, int J, int C, class Point>
  static void lane_step(const state<T>& st, task_state<T>& ts, const Point& point,
                        std::array<detail::batch<T>, code_size + 1>& values) {
    using V = detail::batch<T>;
    constexpr ir::instruction ins = code(J);
    if constexpr (ins.op == ir::instr::compute) {
      constexpr int n = ins.node;
      if constexpr (info(n).k == ir::kind::numel) {
        values[J] = V(static_cast<T>(numel_value(st, info(n).args[0])));
      } else {
        std::array<V, 3> args{};
        [&]<std::size_t... K>(std::index_sequence<K...>) {
          ((args[K] = lane_operand<T, ins.operands[K], C>(st, ts, point, values)), ...);
        }
        (std::make_index_sequence<3>{});
        values[J] = apply_node<n, V>(args);
      }
    } else if constexpr (ins.op == ir::instr::accumulate) {
      using op = reducer<ins.node>;
      const V value = lane_operand<T, ins.operands[0], C>(st, ts, point, values);
      if constexpr (((plan.buffer_dims[ins.node] >> C) & 1U) != 0) {
        // indexed by the rows themselves: each lane has its own element (a global reduction made
        // so because a later loop reads it)
        combine_into<op>(value, accumulator<ins.node>(st, ts) + buffer_offset(st, ts, ins.node),
                         st.stride[ins.node][C]);
      } else {  // the lanes are double, folded into the partials after each block of rows
        combine_into<op>(value, lane_slot(st, ts, ins.node), 1);
      }
    } else if constexpr (ins.op == ir::instr::store) {
      constexpr std::size_t k = output_slot(ins.node);
      scatter(lane_operand<T, ins.operands[0], C>(st, ts, point, values),
              st.out[k] + offset_of(ts, ins.node, st.out_stride[k]), st.out_stride[k][axis_of(ins.node, C)]);
    } else if constexpr (ins.op == ir::instr::reset) {
      using op = reducer<ins.node>;
      std::fill_n(ts.lanes + st.lane_offset[ins.node], st.size[ins.node] * V::size, op::identity);
    } else if constexpr (ins.op == ir::instr::materialize) {
      scatter(lane_operand<T, ins.operands[0], C>(st, ts, point, values),
              st.view_data[ins.node] + source_offset(st, ts, ins.node), view_step<true>(st, ins.node, C));
    }
  }

  // Folds the lanes of the reductions completed by loop I into the task's double partials.
  template <class T, int I>
  static void flush_lanes(const state<T>& st, task_state<T>& ts) {
    for_reductions([&]<int R>() {
      if constexpr (completes<I>(R) && ((plan.buffer_dims[R] >> code(I).cls) & 1U) == 0) {
        using op = reducer<R>;
        constexpr std::size_t width = detail::batch<T>::size;
        double* lanes = ts.lanes + st.lane_offset[R];
        double* part = ts.partial + st.partial_offset[R];
        for (std::size_t e = 0; e < st.size[R]; ++e)
          for (std::size_t j = 0; j < width; ++j) {
            part[e] = op::combine(part[e], lanes[e * width + j]);
            lanes[e * width + j] = op::identity;
          }
      }
    });
  }

  // Moves a task's T accumulators of the reductions completed by loop I into its double partials:
  // during the loop those that every iteration adds to, at the end of the task all (a reduction
  // indexed by the loop's own class gets each element from one iteration only).
  template <class T, int I, bool All>
  static void flush(const state<T>& st, task_state<T>& ts) {
    for_reductions([&]<int R>() {
      if constexpr (completes<I>(R) && !accumulates_in_double(R) &&
                    (All || ((plan.buffer_dims[R] >> code(I).cls) & 1U) == 0)) {
        using op = reducer<R>;
        T* fast = ts.scratch + st.fast_offset[R];
        double* part = ts.partial + st.partial_offset[R];
        for (std::size_t e = 0; e < st.size[R]; ++e) {
          part[e] = op::combine(part[e], static_cast<double>(fast[e]));
          fast[e] = static_cast<T>(op::identity);
        }
      }
    });
  }

  template <class F>
  static void for_reductions(F&& f) {
    [&]<int... R>(std::integer_sequence<int, R...>) {
      (
          [&] {
            if constexpr (stored(R)) f.template operator()<R>();
          }(),
          ...);
    }
    (std::make_integer_sequence<int, static_cast<int>(nodes)>{});
  }

  template <class T, class Point, class Results>
  void run(state<T>& st, const Point& point, Results& results) const {
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (
          [&] {
            using output = std::tuple_element_t<K, std::tuple<Outputs...>>;
            if constexpr (output::rank > 0) {
              auto& target = std::get<K>(results);
              st.out[K] = target.data();
              std::ptrdiff_t stride = 1;
              for (int p = output::rank - 1; p >= 0; --p) {
                st.out_stride[K][static_cast<std::size_t>(p)] = stride;
                stride *= static_cast<std::ptrdiff_t>(target.shape()[static_cast<std::size_t>(p)]);
              }
            }
          }(),
          ...);
    }
    (std::index_sequence_for<Outputs...>{});
    auto& final_t = scratch<T, 2>();  // folded results of the global reductions
    auto& final_d = scratch<double, 3>();
    if (final_t.size() < st.final_size) final_t.resize(st.final_size);
    if (final_d.size() < st.final_size) final_d.resize(st.final_size);
    st.final_t = final_t.data();
    T* views = line_aligned(scratch<T, 5>(), st.view_size);
    for (std::size_t n = 0; n < nodes; ++n)
      if (info(static_cast<int>(n)).k == ir::kind::view && st.view_data[n] == nullptr)
        st.view_data[n] =
            is_output(static_cast<int>(n)) ? st.out[output_slot(static_cast<int>(n))] : views + st.view_scratch[n];
    st.final_d = final_d.data();
    run_top<T, 0>(st, point);
    [&]<std::size_t... K>(std::index_sequence<K...>) { (write_output<K>(st, point, std::get<K>(results)), ...); }
    (std::index_sequence_for<Outputs...>{});
  }

  // Outputs not stored by a loop: scalars, leaves, constants and global reductions.
  template <std::size_t K, class T, class Point, class Target>
  static void write_output(const state<T>& st, const Point& point, Target& target) {
    using output = std::tuple_element_t<K, std::tuple<Outputs...>>;
    constexpr int n = output_node[K];
    constexpr ir::kind k = info(n).k;
    if constexpr (ir::written(plan, n)) {
      if constexpr (output_slot(n) != K)  // the same expression asked for twice: copy the first
        std::copy_n(st.out[output_slot(n)], target.size(), target.data());
    } else if constexpr (output::rank == 0 || classes_of(n) == 0) {
      double value = 0;
      if constexpr (k == ir::kind::constant)
        value = output::value.value();
      else if constexpr (k == ir::kind::scalar_leaf)
        value = static_cast<double>(point.template get<output::name>());
      else if constexpr (k == ir::kind::reduction)
        value = st.final_d[st.final_offset[n]];
      else
        value = st.root[static_cast<std::size_t>(ir::root_instruction(plan, n))];
      if constexpr (output::rank == 0)
        target = static_cast<T>(value);
      else
        std::fill(target.begin(), target.end(), static_cast<T>(value));
    } else if constexpr (k == ir::kind::tensor_leaf) {
      std::copy_n(st.leaf[n], target.size(), target.data());
    } else {  // a global reduction: its folded buffer, in the output's axis order
      ir::to_axis_order(plan, n, st.stride[n], st.final_t + st.final_offset[n], target.data(),
                        output_shape<output>(st));
    }
  }
};

/// A CPU program computing all the outputs in one call: `auto step = compile(loss, dw, db);`.
template <expression... Outputs>
constexpr program<std::remove_cvref_t<Outputs>...> compile(Outputs...) {
  static_assert(sizeof...(Outputs) > 0, "kobai::compile: pass the expressions to compute");
  static_assert(detail::names_are_unique<leaves_of<Outputs...>>(),
                "kobai: two different leaves share a name (var<> and input<>, or two ranks); give each its own name");
  return {};
}

namespace detail {

template <class Leaves, class Binding>
struct has_leaf_named;
template <class... Ls, class Binding>
struct has_leaf_named<type_list<Ls...>, Binding>
    : std::bool_constant<((Ls::name.view() == Binding::name.view()) || ...)> {};

// Calls the program with the bindings it has leaves for, dropping the rest (a derivative may not
// need every leaf of the function it came from).
template <class Program, class... Bindings>
auto call_with_used(const Program& program, const Bindings&... bindings) {
  auto used = std::tuple_cat([&]<class B>(const B& bound) {
    if constexpr (has_leaf_named<typename Program::leaves, B>::value)
      return std::tuple<B>{bound};
    else
      return std::tuple<>{};
  }(bindings)...);
  return std::apply(program, used);
}

}  // namespace detail
}  // namespace kobai
