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

/// The subexpression read along two axes of one class c: the last node (in topological order) with
/// two or more users and an axis of class c, the tensor whose uses tie the two axes together (x in
/// outer(x, x) and in x^T A x, x - mu in (x - mu)(x - mu)^T); `fallback` when there is none.
template <std::size_t N>
constexpr int read_along_two_axes(const class_data<N>& plan, const std::array<node_info, N>& nodes, int c,
                                  int fallback) {
  std::array<int, N> users{};
  for (const node_info& node : nodes)
    for (int k = 0; k < node.nargs; ++k) ++users[static_cast<std::size_t>(node.args[static_cast<std::size_t>(k)])];
  for (int m = static_cast<int>(N) - 1; m >= 0; --m) {
    if (users[static_cast<std::size_t>(m)] < 2) continue;
    for (int a = 0; a < nodes[static_cast<std::size_t>(m)].rank; ++a)
      if (plan.cls[static_cast<std::size_t>(m)][static_cast<std::size_t>(a)] == c) return m;
  }
  return fallback;
}

/// Assigns each non-unit axis of each node its class; fails when a node would have two axes of
/// one class (x + transpose(x) for a non-square x needs them equal) or too many classes.
template <std::size_t N>
constexpr void assign_classes(class_data<N>& plan, const std::array<node_info, N>& nodes) {
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
          plan.conflict_source = read_along_two_axes(plan, nodes, plan.cls[n][p], static_cast<int>(n));
          return;
        }
}

}  // namespace kobai::ir
