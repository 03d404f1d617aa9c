// The CUDA renderer: a program's loop nests (ir/plan.hpp) as self-contained CUDA C source. Each
// top-level loop becomes one extern "C" __global__ kernel whose threads share that loop's
// iterations (a grid-stride loop); the loops inside it run per thread. Emits text only; compiling
// and launching belong to runtime/. This header describes each node's text (describe_text) and
// hands the plan's tables over as a plan_view; the renderer itself is codegen/cuda.cpp, compiled
// once into the runtime library.
//
// Memory a kernel uses, all reached through one by-value argument of 8-byte fields (`kobai_args`,
// each field described once in codegen/abi.hpp, filled by the runtime):
// - tensor leaves, tensor outputs and written-out views, row-major;
// - run-time scalars (the scalar leaves) and the extent of every loop class: nothing bound at run
//   time is a literal, so one compiled program serves every size and value;
// - values held in buffers (reductions and cached values, ir::stored):
//   - local ones (complete inside an iteration) live in a register when they have no classes of
//     their own, else in per-thread scratch, element e of thread t at (base + e)·threads + t;
//   - global ones accumulate in a double register (or per-thread double scratch), are folded
//     across the block (warp shuffles, then shared memory), written as per-block partials, and
//     folded over the blocks in a fixed order by `<loop>_finish`: the same bits on every run;
// - `results` (double): the folded global values, read by later kernels, and the scalar outputs
//   computed outside every loop (written by the last kernel).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kobai/codegen/abi.hpp"
#include "kobai/core/text.hpp"
#include "kobai/expr/math.hpp"
#include "kobai/ir/plan.hpp"
#include "kobai/runtime/export.hpp"

namespace kobai::codegen {

/// Whether global stored value r is indexed by the class of the top-level loop that completes it
/// (a per-row value read by a later loop): each element then belongs to the one thread running
/// that iteration, which accumulates it straight into `results`, with no per-thread copies and no
/// partials to fold.
template <class Plan, class Nodes>
constexpr bool thread_owned(const Plan& plan, const Nodes& nodes, int r) {
  const auto i = static_cast<std::size_t>(r);
  if (!ir::stored(plan, nodes, r) || !plan.global[i]) return false;
  const int top = plan.code[static_cast<std::size_t>(plan.done[i])].cls;
  return ((plan.buffer_dims[i] >> top) & 1U) != 0;
}

/// A planned program's tables, whatever its size: what the renderer reads. It reads them through
/// the same member names as ir::plan_data<N>, so the ir functions over a plan take either.
struct plan_view {
  std::span<const ir::node_info> nodes;
  std::span<const ir::instruction> code;
  std::span<const std::array<int, ir::max_axes>> cls;
  std::span<const int> position;
  std::span<const bool> global;
  std::span<const std::uint64_t> buffer_dims;
  std::span<const int> done;
  std::span<const bool> cached;
  int classes = 0;
  int size = 0;
};

template <std::size_t N>
plan_view view_of(const ir::plan_data<N>& plan, const std::array<ir::node_info, N>& nodes) {
  return {nodes,     plan.code,   plan.cls,     plan.position, plan.global, plan.buffer_dims,
          plan.done, plan.cached, plan.classes, plan.size};
}

namespace detail {

using kobai::detail::join;

template <class T>
constexpr std::string_view type_name = std::is_same_v<T, float> ? "float" : "double";

// What the renderer knows of one node beyond the plan: its expression (elementwise), its value
// (constants), and how its buffer folds (stored values).
struct node_text {
  std::string_view expression;  // an elementwise node's C pattern: its op descriptor's `device`
  long long parameter = 0;      // the op's parameter, for the pattern's {n} (an integer)
  double parameter_value = 0;   // and {r} (a number)
  std::string label;            // a leaf's name as a C identifier, for the fields that hold it
  double constant = 0;
  std::string_view fold = "kobai_sum";
  double identity = 0;
};

// A name as a C identifier's tail: letters and digits kept, anything else an underscore.
inline std::string identifier(std::string_view name) {
  std::string text;
  for (char c : name) text += (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ? c : '_';
  return text;
}

template <class E>
node_text describe_text() {
  node_text text;
  if constexpr (is_constant<E>) {
    text.constant = E::value.value();
  } else if constexpr (is_leaf<E>) {
    text.label = identifier(E::name.view());
  } else if constexpr (is_node<E>) {
    text.label = identifier(E::op::name);
    if constexpr (E::op::kind != op_kind::count &&
                  E::op::kind != op_kind::index) {  // numel: from extents; arange: a leaf of 0, 1, 2, …
      text.expression = E::op::device;
      text.parameter = E::op::parameter.num;
      text.parameter_value = E::op::parameter.value();
    }
    if constexpr (ops::reduction<typename E::op>) {
      text.identity = E::op::identity;
      text.fold = E::op::device_fold;
    }
  }
  return text;
}

/// Renders a planned program (codegen/cuda.cpp, compiled once into the runtime library rather
/// than per program size in every translation unit): its tables, what the renderer knows of each
/// node, the outputs' SSA indices, and the element type's C name.
KOBAI_RUNTIME_API cuda_program render_plan(const plan_view& plan, std::vector<node_text> text, std::vector<int> outputs,
                                           std::string_view type);

}  // namespace detail

/// CUDA C for the outputs' program, with element type T (float or double).
template <class T, expression... Outputs>
cuda_program render(Outputs...) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "kobai::codegen: float or double");
  using plan_type = ir::program_plan<std::remove_cvref_t<Outputs>...>;
  static_assert(plan_type::value.error == ir::failure::none,
                "kobai::codegen: the program cannot be planned; compile it with kobai::compile for the message");
  std::vector<detail::node_text> text;
  [&]<class... Ns>(type_list<Ns...>) {
    (text.push_back(detail::describe_text<Ns>()), ...);
  }(typename plan_type::order{});
  return detail::render_plan(view_of(plan_type::value, plan_type::nodes), std::move(text),
                             std::vector<int>(plan_type::output_index.begin(), plan_type::output_index.end()),
                             detail::type_name<T>);
}

}  // namespace kobai::codegen
