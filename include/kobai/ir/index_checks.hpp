// The integer data of a call, as every backend reads it: an integer leaf's values in the element
// type, each exactly, and every index checked against the axis it indexes, once per call on the
// host before any loop or kernel runs (take's rows, one_hot's and cross_entropy's class labels,
// select's and narrow's ranges). The CPU and the device executors both call these.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"
#include "kobai/expr/indices.hpp"
#include "kobai/ir/extents.hpp"

namespace kobai::ir {

/// Writes an integer leaf's `size` values into `out` in T, each exactly: one past the integers T
/// holds exactly (2^24 in float) is a binding_error naming the leaf.
template <class T, class I>
void integers_into(std::string_view name, const I* data, std::size_t size, T* out) {
  constexpr auto exact = std::int64_t{1} << std::numeric_limits<T>::digits;
  for (std::size_t i = 0; i < size; ++i) {
    const auto v = static_cast<std::int64_t>(data[i]);
    if (v > exact || v < -exact)
      throw binding_error(detail::join("kobai: '", name, "' holds ", std::to_string(v), " at element ",
                                       std::to_string(i), ", past the integers ", sizeof(T) == 4 ? "float" : "double",
                                       " holds exactly; run the program in double"));
    out[i] = static_cast<T>(v);
  }
}

// A leaf's name, and nothing for any other node: by overloads, so that nothing is instantiated
// per node but per leaf (a function per node named with the whole program costs compile time
// quadratic in the program's size to mangle: docs/compile.md).
template <fixed_string Name, int Rank, role Role, class Use, class Element>
constexpr std::string_view name_of_leaf(const leaf<Name, Rank, Role, Use, Element>*) {
  return Name.view();
}
constexpr std::string_view name_of_leaf(const void*) { return {}; }
/// Each leaf's name by SSA index (empty for other nodes), for messages.
template <class Order>
inline constexpr auto leaf_names = []<class... Ns>(type_list<Ns...>) {
  return std::array<std::string_view, sizeof...(Ns)>{name_of_leaf(static_cast<const Ns*>(nullptr))...};
}(Order{});

template <class N>
struct is_index_eq : std::false_type {};
template <class... Args>
struct is_index_eq<node<ops::index_eq, Args...>> : std::true_type {};
// The positions of the index_eq nodes among Ns (a trait per node, not a function or a variable).
template <class... Ns>
constexpr auto index_eq_positions(type_list<Ns...>) {
  constexpr std::array<bool, sizeof...(Ns) + 1> is{is_index_eq<Ns>::value...};
  struct {
    std::array<int, sizeof...(Ns) + 1> at{};
    std::size_t size = 0;
  } list;
  for (std::size_t n = 0; n < sizeof...(Ns); ++n)
    if (is[n]) list.at[list.size++] = static_cast<int>(n);
  return list;
}

// An integer leaf compared with an arange by index_eq (one_hot, cross_entropy with class labels)
// holds indices into the arange's axis: each inside it.
template <class Order, class T, class Extent, class Values>
void check_class_indices(Extent axis, Values values) {
  const auto check = [&]<class Leaf, class Range>() {
    constexpr auto n = static_cast<int>(index_of<Leaf, Order>);
    const std::size_t length = axis(static_cast<int>(index_of<Range, Order>), 0);
    std::size_t size = 1;
    for (int p = 0; p < Leaf::rank; ++p) size *= axis(n, p);
    const T* held = values(n);
    for (std::size_t i = 0; i < size; ++i)
      if (!(held[i] >= 0 && held[i] < static_cast<T>(length)))
        throw binding_error(detail::join("kobai: '", Leaf::name.view(), "' holds ",
                                         std::to_string(static_cast<std::int64_t>(held[i])), " at element ",
                                         std::to_string(i), ", an index out of range for the axis of extent ",
                                         std::to_string(length), " it indexes (one_hot, cross_entropy's classes)"));
  };
  const auto visit = [&]<class Op, class... Args>(node<Op, Args...>*) {
    if constexpr (std::is_same_v<Op, ops::index_eq>) {
      using A = typename type_list<Args...>::template at<0>;
      using B = typename type_list<Args...>::template at<1>;
      if constexpr (kobai::detail::is_range<B> && !std::is_void_v<kobai::detail::index_leaf<A>>)
        check.template operator()<kobai::detail::index_leaf<A>, B>();
      else if constexpr (kobai::detail::is_range<A> && !std::is_void_v<kobai::detail::index_leaf<B>>)
        check.template operator()<kobai::detail::index_leaf<B>, A>();
    }
  };
  // Only the index_eq nodes are visited: a function (or lambda) per node of the program would be
  // named with the whole program, and GCC's time to mangle such names grows with the square of
  // the program (docs/compile.md).
  static constexpr auto picked = index_eq_positions(Order{});
  [&]<std::size_t... K>(std::index_sequence<K...>) {
    (visit(static_cast<typename Order::template at<static_cast<std::size_t>(picked.at[K])>*>(nullptr)), ...);
  }
  (std::make_index_sequence<picked.size>{});
}

/// Every index the integer leaves hold inside the axis it indexes (take's rows, one_hot's and
/// cross_entropy's classes, select's and narrow's ranges), and a scatter's slices of the shape the
/// indices and its target give. Order lists the program's nodes; `extent(n, p)` is node n's axis p
/// in this call, `values(n)` an integer leaf's values in T (host memory).
template <class Order, class T, std::size_t N, class Extent, class Values>
void check_indices(const std::array<node_info, N>& nodes, Extent extent, Values values) {
  check_class_indices<Order, T>(extent, values);
  const auto& names = leaf_names<Order>;
  for (int v = 0; v < static_cast<int>(N); ++v) {
    const node_info& info = nodes[static_cast<std::size_t>(v)];
    if (!info.indirect) continue;
    const int a = info.indirect_axis;
    const slicing s = slicing_of(nodes, v, extent);
    if (info.first >= 0) {
      if (s.offset + s.count > s.length)
        throw shape_error(detail::join("kobai: ", info.keep ? "narrow<" : "select<", std::to_string(a), ", ",
                                       std::to_string(info.first), info.keep ? ", " : "",
                                       info.keep ? std::to_string(info.count) : "", "> of an axis of extent ",
                                       std::to_string(s.length), ": past its end"));
    } else if (info.first == -1) {
      const int index = info.args[1];
      const T* held = values(index);
      for (std::size_t i = 0; i < s.count; ++i)
        if (!(held[i] >= 0 && held[i] < static_cast<T>(s.length)))
          throw binding_error(detail::join("kobai: '", names[static_cast<std::size_t>(index)], "' holds ",
                                           std::to_string(static_cast<std::int64_t>(held[i])), " at element ",
                                           std::to_string(i), ", an index out of range for take<", std::to_string(a),
                                           ">'s axis of extent ", std::to_string(s.length)));
    }
    if (!info.scatters) continue;
    const int g = info.args[0];
    std::size_t slices = 1;
    for (int p = 0; p < nodes[static_cast<std::size_t>(g)].rank; ++p) slices *= extent(g, p);
    if (slices != s.outer * s.count * s.inner)
      throw shape_error(detail::join("kobai: slices of ", std::to_string(slices), " elements added into a tensor ",
                                     "whose slices along axis ", std::to_string(a), " hold ",
                                     std::to_string(s.outer * s.count * s.inner)));
  }
}

}  // namespace kobai::ir
