// Loop order: classes are ordered outer to inner by the leaves' row-major axis order (and that of
// take's memory), then so that
// a reduction folds classes inside the ones it keeps where it can (z[n] = Σ_d X[n,d]·w[d] completes
// within one n).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "kobai/ir/instructions.hpp"

namespace kobai::ir {

/// Sets plan.position: each class's place in the loop order, 0 outermost.
template <std::size_t N>
constexpr void order_loops(plan_data<N>& plan, const std::array<node_info, N>& nodes) {
  // Leaves want their row-major order (contiguous inner loops, SIMD loads), then a
  // reduction wants the classes it folds inside those it keeps; an edge that would close a cycle
  // is dropped. Where they disagree (X·W1 with W1 row-major), the reduction completes inside an
  // outer iteration with a small buffer over the classes it keeps.
  std::array<std::uint64_t, max_classes> after{};  // after[a]: classes that must come after a
  auto edge = [&](int a, int b) {
    if (a == b || ((after[b] >> a) & 1U) != 0) return;
    const std::uint64_t add = (std::uint64_t{1} << b) | after[b];
    for (int x = 0; x < plan.classes; ++x)
      if (x == a || ((after[x] >> a) & 1U) != 0) after[x] |= add;
  };
  for (std::size_t n = 0; n < N; ++n)
    if (nodes[n].k == kind::tensor_leaf || nodes[n].indirect)  // (take's memory is row-major too)
      for (int p = 1; p < nodes[n].rank; ++p)
        if (plan.cls[n][p - 1] >= 0 && plan.cls[n][p] >= 0) edge(plan.cls[n][p - 1], plan.cls[n][p]);
  for (std::size_t n = 0; n < N; ++n) {
    if (nodes[n].k != kind::reduction) continue;
    const int arg = nodes[n].args[0];
    for (int q = 0; q < nodes[arg].rank; ++q) {
      const int cq = plan.cls[arg][q];
      if (cq < 0 || ((nodes[n].folded >> q) & 1U) == 0) continue;
      for (int p = 0; p < nodes[arg].rank; ++p)
        if (plan.cls[arg][p] >= 0 && ((nodes[n].folded >> p) & 1U) == 0) edge(plan.cls[arg][p], cq);
    }
  }
  // Of the classes free to go next, the one with the most classes to come after it: a class no
  // leaf orders (a vector's axis broadcast against a matrix) goes inside the axes the leaves lead
  // with, so the top-level loop runs over the data's rows.
  std::uint64_t placed = 0;
  for (int pos = 0; pos < plan.classes; ++pos) {
    int best = -1;
    for (int c = 0; c < plan.classes; ++c) {
      if (((placed >> c) & 1U) != 0) continue;
      bool ready = true;
      for (int x = 0; x < plan.classes; ++x)
        if (((placed >> x) & 1U) == 0 && x != c && ((after[x] >> c) & 1U) != 0) ready = false;
      if (ready && (best < 0 || std::popcount(after[c]) > std::popcount(after[best]))) best = c;
    }
    plan.position[best] = pos;
    placed |= std::uint64_t{1} << best;
  }
}

}  // namespace kobai::ir
