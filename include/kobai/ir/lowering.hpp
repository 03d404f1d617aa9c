// Lowering: the SSA program (distinct subexpressions in topological order) as the planner sees it,
// one node_info per node, read from each op's descriptor (expr/ops.hpp): its kind, the arguments it
// reads, and its axis map. Knows neither xtensor nor CUDA.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kobai/expr/graph.hpp"
#include "kobai/expr/ops.hpp"

namespace kobai::ir {

inline constexpr int max_axes = 8;
inline constexpr int max_classes = 64;

enum class kind : std::uint8_t { constant, scalar_leaf, tensor_leaf, elementwise, reduction, numel, view };

/// What the planner needs to know of one node.
struct node_info {
  kind k = kind::constant;
  int rank = 0;
  std::uint32_t units = 0;
  int nargs = 0;
  std::array<int, 3> args{-1, -1, -1};  // SSA indices
  std::array<bool, 3> reads{};          // whether the value of an argument is read (expand's `like` is not)
  // map[k][p]: the axis of argument k that is axis p of this node (-1: broadcast or absent).
  std::array<std::array<int, max_axes>, 3> map{};
  std::uint32_t folded = 0;  // reductions: the argument's axes folded
  bool costly = false;       // a transcendental function: worth a buffer rather than recomputing
  bool passes = false;       // its value is its first argument's (unsqueeze, transpose, expand, detach)
  bool rereads = false;      // reread: a stored value read again from memory, on axes of its own (ir/uses.hpp)
  bool range = false;        // arange: a tensor leaf whose memory, which the backend binds, holds 0, 1, 2, …
  // take, put_add, slice, unslice: a view whose memory the backend fills between loops, from its
  // first argument's memory (written out by a loop when it is computed) at the positions its
  // second, an integer leaf, holds along axis `indirect_axis` (or a constant range)
  bool indirect = false;
  int indirect_axis = -1;
  bool scatters = false;    // put_add, unslice: zeros, with the slices added at the indices
  std::int64_t first = -1;  // slice, unslice: the indices first, first + 1, …, `count` of them
  std::int64_t count = 0;   // (first = -1: the indices an integer leaf holds, take and put_add;
                            // -2, -3: the first or the second part of a concatenation, place and cut)
  bool keep = true;         // slice, unslice: false when the sliced axis is removed (select)
  // reshape<E...>: the extents given (−1: the count the others leave); 0 for the axes of other views
  std::array<std::int64_t, max_axes> fixed{};
};

template <class E, class Order>
constexpr node_info describe() {
  node_info info;
  info.rank = E::rank;
  info.units = E::units;
  for (auto& m : info.map) m.fill(-1);
  if constexpr (is_constant<E>) {
    info.k = kind::constant;
  } else if constexpr (is_leaf<E>) {
    info.k = E::rank == 0 ? kind::scalar_leaf : kind::tensor_leaf;
    info.range = is_counted<E>;  // arange<"n">()
  } else {
    [&]<class Op, class... Args>(node<Op, Args...>*) {
      info.nargs = sizeof...(Args);
      int a = 0;
      ((info.args[a++] = static_cast<int>(index_of<Args, Order>)), ...);
      // The op's axis map, without the arguments' unit axes (they take no class).
      constexpr const axis_map& map = axes_of<Op, Args...>;
      constexpr std::array<std::uint32_t, sizeof...(Args)> units{Args::units...};
      for (std::size_t k = 0; k < sizeof...(Args); ++k) {
        info.reads[k] = Op::reads[k];
        for (int p = 0; p < E::rank && p < max_axes; ++p) {
          const int q = map.from[k][p];
          info.map[k][p] = q >= 0 && ((units[k] >> q) & 1U) == 0 ? q : -1;
        }
      }
      if constexpr (Op::kind == op_kind::count) {
        info.k = kind::numel;
      } else if constexpr (Op::kind == op_kind::index) {
        info.k = kind::tensor_leaf;  // arange: read from memory holding 0, 1, 2, … (its argument only ties its class)
        info.range = true;
      } else if constexpr (Op::kind == op_kind::reduction) {
        info.folded = map.folded & ~units[0];
        info.k = info.folded == 0 ? kind::elementwise : kind::reduction;  // folding units only reshapes
      } else if constexpr (Op::kind == op_kind::indirect) {
        info.k = kind::view;
        info.indirect = true;
        info.indirect_axis = static_cast<int>(Op::parameter.num);
        info.scatters = Op::scatters;
        if constexpr (requires { Op::first; }) {
          info.first = Op::first;
          info.count = Op::count;
          info.keep = Op::keep;
        } else if constexpr (requires { Op::second; }) {
          info.first = Op::second ? -3 : -2;
        }
      } else if constexpr (Op::kind == op_kind::layout) {
        info.k = kind::view;  // flatten's axis has its argument's element count; reshape has like's axes
        info.rereads = Op::id == ops::op_id::reread;
        if constexpr (requires { Op::extents; })
          for (std::size_t p = 0; p < Op::extents.size() && p < max_axes; ++p) info.fixed[p] = Op::extents[p];
      } else {
        info.k = kind::elementwise;
        info.costly = Op::costly;
        info.passes = std::is_base_of_v<ops::passes_value, Op> || std::is_same_v<Op, ops::expand>;
      }
    }(static_cast<E*>(nullptr));
  }
  return info;
}

template <class Order>
struct described;
template <class... Ns>
struct described<type_list<Ns...>> {
  static constexpr std::array<node_info, sizeof...(Ns)> value{describe<Ns, type_list<Ns...>>()...};
};

}  // namespace kobai::ir
