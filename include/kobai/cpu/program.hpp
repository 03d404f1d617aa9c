// The CPU executor: compile(outputs...) gives a program that binds xtensor containers and scalars
// by name and computes every output in one fused, SIMD-vectorised pass over the elements.
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
#include "kobai/expr/environment.hpp"

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

template <class T>
struct static_rank : std::integral_constant<int, -1> {};  // dynamic (xt::xarray)
template <class V, std::size_t N, xt::layout_type L, class Tag>
struct static_rank<xt::xtensor_container<V, N, L, Tag>> : std::integral_constant<int, static_cast<int>(N)> {};

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
    static_assert(scalar_value<value> || tensor_value<value>,
                  "kobai: bind a number or an evaluated xtensor container (xt::xtensor, xt::xarray; use xt::eval "
                  "for an xexpression)");
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

/// A compiled CPU program for the outputs. Call it with bindings: `program(x = X, w = 0.5f)`. It
/// returns the output (a number for a scalar output, an xt::xtensor otherwise), or a tuple of them.
template <expression... Outputs>
class program {
 public:
  using leaves = leaves_of<Outputs...>;

  template <class... Bindings>
  auto operator()(Bindings... bindings) const {
    static_assert((detail::is_binding<Bindings> && ...), "kobai: call a program with bindings written as `x = X`");
    static_assert((detail::check_binding<leaves, Bindings>::check() && ...));
    static_assert(detail::check_all_bound<leaves, Bindings...>::value);
    using T = typename detail::element_type_t<Bindings...>::type;
    static_assert((detail::element_type_agrees<T, detail::bound_type<Bindings>> && ...),
                  "kobai: the bound tensors mix element types; convert them to one (float or double)");
    static_assert(std::is_floating_point_v<T>, "kobai: tensors must hold float or double");
    const environment<Bindings...> point{std::tuple<Bindings...>{bindings...}};
    const auto shape = common_shape<T>(bindings...);
    return run<T>(point, shape);
  }

 private:
  template <class T, class... Bindings>
  static std::vector<std::size_t> common_shape(const Bindings&... bindings) {
    std::vector<std::size_t> shape;
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
          shape.assign(container.shape().begin(), container.shape().end());
          owner = B::name.view();
        } else if (!std::equal(shape.begin(), shape.end(), container.shape().begin(), container.shape().end())) {
          throw shape_error(detail::join("kobai: extents do not match: '", owner, "' has shape ",
                                         detail::shape_text(shape), " but '", B::name.view(), "' has shape ",
                                         detail::shape_text(container.shape())));
        }
      }
    };
    (visit(bindings), ...);
    return shape;
  }

  template <class E>
  struct has_extent : std::bool_constant<(E::rank > 0)> {};
  using tensor_outputs = typename detail::filter<has_extent, type_list<Outputs...>>::type;

  template <class T, class Output, class Point>
  static auto allocate(const Point& point, const std::vector<std::size_t>& shape) {
    if constexpr (Output::rank == 0) {
      return static_cast<T>(eval(Output{}, point));  // depends on scalars only
    } else {
      std::array<std::size_t, Output::rank> extents{};
      std::copy(shape.begin(), shape.end(), extents.begin());
      return xt::xtensor<T, Output::rank>::from_shape(extents);
    }
  }

  template <class T, class Point>
  auto run(const Point& point, const std::vector<std::size_t>& shape) const {
    // Data pointers of tensor leaves, by position in `leaves`; scalar leaves have none.
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
    auto results = std::tuple{allocate<T, Outputs>(point, shape)...};
    if constexpr (tensor_outputs::size > 0) {
      std::array<T*, sizeof...(Outputs)> targets{};
      std::size_t size = 1;
      for (auto extent : shape) size *= extent;
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
      fill<T>(point, size, sources, targets, tensor_outputs{});
    }
    if constexpr (sizeof...(Outputs) == 1)
      return std::get<0>(results);
    else
      return results;
  }

  template <class E, class... Es>
  static constexpr std::size_t position_in_outputs() {
    return detail::first_match(std::array<bool, sizeof...(Es)>{std::is_same_v<E, Es>...});
  }

  // One fused pass for all tensor outputs: every distinct subexpression once per element,
  // SIMD batches first, then a scalar tail.
  template <class T, class Point, class... TensorOutputs>
  static void fill(const Point& point, std::size_t size, const std::array<const T*, leaves::size>& sources,
                   const std::array<T*, sizeof...(Outputs)>& targets, type_list<TensorOutputs...>) {
    using order = topological_order<TensorOutputs...>;
    using simd = detail::batch<T>;
    constexpr std::size_t width = simd::size;
    std::size_t i = 0;
    auto load_scalar = [&]<class L>(L) -> T {
      if constexpr (L::rank > 0)
        return sources[index_of<L, leaves>][i];
      else
        return static_cast<T>(point.template get<L::name>());
    };
    auto load_batch = [&]<class L>(L) -> simd {
      if constexpr (L::rank > 0)
        return simd::load_unaligned(sources[index_of<L, leaves>] + i);
      else
        return simd(static_cast<T>(point.template get<L::name>()));
    };
    for (; i + width <= size; i += width) {
      std::array<simd, order::size> values;
      detail::evaluate_in_order(values, order{}, load_batch);
      (values[index_of<TensorOutputs, order>].store_unaligned(
           targets[position_in_outputs<TensorOutputs, Outputs...>()] + i),
       ...);
    }
    for (; i < size; ++i) {
      std::array<T, order::size> values{};
      detail::evaluate_in_order(values, order{}, load_scalar);
      ((targets[position_in_outputs<TensorOutputs, Outputs...>()][i] = values[index_of<TensorOutputs, order>]), ...);
    }
  }
};

/// A CPU program computing all the outputs in one call: `auto step = compile(loss, dw, db);`.
template <expression... Outputs>
constexpr program<Outputs...> compile(Outputs...) {
  static_assert(sizeof...(Outputs) > 0, "kobai::compile: pass the expressions to compute");
  return {};
}

}  // namespace kobai
