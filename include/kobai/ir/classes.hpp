// Iteration classes: every axis of every node belongs to one. Broadcasting, reductions, unsqueeze
// and transpose say which axes of a node are which axes of its arguments (the axis maps), and a
// union-find over all (node, axis) pairs gives the classes. A class is one loop index; its extent
// comes from the leaves bound to it (ir/extents.hpp).
#pragma once

#include <array>
#include <cstddef>

#include "kobai/ir/instructions.hpp"

namespace kobai::ir {

namespace planning {

template <std::size_t N>
struct union_find {
  std::array<int, N * max_axes> parent{};
  constexpr union_find() {
    for (std::size_t i = 0; i < parent.size(); ++i) parent[i] = static_cast<int>(i);
  }
  constexpr int find(int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  constexpr void unite(int a, int b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[a < b ? b : a] = a < b ? a : b;
  }
};

}  // namespace planning

/// The subexpression that node n reads along both its axes p and q: the highest node below n
/// (in topological order) one of whose axes both axes map to, through the axis maps; n itself when
/// none does (the classes met through other nodes).
template <std::size_t N>
constexpr int read_along_both(const std::array<node_info, N>& nodes, int n, int p, int q) {
  std::array<std::array<std::uint8_t, max_axes>, N> marks{};  // bit 0: reached from p, bit 1: from q
  marks[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)] = 1;
  marks[static_cast<std::size_t>(n)][static_cast<std::size_t>(q)] = 2;
  for (int m = n; m >= 0; --m) {
    const node_info& node = nodes[static_cast<std::size_t>(m)];
    for (int a = 0; a < node.rank; ++a) {
      const std::uint8_t mark = marks[static_cast<std::size_t>(m)][static_cast<std::size_t>(a)];
      if (mark == 3 && m != n) return m;
      for (int k = 0; k < node.nargs && mark != 0; ++k)
        if (const int b = node.map[static_cast<std::size_t>(k)][static_cast<std::size_t>(a)]; b >= 0)
          marks[static_cast<std::size_t>(node.args[static_cast<std::size_t>(k)])][static_cast<std::size_t>(b)] |= mark;
    }
  }
  return n;
}

/// Assigns each non-unit axis of each node its class; fails when a node would have two axes of
/// one class (x + transpose(x) for a non-square x needs them equal) or too many classes.
template <std::size_t N>
constexpr void assign_classes(plan_data<N>& plan, const std::array<node_info, N>& nodes) {
  planning::union_find<N> sets;
  for (std::size_t n = 0; n < N; ++n) {
    if (nodes[n].rank > max_axes) {
      plan.error = failure::too_many_axes;
      return;
    }
    for (int a = 0; a < nodes[n].nargs; ++a)
      for (int p = 0; p < nodes[n].rank; ++p)
        if (nodes[n].map[a][p] >= 0)
          sets.unite(static_cast<int>(n) * max_axes + p, nodes[n].args[a] * max_axes + nodes[n].map[a][p]);
  }
  std::array<int, N * max_axes> id{};
  id.fill(-1);
  for (std::size_t n = 0; n < N; ++n)
    for (int p = 0; p < nodes[n].rank; ++p) {
      plan.cls[n][p] = -1;
      if (((nodes[n].units >> p) & 1U) != 0) continue;
      const int root = sets.find(static_cast<int>(n) * max_axes + p);
      if (id[root] < 0) {
        if (plan.classes == max_classes) {
          plan.error = failure::too_many_classes;
          return;
        }
        id[root] = plan.classes++;
      }
      plan.cls[n][p] = id[root];
    }
  for (std::size_t n = 0; n < N; ++n)
    for (int p = 0; p < nodes[n].rank; ++p)
      for (int q = 0; q < p; ++q)
        if (plan.cls[n][p] >= 0 && plan.cls[n][p] == plan.cls[n][q]) {
          plan.error = failure::axis_conflict;
          plan.conflict_node = static_cast<int>(n);
          plan.conflict_source = read_along_both(nodes, static_cast<int>(n), p, q);
          return;
        }
}

}  // namespace kobai::ir
