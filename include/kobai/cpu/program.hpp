// The CPU executor: compile(outputs...) gives a program that binds xtensor containers and scalars
// by name and runs the loop nests of ir/plan.hpp with xsimd batches, on the thread pool, with
// reductions accumulated in a fixed order (bit-identical run to run for a given thread count).
// The program is the last of the layers cpu/nest_info.hpp lists.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kobai/cpu/binding.hpp"
#include "kobai/cpu/outputs.hpp"

namespace kobai {

/// A compiled CPU program for the outputs. Call it with bindings, `program(x = X, w = 0.5f)`; it
/// returns the output (a number for a scalar output, an xt::xtensor otherwise), or a tuple of them.
/// It runs the loop nests of ir::make_plan: the innermost loop of each nest with SIMD batches, each
/// top-level loop split into chunks run on the thread pool. After the first call with a given
/// shape, a call allocates nothing on the heap (scalar outputs, or tensor outputs through `into`);
/// calls are independent and may run concurrently.
template <expression... Outputs>
class program : cpu::outputs<detail::key_of<Outputs...>> {
  using base = cpu::outputs<detail::key_of<Outputs...>>;
  KOBAI_CPU_LAYOUT_TYPES(base)
  template <class... Bindings>
  static constexpr bool valid_call = detail::valid_bindings<leaves_of<Outputs...>, type_list<Bindings...>>;

 public:
  KOBAI_CPU_NEST_INFO_TYPES(base)
  using leaves = leaves_of<Outputs...>;
  static_assert(detail::check_axis_conflict<base::plan.error == ir::failure::axis_conflict, typename base::order,
                                            base::plan.conflict_source>());
  static_assert(base::plan.error != ir::failure::too_many_axes, "kobai: tensors have at most 8 axes");
  static_assert(
      base::plan.error != ir::failure::too_large,
      "kobai: the program's loop nests outgrew the planner's tables; compile its outputs in several programs");
  static_assert(base::plan.error != ir::failure::too_many_classes,
                "kobai: a program has at most 64 distinct axes; split it into several programs");

  using base::block_extent;
  using base::max_tasks;
  using base::min_elements_per_task;

  /// Number of loop tasks: 0 uses every thread of the pool. Results are bit-identical run to run
  /// for a given setting; the same chunks are folded in the same order whichever thread runs them.
  constexpr program& threads(unsigned count) {
    base::threads_ = count;
    return *this;
  }
  /// The fewest element visits worth a task of their own (default min_elements_per_task): a loop is
  /// split into at most (its element visits) / elements tasks. Results are bit-identical run to run
  /// for a given thread count and grain.
  constexpr program& grain(std::size_t elements) {
    base::grain_ = std::max<std::size_t>(elements, 1);
    return *this;
  }

  /// A top-level loop with inner loops (per-row work: logits, hidden layers, their gradients) runs
  /// its rows in blocks, one row per SIMD lane, when none of its innermost loops is longer than
  /// `extent` (default block_extent); otherwise row by row, with SIMD along its inner loops. A loop
  /// that folds no reduction of its rows (a map over a 2-D grid) runs in blocks only while its
  /// inner loops are short (4 SIMD batches). 0 runs every loop row by row. Results are
  /// bit-identical run to run for a given setting.
  constexpr program& blocks(std::size_t extent) {
    base::block_extent_ = extent;
    return *this;
  }

  /// Runs the program on the bindings; bindings of names the program has no leaf for are ignored.
  template <class... Bindings>
  auto operator()(Bindings... bindings) const {
    if constexpr (detail::binds_unused<leaves, Bindings...>) {
      if constexpr (!detail::valid_bindings<leaves, detail::used_binding_types<leaves, Bindings...>>)
        return detail::rejected_call{};  // (a static_assert said why)
      else
        return std::apply([&](auto... used) { return call_checked(std::move(used)...); },
                          detail::used_bindings<leaves>(std::move(bindings)...));
    } else if constexpr (!valid_call<Bindings...>) {
      return detail::rejected_call{};  // (a static_assert said why)
    } else {
      return call_checked(std::move(bindings)...);
    }
  }

  /// Like operator(), refusing bindings of names the program has no leaf for (a misspelt name).
  template <class... Bindings>
  auto operator()(strict_t, Bindings... bindings) const {
    if constexpr (!valid_call<Bindings...>)
      return detail::rejected_call{};  // (a static_assert said why)
    else
      return (*this)(std::move(bindings)...);
  }

  /// Like operator(), but writes into `results`, a value the program returned before: tensors
  /// keep their buffers while the shape stays the same, so a step allocates nothing.
  template <class Results, class... Bindings>
  void into(Results& results, Bindings... bindings) const {
    if constexpr (detail::binds_unused<leaves, Bindings...>) {
      if constexpr (detail::valid_bindings<leaves, detail::used_binding_types<leaves, Bindings...>>)
        std::apply([&](auto... used) { into_checked(results, std::move(used)...); },
                   detail::used_bindings<leaves>(std::move(bindings)...));
    } else if constexpr (valid_call<Bindings...>)
      into_checked(results, std::move(bindings)...);
  }
  template <class Results, class... Bindings>
  void into(Results& results, strict_t, Bindings... bindings) const {
    if constexpr (valid_call<Bindings...>) into_checked(results, std::move(bindings)...);
  }

 private:
  template <class... Bindings>
  auto call_checked(Bindings... bindings) const {
    using T = typename detail::element_type_t<Bindings...>::type;
    const environment<Bindings...> point{std::tuple<Bindings...>{std::move(bindings)...}};
    call_state<T> call;
    base::bind(call, point);
    auto results = std::tuple{base::template allocate<T, Outputs>(call)...};
    base::template run<T>(call, point, results);
    if constexpr (sizeof...(Outputs) == 1)
      return std::get<0>(results);
    else
      return results;
  }
  template <class Results, class... Bindings>
  void into_checked(Results& results, Bindings... bindings) const {
    using T = typename detail::element_type_t<Bindings...>::type;
    const environment<Bindings...> point{std::tuple<Bindings...>{std::move(bindings)...}};
    call_state<T> call;
    base::bind(call, point);
    auto targets = [&] {
      if constexpr (sizeof...(Outputs) == 1)
        return std::tie(results);
      else
        return std::apply([](auto&... each) { return std::tie(each...); }, results);
    }();
    constexpr bool ours =
        std::is_same_v<std::remove_cvref_t<decltype(std::tuple{base::template allocate<T, Outputs>(call)...})>,
                       std::remove_cvref_t<decltype(std::apply([](auto&... e) { return std::tuple{e...}; }, targets))>>;
    static_assert(ours, "kobai::program::into: pass a result this program returned (same outputs, same element type)");
    if constexpr (ours) {
      [&]<std::size_t... K>(std::index_sequence<K...>) {
        (base::template resize<std::tuple_element_t<K, std::tuple<Outputs...>>>(std::get<K>(targets), call), ...);
      }
      (std::index_sequence_for<Outputs...>{});
      base::template run<T>(call, point, targets);
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
/// compile(loss, grad(loss, W, b)): the tuples that grad and hessian return are spread into
/// outputs, so the results come back flat, `auto [L, dW, db] = step(…)`.
template <class... Parts>
requires detail::outputs_with_tuples<Parts...>
constexpr auto compile(Parts...) {
  return []<class... Outputs>(type_list<Outputs...>) {
    return compile(Outputs{}...);
  }(typename detail::flat_outputs<Parts...>::type{});
}

}  // namespace kobai
