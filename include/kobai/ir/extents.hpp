// The extent of every iteration class of a planned program, from the shapes of the tensors bound
// to its leaves, checked against each other, and the extents views imply (a flattened axis has
// its source's element count; a reshape keeps the count). Shared by the CPU and GPU executors.
// The classes themselves are assigned at compile time by ir/classes.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"
#include "kobai/ir/plan.hpp"

namespace kobai::ir {

/// `(3, 4)`, `(5,)`: a shape as NumPy prints it.
inline std::string shape_text(const std::size_t* extents, int rank) {
  std::string text = "(";
  for (int p = 0; p < rank; ++p) text += detail::join(p ? ", " : "", std::to_string(extents[p]));
  return text + (rank == 1 ? ",)" : ")");
}

/// The length of the memory holding 0, 1, 2, … that a call's aranges read (nodes marked `range`):
/// the longest one's extent, or 0 without one. Their values are integers in the element type T: an
/// extent past the integers T holds exactly (2^24 in float), where the indices would round, is refused.
template <class T, std::size_t N, class Extents>
std::size_t range_length(const plan_data<N>& plan, const std::array<node_info, N>& nodes, const Extents& extent) {
  std::size_t longest = 0;
  for (std::size_t n = 0; n < N; ++n)
    if (nodes[n].range) {
      const int c = plan.cls[n][0];
      longest =
          std::max(longest, c < 0 ? std::size_t{1} : static_cast<std::size_t>(extent[static_cast<std::size_t>(c)]));
    }
  constexpr auto exact = std::size_t{1} << std::numeric_limits<T>::digits;
  if (longest > exact + 1)
    throw shape_error(detail::join("kobai: an arange over an axis of extent ", std::to_string(longest),
                                   " cannot hold its indices exactly in ", sizeof(T) == 4 ? "float" : "double",
                                   " (at most ", std::to_string(exact + 1), "); run the program in double"));
  return longest;
}

/// Where the slices of an indirect view v (take, put_add, slice, unslice) lie, in row-major memory
/// around its axis: the table a gather reads (a scatter's own memory) as (outer, length, inner), and
/// the slices (a gather's own memory, a scatter's source) as (outer, count, inner), count being the
/// number of indices. `extent(n, p)` is the extent of node n's axis p.
struct slicing {
  std::size_t outer = 1, length = 1, inner = 1, count = 1;
  std::size_t offset = 0;  // a range's first index (slice, and the parts of a concatenation)
};
template <std::size_t N, class Extent>
slicing slicing_of(const std::array<node_info, N>& nodes, int v, Extent extent) {
  const node_info& info = nodes[static_cast<std::size_t>(v)];
  const int table = info.scatters ? v : info.args[0], a = info.indirect_axis;
  slicing s;
  for (int p = 0; p < a; ++p) s.outer *= extent(table, p);
  for (int p = a + 1; p < nodes[static_cast<std::size_t>(table)].rank; ++p) s.inner *= extent(table, p);
  s.length = extent(table, a);
  if (info.first >= 0) {
    s.offset = static_cast<std::size_t>(info.first);
    s.count = static_cast<std::size_t>(info.count);
  } else if (info.first == -1) {
    for (int p = 0; p < nodes[static_cast<std::size_t>(info.args[1])].rank; ++p) s.count *= extent(info.args[1], p);
  } else {  // place(g, other): g's part; cut(x, like, other): like's; the second part after other's
    const bool scatter = info.scatters;
    s.count = extent(info.args[scatter ? 0 : 1], a);
    s.offset = info.first == -3 ? extent(info.args[scatter ? 1 : 2], a) : 0;
  }
  return s;
}

/// The extent n bound to arange<"n">()'s leaf `name`: a whole number, not negative.
template <class Number>
std::size_t count_bound(std::string_view name, Number n) {
  if constexpr (std::is_signed_v<Number>)
    if (n < 0)
      throw binding_error(detail::join("kobai: '", name, "' (arange) is bound to ", std::to_string(n),
                                       "; bind the number of elements, 0 or more"));
  return static_cast<std::size_t>(n);
}

template <std::size_t N, std::size_t Classes>
class extents {
 public:
  extents(const plan_data<N>& plan, const std::array<node_info, N>& nodes) : plan_(plan), nodes_(nodes) {
    owner_.fill(-1);
  }

  /// Binds tensor leaf n, named `name`, to a container of shape `shape` (rank already checked).
  template <class Shape>
  void bind_leaf(int n, std::string_view name, const Shape& shape) {
    const auto i = static_cast<std::size_t>(n);
    const int rank = nodes_[i].rank;
    names_[i] = name;
    for (int p = 0; p < rank; ++p) shapes_[i][static_cast<std::size_t>(p)] = shape[static_cast<std::size_t>(p)];
    for (int p = 0; p < rank; ++p) {
      const std::size_t extent = shapes_[i][static_cast<std::size_t>(p)];
      const auto c = static_cast<std::size_t>(plan_.cls[i][static_cast<std::size_t>(p)]);
      if (owner_[c] < 0) {
        owner_[c] = n;
        extent_[c] = extent;
      } else if (extent_[c] != extent) {
        const auto o = static_cast<std::size_t>(owner_[c]);
        throw shape_error(detail::join(
            "kobai: extents do not match: '", names_[o], "' has shape ", shape_text(shapes_[o].data(), nodes_[o].rank),
            " but '", name, "' has shape ", shape_text(shapes_[i].data(), rank), "; its axis ", std::to_string(p),
            " meets an axis of extent ", std::to_string(extent_[c]),
            " (kobai broadcasts missing axes and axes made by unsqueeze or keepdims, not extents of 1 found at "
            "run time)"));
      }
    }
  }

  /// After every leaf: the extents of flattened axes, and checks that reshapes keep the count.
  void bind_views() {
    for (std::size_t v = 0; v < N; ++v) {
      if (nodes_[v].k != kind::view) continue;
      if (nodes_[v].indirect) {  // take and put_add: extents by their ties; a narrow's axis: its count;
        // a concatenation's axis: its parts' extents together
        if (nodes_[v].first <= -2) {
          const node_info& info = nodes_[v];
          const int a = info.indirect_axis, part = info.args[info.scatters ? 0 : 1],
                    other = info.args[info.scatters ? 1 : 2],
                    joined = info.scatters ? static_cast<int>(v) : info.args[0];
          const int c = plan_.cls[static_cast<std::size_t>(joined)][static_cast<std::size_t>(a)];
          const std::size_t extent = of(part, a) + of(other, a);
          if (c >= 0)
            bind_class(static_cast<std::size_t>(c), static_cast<int>(v), extent,
                       detail::join("a concatenation's axis of extent ", std::to_string(extent)));
        } else if (nodes_[v].first >= 0 && nodes_[v].keep) {
          const int sliced = nodes_[v].scatters ? nodes_[v].args[0] : static_cast<int>(v);
          const int c = plan_.cls[static_cast<std::size_t>(sliced)][static_cast<std::size_t>(nodes_[v].indirect_axis)];
          if (c >= 0)
            bind_class(static_cast<std::size_t>(c), static_cast<int>(v), static_cast<std::size_t>(nodes_[v].count),
                       detail::join("narrow's axis of extent ", std::to_string(nodes_[v].count)));
        }
        continue;
      }
      const std::size_t count = elements(nodes_[v].args[0]);
      if (nodes_[v].rereads) {  // its argument's extents, axis by axis
        for (int p = 0; p < nodes_[v].rank; ++p)
          if (const int c = plan_.cls[v][static_cast<std::size_t>(p)]; c >= 0)
            bind_class(
                static_cast<std::size_t>(c), static_cast<int>(v), of(nodes_[v].args[0], p),
                detail::join("an axis of extent ", std::to_string(of(nodes_[v].args[0], p)),
                             named(plan_.cls[static_cast<std::size_t>(nodes_[v].args[0])][static_cast<std::size_t>(p)]),
                             ", read along another axis of the same computation,"));
        continue;
      }
      if (nodes_[v].nargs == 1) {  // flatten: a new axis of `count` elements; reshape<E...>: the axes given
        const auto& fixed = nodes_[v].fixed;
        const bool given = nodes_[v].rank > 1 || fixed[0] != 0;
        std::size_t known = 1;
        for (int p = 0; p < nodes_[v].rank; ++p)
          if (fixed[static_cast<std::size_t>(p)] > 0)
            known *= static_cast<std::size_t>(fixed[static_cast<std::size_t>(p)]);
        if (given && (count % known != 0 || (count != known && !inferred(v))))
          throw shape_error(detail::join("kobai: reshape<", shape_numbers(v), "> of a tensor of ",
                                         std::to_string(count), " elements: ", std::to_string(count), " is not ",
                                         inferred(v) ? "a multiple of " : "", std::to_string(known)));
        for (int p = 0; p < nodes_[v].rank; ++p) {
          const int c = plan_.cls[v][static_cast<std::size_t>(p)];
          if (c < 0) continue;  // an extent of 1
          const std::int64_t f = fixed[static_cast<std::size_t>(p)];
          const std::size_t extent = !given ? count : f > 0 ? static_cast<std::size_t>(f) : count / known;
          bind_class(static_cast<std::size_t>(c), static_cast<int>(v), extent,
                     given ? detail::join("a reshaped tensor's axis of extent ", std::to_string(extent))
                           : detail::join("a flattened tensor of ", std::to_string(count), " elements"));
        }
      }
      const std::size_t shaped = elements(static_cast<int>(v));
      if (shaped != count)
        throw shape_error(detail::join("kobai: reshape of ", std::to_string(count), " elements into a shape of ",
                                       std::to_string(shaped), " elements"));
    }
  }

  /// The extent of class c.

  [[nodiscard]] std::size_t operator[](std::size_t c) const { return extent_[c]; }
  /// The extent of node n's axis p (1 for a unit axis).
  [[nodiscard]] std::size_t of(int n, int p) const {
    const int c = plan_.cls[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)];
    return c < 0 ? 1 : extent_[static_cast<std::size_t>(c)];
  }
  /// Elements of node n.
  [[nodiscard]] std::size_t elements(int n) const {
    std::size_t count = 1;
    for (int p = 0; p < nodes_[static_cast<std::size_t>(n)].rank; ++p) count *= of(n, p);
    return count;
  }

 private:
  [[nodiscard]] bool inferred(std::size_t v) const {
    for (int p = 0; p < nodes_[v].rank; ++p)
      if (nodes_[v].fixed[static_cast<std::size_t>(p)] < 0) return true;
    return false;
  }
  [[nodiscard]] std::string shape_numbers(std::size_t v) const {
    std::string text;
    for (int p = 0; p < nodes_[v].rank; ++p)
      text = detail::join(text, p ? ", " : "", std::to_string(nodes_[v].fixed[static_cast<std::size_t>(p)]));
    return text;
  }
  // A view's axis of class c has `extent` elements: the class's, or refused against another's.
  void bind_class(std::size_t c, int v, std::size_t extent, const std::string& what) {
    if (owner_[c] < 0) {
      owner_[c] = v;
      extent_[c] = extent;
    } else if (extent_[c] != extent) {
      throw shape_error(detail::join("kobai: ", what, " meets an axis of extent ", std::to_string(extent_[c]),
                                     named(static_cast<int>(c))));
    }
  }
  // " (from 'X')": the leaf whose shape gave class c its extent, if a leaf did.
  [[nodiscard]] std::string named(int c) const {
    const int o = c < 0 ? -1 : owner_[static_cast<std::size_t>(c)];
    return o < 0 || names_[static_cast<std::size_t>(o)].empty()
               ? std::string{}
               : detail::join(" (from '", names_[static_cast<std::size_t>(o)], "')");
  }

  const plan_data<N>& plan_;
  const std::array<node_info, N>& nodes_;
  std::array<std::size_t, Classes + 1> extent_{};
  std::array<int, Classes + 1> owner_{};
  std::array<std::string_view, N> names_{};
  std::array<std::array<std::size_t, max_axes>, N> shapes_{};
};

/// Stored value r's buffer: its classes in loop order, the innermost contiguous. Writes the stride
/// of each class into `stride` (left alone for classes it lacks) and returns the size.
template <std::size_t N, class Extents, class Strides>
constexpr std::size_t buffer_layout(const plan_data<N>& plan, int r, const Extents& extent, Strides& stride) {
  std::size_t size = 1;
  for (int pos = plan.classes - 1; pos >= 0; --pos)
    for (int c = 0; c < plan.classes; ++c) {
      const auto i = static_cast<std::size_t>(c);
      if (plan.position[i] != pos || ((plan.buffer_dims[static_cast<std::size_t>(r)] >> c) & 1U) == 0) continue;
      stride[i] = static_cast<std::remove_cvref_t<decltype(stride[i])>>(size);
      size *= static_cast<std::size_t>(extent[i]);
    }
  return size;
}

/// The shape of node n (an output), unit axes of extent 1.
template <std::size_t Rank, std::size_t N, class Extents>
std::array<std::size_t, Rank> shape_of(const plan_data<N>& plan, int n, const Extents& extent) {
  std::array<std::size_t, Rank> shape{};
  for (std::size_t p = 0; p < Rank; ++p) {
    const int c = plan.cls[static_cast<std::size_t>(n)][p];
    shape[p] = c < 0 ? 1 : static_cast<std::size_t>(extent[static_cast<std::size_t>(c)]);
  }
  return shape;
}

/// Copies stored value n's buffer (strides by class, from buffer_layout) into row-major memory of
/// n's own axes, of shape `shape`.
template <std::size_t N, class Strides, class Source, class Target, std::size_t Rank>
void to_axis_order(const plan_data<N>& plan, int n, const Strides& stride, const Source* source, Target* target,
                   const std::array<std::size_t, Rank>& shape) {
  static_assert(Rank > 0);
  std::array<std::ptrdiff_t, Rank> step{};  // the source's stride along each axis of n (0: a unit axis)
  for (std::size_t p = 0; p < Rank; ++p)
    if (const int c = plan.cls[static_cast<std::size_t>(n)][p]; c >= 0)
      step[p] = static_cast<std::ptrdiff_t>(stride[static_cast<std::size_t>(c)]);
  std::size_t rows = 1;
  for (std::size_t p = 0; p + 1 < Rank; ++p) rows *= shape[p];
  const std::size_t length = shape[Rank - 1];
  const std::ptrdiff_t inner = step[Rank - 1];
  std::array<std::size_t, Rank> at{};
  for (std::size_t row = 0; row < rows; ++row, target += length) {  // the last axis as one run
    std::ptrdiff_t offset = 0;
    for (std::size_t p = 0; p + 1 < Rank; ++p) offset += static_cast<std::ptrdiff_t>(at[p]) * step[p];
    const Source* from = source + offset;
    if (inner == 1) {
      std::copy_n(from, length, target);
    } else {
      for (std::size_t e = 0; e < length; ++e)
        target[e] = static_cast<Target>(from[static_cast<std::ptrdiff_t>(e) * inner]);
    }
    for (std::size_t p = Rank - 1; p-- > 0;) {
      if (++at[p] < shape[p]) break;
      at[p] = 0;
    }
  }
}

}  // namespace kobai::ir
