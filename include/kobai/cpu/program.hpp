// The CPU executor: compile(outputs...) gives a program that binds xtensor containers and scalars
// by name and runs the schedule's fused loops with xsimd batches, on the thread pool, with
// reductions accumulated in a fixed order (bit-identical run to run for a given thread count).
#pragma once

#include <cstddef>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>

#include <xsimd/xsimd.hpp>
#include <xtensor/xtensor.hpp>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"
#include "kobai/cpu/thread_pool.hpp"
#include "kobai/expr/environment.hpp"
#include "kobai/ir/schedule.hpp"

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

inline std::string shape_text(const auto& shape) {
  std::ostringstream out;
  out << "(";
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << (shape.size() == 1 ? ",)" : ")");
  return out.str();
}

template <class T>
using batch = xsimd::batch<T>;

}  // namespace detail

/// A compiled CPU program for the outputs. Call it with bindings, `program(x = X, w = 0.5f)`; it
/// returns the output (a number for a scalar output, an xt::xtensor otherwise), or a tuple of them.
/// Scalar outputs need no heap allocation; calls are independent and may run concurrently.
template <expression... Outputs>
class program {
 public:
  using schedule = ir::schedule<Outputs...>;
  using order = typename schedule::order;
  using leaves = leaves_of<Outputs...>;

  /// Most tasks a loop is split into (each owns one contiguous chunk of the elements).
  static constexpr std::size_t max_tasks = 64;
  /// Fewest elements worth a task of their own.
  static constexpr std::size_t min_elements_per_task = 1 << 17;

  /// Number of loop tasks: 0 uses every thread of the pool. Results are bit-identical run to run
  /// for a given setting; the same chunks are summed in the same order whichever thread runs them.
  constexpr program& threads(unsigned count) {
    threads_ = count;
    return *this;
  }

  template <class... Bindings>
  auto operator()(Bindings... bindings) const {
    using T = checked_element_type<Bindings...>;
    const auto shape = common_shape(bindings...);
    const environment<Bindings...> point{std::tuple<Bindings...>{std::move(bindings)...}};
    auto results = std::tuple{allocate<T, Outputs>(shape)...};
    run<T>(point, shape, results);
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
    const auto shape = common_shape(bindings...);
    const environment<Bindings...> point{std::tuple<Bindings...>{std::move(bindings)...}};
    auto targets = [&] {
      if constexpr (sizeof...(Outputs) == 1)
        return std::tie(results);
      else
        return std::apply([](auto&... each) { return std::tie(each...); }, results);
    }();
    static_assert(
        std::is_same_v<std::remove_cvref_t<decltype(std::tuple{allocate<T, Outputs>(shape)...})>,
                       std::remove_cvref_t<decltype(std::apply([](auto&... e) { return std::tuple{e...}; }, targets))>>,
        "kobai::program::into: pass a result this program returned (same outputs, same element type)");
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (resize<std::tuple_element_t<K, std::tuple<Outputs...>>>(std::get<K>(targets), shape), ...);
    }
    (std::index_sequence_for<Outputs...>{});
    run<T>(point, shape, targets);
  }

 private:
  unsigned threads_ = 0;

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

  template <class Output, class Value>
  static void resize(Value& value, const auto& shape) {
    if constexpr (Output::rank > 0) {
      std::array<std::size_t, Output::rank> extents{};
      std::copy(shape.begin(), shape.end(), extents.begin());
      value.resize(extents);  // keeps the buffer when the shape is unchanged
    }
  }

  static constexpr std::size_t max_rank = [] {
    return [&]<class... Ls>(type_list<Ls...>) {
      return std::max({std::size_t{1}, static_cast<std::size_t>(Ls::rank)...});
    }(leaves{});
  }();
  // The extents of the loops' domain; rank 0 when no tensor is bound.
  struct extents_type {
    std::array<std::size_t, max_rank> extents{};
    std::size_t rank = 0;
    [[nodiscard]] const std::size_t* begin() const { return extents.data(); }
    [[nodiscard]] const std::size_t* end() const { return extents.data() + rank; }
    [[nodiscard]] std::size_t size() const { return rank; }
    std::size_t operator[](std::size_t i) const { return extents[i]; }
  };

  template <class... Bindings>
  static extents_type common_shape(const Bindings&... bindings) {
    extents_type shape;
    std::string_view owner;  // the leaf whose container set the shape
    auto visit = [&]<class B>(const B& bound) {
      if constexpr (detail::tensor_value<detail::bound_type<B>>) {
        const auto& container = bound.value;
        constexpr int rank = detail::check_binding<leaves, B>::leaf_rank;
        if (static_cast<int>(container.dimension()) != rank)
          throw binding_error(detail::join("kobai: '", B::name.view(), "' is a rank-", std::to_string(rank),
                                           " leaf but was bound to a container of shape ",
                                           detail::shape_text(container.shape())));
        if (owner.empty()) {
          shape.rank = container.shape().size();
          std::copy(container.shape().begin(), container.shape().end(), shape.extents.begin());
          owner = B::name.view();
        } else if (!std::equal(shape.begin(), shape.end(), container.shape().begin(), container.shape().end())) {
          throw shape_error(detail::join("kobai: extents do not match: '", owner, "' has shape ",
                                         detail::shape_text(shape), " but '", B::name.view(), "' has shape ",
                                         detail::shape_text(container.shape())));
        }
      }
    };
    (visit(bindings), ...);
    (void)visit;  // a program of constants binds nothing
    return shape;
  }

  using scalar_values = std::array<double, order::size>;  // rank-0 nodes, by SSA index

  // Computes the rank-0 nodes of one even phase, in SSA order.
  template <int Phase, class Point>
  static void scalar_phase(scalar_values& scalars, const Point& point, std::size_t elements) {
    [&]<class... Ns>(type_list<Ns...>) { (scalar_node<Phase, Ns>(scalars, point, elements), ...); }(order{});
  }
  template <int Phase, class E, class Point>
  static void scalar_node(scalar_values& scalars, const Point& point, std::size_t elements) {
    if constexpr (E::rank == 0 && ir::phase<E> == Phase) {
      double& value = scalars[index_of<E, order>];
      if constexpr (is_constant<E>) {
        value = E::value.value();
      } else if constexpr (is_leaf<E>) {
        value = static_cast<double>(point.template get<E::name>());
      } else {
        [&]<class Op, class... Args>(node<Op, Args...>*) {
          if constexpr (std::is_same_v<Op, ops::numel>)
            value = static_cast<double>(((Args::rank > 0) || ...) ? elements : 1);
          else if constexpr (!ir::accumulated<Op>)
            value = Op::apply(scalars[index_of<Args, order>]...);
        }(static_cast<E*>(nullptr));
      }
    }
  }

  // The value of argument A inside a loop body: computed in the body, a scalar broadcast, or (for
  // shape-only operands) never read.
  template <class V, class T, class Body, class A>
  static V argument(const std::array<V, Body::size>& values, const scalar_values& scalars) {
    if constexpr (list_contains<Body, A>)
      return values[index_of<A, Body>];
    else if constexpr (A::rank == 0)
      return V(static_cast<T>(scalars[index_of<A, order>]));
    else
      return V(T(0));
  }

  template <class V, class T, class Body, class E, class Load>
  static V body_node(const std::array<V, Body::size>& values, const scalar_values& scalars, const Load& load) {
    if constexpr (is_leaf<E>) {
      return load(E{});
    } else {
      return [&]<class Op, class... Args>(node<Op, Args...>*) {
        return Op::apply(argument<V, T, Body, Args>(values, scalars)...);
      }(static_cast<E*>(nullptr));
    }
  }

  template <class V, class T, class Body, class Load>
  static void evaluate_body(std::array<V, Body::size>& values, const scalar_values& scalars, const Load& load) {
    [&]<class... Ns>(type_list<Ns...>) {
      std::size_t i = 0;
      ((values[i++] = body_node<V, T, Body, Ns>(values, scalars, load)), ...);
    }(Body{});
  }

  template <class Loop, std::size_t S>
  using reduction_op = typename Loop::reductions::template at<S>::op;
  template <class Loop, std::size_t S>
  using reduced_argument =
      typename ir::value_arguments<typename Loop::reductions::template at<S>>::type::template at<0>;

  // A SIMD accumulator folded to one number.
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

  // One task of a loop: elements [begin, end). Stores tensor outputs; reductions go to `partials`,
  // folded in T over short blocks of SIMD batches, then in double.
  template <class Loop, class T, class Point>
  static void loop_task(std::size_t begin, std::size_t end, const Point& point, const scalar_values& scalars,
                        const std::array<const T*, leaves::size>& sources,
                        const std::array<T*, sizeof...(Outputs)>& targets, double* partials) {
    using body = typename Loop::body;
    using simd = detail::batch<T>;
    constexpr std::size_t width = simd::size;
    constexpr std::size_t block = 16 * width;
    constexpr std::size_t count = Loop::reductions::size;
    using each = std::make_index_sequence<count>;
    std::size_t i = begin;
    auto load_batch = [&]<class L>(L) -> simd {
      if constexpr (L::rank > 0)
        return simd::load_unaligned(sources[index_of<L, leaves>] + i);
      else
        return simd(static_cast<T>(point.template get<L::name>()));
    };
    auto load_scalar = [&]<class L>(L) -> T {
      if constexpr (L::rank > 0)
        return sources[index_of<L, leaves>][i];
      else
        return static_cast<T>(point.template get<L::name>());
    };
    std::array<double, count> totals{};
    [&]<std::size_t... S>(std::index_sequence<S...>) { ((totals[S] = reduction_op<Loop, S>::identity), ...); }
    (each{});
    while (i + width <= end) {
      const std::size_t block_end = std::min(end, i + block);
      std::array<simd, count> accumulators;
      [&]<std::size_t... S>(std::index_sequence<S...>) {
        ((accumulators[S] = simd(static_cast<T>(reduction_op<Loop, S>::identity))), ...);
      }
      (each{});
      for (; i + width <= block_end; i += width) {
        std::array<simd, body::size> values;
        evaluate_body<simd, T, body>(values, scalars, load_batch);
        store_outputs<Loop>(values, targets, i);
        [&]<std::size_t... S>(std::index_sequence<S...>) {
          ((accumulators[S] =
                reduction_op<Loop, S>::combine(accumulators[S], values[index_of<reduced_argument<Loop, S>, body>])),
           ...);
        }
        (each{});
      }
      [&]<std::size_t... S>(std::index_sequence<S...>) {
        ((totals[S] = reduction_op<Loop, S>::combine(totals[S], horizontal<reduction_op<Loop, S>>(accumulators[S]))),
         ...);
      }
      (each{});
    }
    for (; i < end; ++i) {
      std::array<T, body::size> values{};
      evaluate_body<T, T, body>(values, scalars, load_scalar);
      [&]<std::size_t... S>(std::index_sequence<S...>) {
        ((totals[S] = reduction_op<Loop, S>::combine(
              totals[S], static_cast<double>(values[index_of<reduced_argument<Loop, S>, body>]))),
         ...);
      }
      (each{});
      store_outputs<Loop>(values, targets, i);
    }
    for (std::size_t s = 0; s < count; ++s) partials[s] = totals[s];
  }

  // Every output slot whose expression this loop computes (the same expression may be asked for
  // twice, as with the gradients of two operands of a sum).
  template <class Loop, class V, class T>
  static void store_outputs(const std::array<V, Loop::body::size>& values,
                            const std::array<T*, sizeof...(Outputs)>& targets, std::size_t i) {
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (store_output<Loop, std::tuple_element_t<K, std::tuple<Outputs...>>>(values, targets[K], i), ...);
    }
    (std::index_sequence_for<Outputs...>{});
  }
  template <class Loop, class Output, class V, class T>
  static void store_output(const std::array<V, Loop::body::size>& values, T* target, std::size_t i) {
    if constexpr (list_contains<typename Loop::outputs, Output>) {
      if constexpr (std::is_arithmetic_v<V>)
        target[i] = values[index_of<Output, typename Loop::body>];
      else
        values[index_of<Output, typename Loop::body>].store_unaligned(target + i);
    }
  }

  std::size_t task_count(std::size_t elements) const {
    const std::size_t wanted = threads_ == 0 ? cpu::thread_pool::instance().size() : threads_;
    return std::clamp<std::size_t>(std::min(wanted, elements / min_elements_per_task), 1, max_tasks);
  }

  template <class Loop, class T, class Point>
  void run_loop(std::size_t elements, const Point& point, scalar_values& scalars,
                const std::array<const T*, leaves::size>& sources,
                const std::array<T*, sizeof...(Outputs)>& targets) const {
    constexpr std::size_t count = Loop::reductions::size;
    const std::size_t tasks = task_count(elements);
    constexpr std::size_t width = detail::batch<T>::size;
    const std::size_t chunk = (elements / tasks + width - 1) / width * width;
    std::array<double, max_tasks * count + 1> partials{};
    auto task = [&](std::size_t k) {
      const std::size_t begin = std::min(elements, k * chunk);
      const std::size_t end = k + 1 == tasks ? elements : std::min(elements, begin + chunk);
      loop_task<Loop, T>(begin, end, point, scalars, sources, targets, partials.data() + k * count);
    };
    if (tasks == 1)
      task(0);
    else
      cpu::thread_pool::instance().run(tasks, task);
    [&]<std::size_t... S>(std::index_sequence<S...>) {
      ((scalars[index_of<typename Loop::reductions::template at<S>, order>] =
            [&] {
              using op = reduction_op<Loop, S>;
              double total = op::identity;  // chunks in order: the same bits whichever thread ran a chunk
              for (std::size_t k = 0; k < tasks; ++k) total = op::combine(total, partials[k * count + S]);
              return total;
            }()),
       ...);
    }
    (std::make_index_sequence<count>{});
  }

  template <class T, class Output>
  static auto allocate(const extents_type& shape) {
    if constexpr (Output::rank == 0) {
      return T{};
    } else {
      std::array<std::size_t, Output::rank> extents{};
      std::copy(shape.begin(), shape.end(), extents.begin());
      return xt::xtensor<T, Output::rank>::from_shape(extents);
    }
  }

  template <class T, class Point, class Results>
  void run(const Point& point, const extents_type& shape, Results& results) const {
    std::size_t elements = 1;
    for (auto extent : shape) elements *= extent;
    std::array<const T*, leaves::size> sources{};
    [&]<class... Ls>(type_list<Ls...>) {
      std::size_t i = 0;
      ((sources[i++] = [&]() -> const T* {
         if constexpr (Ls::rank > 0)
           return point.template get<Ls::name>().data();
         else
           return nullptr;
       }()),
       ...);
    }(leaves{});
    std::array<T*, sizeof...(Outputs)> targets{};
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      ((targets[K] = [&]() -> T* {
         if constexpr (std::tuple_element_t<K, std::tuple<Outputs...>>::rank > 0)
           return std::get<K>(results).data();
         else
           return nullptr;
       }()),
       ...);
    }
    (std::index_sequence_for<Outputs...>{});

    scalar_values scalars{};
    scalar_phase<0>(scalars, point, elements);
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      ((run_loop<typename schedule::template loop_at<K>, T>(elements, point, scalars, sources, targets),
        scalar_phase<schedule::template loop_at<K>::phase + 1>(scalars, point, elements)),
       ...);
    }
    (std::make_index_sequence<schedule::loop_count>{});

    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (
          (void)[&] {
            using output = std::tuple_element_t<K, std::tuple<Outputs...>>;
            if constexpr (output::rank == 0) std::get<K>(results) = static_cast<T>(scalars[index_of<output, order>]);
          }(),
          ...);
    }
    (std::index_sequence_for<Outputs...>{});
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
