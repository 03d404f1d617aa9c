// kobai::scan: a recurrence run for a number of steps known only at run time, as jax.lax.scan:
// carried state (var<> leaves) updated each step by expressions of the state, of one step's slice
// of each sequence and of the parameters, with a loss per step summed over the steps and a loss of
// the final state. Three programs are compiled once, whatever the number of steps: the step, its
// pullback (the carried adjoints and the parameters' gradient contributions of one step) and the
// final loss with its gradient. Reverse mode keeps each step's state, O(steps × state) memory, or
// with checkpoint_every(k) every k-th step's, recomputing the rest one segment at a time.
//
//   constexpr auto h = var<"h", 1>;    // the state
//   constexpr auto x = input<"x", 1>;  // one step's row of the sequence bound to "x", (steps, n)
//   auto rnn = kobai::scan(kobai::carry(h, tanh(matmul(W, h) + x)), kobai::over(x),
//                          kobai::final_loss(sum(h * h)));
//   auto r = rnn.gradient(h = h0, x = X, W = W0);  // r.loss, r.final(h), r.gradient(W), r.gradient(h)
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"
#include "kobai/cpu/program.hpp"
#include "kobai/diff/grad.hpp"

namespace kobai {

namespace detail {
template <class Leaf, role Role>
inline constexpr bool leaf_of_role = is_leaf<Leaf>&& requires {
  requires Leaf::kind == Role;
};

template <class Leaf, class Next>
struct carry_piece {};
struct invalid_piece {};  // what a refused piece gives (its static_assert said why)

/// What scan gives after a refused piece: every use of it compiles to nothing more, so the
/// piece's message stands alone.
struct rejected_scan {
  struct outcome {
    rejected_call loss;
    template <class Leaf>
    rejected_call final(Leaf) const {
      return {};
    }
    template <class Leaf>
    rejected_call gradient(Leaf) const {
      return {};
    }
    template <std::size_t K>
    rejected_call emitted() const {
      return {};
    }
  };
  constexpr rejected_scan& steps(std::size_t) { return *this; }
  constexpr rejected_scan& threads(unsigned) { return *this; }
  constexpr rejected_scan& checkpoint_every(std::size_t) { return *this; }
  template <class... A>
  outcome operator()(A&&...) const {
    return {};
  }
  template <class... A>
  outcome gradient(A&&...) const {
    return {};
  }
};
template <class... Leaves>
struct over_piece {};
template <class Loss>
struct step_loss_piece {};
template <class... Values>
struct emit_piece {};
template <class Loss>
struct final_loss_piece {};

template <class P>
struct carries_in {
  using type = std::tuple<>;
};
template <class L, class N>
struct carries_in<carry_piece<L, N>> {
  using type = std::tuple<carry_piece<L, N>>;
};
template <class P, template <class> class Piece>
struct loss_in {
  using type = std::tuple<>;
};
template <class E, template <class> class Piece>
struct loss_in<Piece<E>, Piece> {
  using type = std::tuple<E>;
};
template <class P>
struct over_in {
  using type = std::tuple<>;
};
template <class... X>
struct over_in<over_piece<X...>> {
  using type = std::tuple<over_piece<X...>>;
};
template <class P>
struct emit_in {
  using type = std::tuple<>;
};
template <class... Y>
struct emit_in<emit_piece<Y...>> {
  using type = std::tuple<emit_piece<Y...>>;
};
template <class Tuple, class Otherwise>
struct first_or {
  using type = Otherwise;
};
template <class First, class... Rest, class Otherwise>
struct first_or<std::tuple<First, Rest...>, Otherwise> {
  using type = First;
};
using zero_loss = std::remove_cvref_t<decltype(literal<0>)>;

/// The name of the adjoint leaf a scan's pullback reads for carried leaf `Name`: "Name'".
template <fixed_string Name>
consteval auto adjoint_name() {
  char text[Name.size() + 2]{};
  for (std::size_t i = 0; i < Name.size(); ++i) text[i] = Name.chars[i];
  text[Name.size()] = '\'';
  return fixed_string<Name.size() + 2>(text);
}

template <class T, class Leaf>
using state_storage = std::conditional_t<Leaf::rank == 0, T, xt::xtensor<T, static_cast<std::size_t>(Leaf::rank)>>;

/// A program's results as a tuple (one output comes back alone).
template <class R>
auto as_tuple(R&& results) {
  if constexpr (requires { std::tuple_size<std::remove_cvref_t<R>>::value; })
    return std::forward<R>(results);
  else
    return std::tuple<std::remove_cvref_t<R>>{std::forward<R>(results)};
}
}  // namespace detail

/// carry(h, next): h, a var<> leaf, is state carried from step to step; `next` is its value after
/// one step (an expression of the state, the sequences' slices and the parameters, of h's rank).
template <class Leaf, expression Next>
constexpr auto carry(Leaf, Next) {
  constexpr bool state = detail::leaf_of_role<Leaf, role::variable>;
  static_assert(state,
                "kobai::carry(h, next): h, the carried state, is a var<> leaf (its gradient is the initial "
                "state's)");
  if constexpr (!state) {
    return detail::invalid_piece{};
  } else {
    static_assert(Next::rank == Leaf::rank, "kobai::carry(h, next): next, the state after one step, has h's rank");
    if constexpr (Next::rank != Leaf::rank)
      return detail::invalid_piece{};
    else
      return detail::carry_piece<Leaf, Next>{};
  }
}

/// over(x, …): input<> leaves read one step at a time: each is bound to a tensor of one more axis,
/// the steps first, and step t reads its slice t.
template <class... Leaves>
constexpr auto over(Leaves...) {
  constexpr bool inputs = (detail::leaf_of_role<Leaves, role::data> && ...);
  static_assert(inputs,
                "kobai::over(x, ...): the sequences are input<> leaves, each bound to one more axis than "
                "the leaf has (the steps first)");
  if constexpr (!inputs)
    return detail::invalid_piece{};
  else
    return detail::over_piece<Leaves...>{};
}

/// step_loss(l): a scalar summed over the steps (as ADBench's LSTM sums each prediction's loss).
template <expression Loss>
constexpr auto step_loss(Loss) {
  static_assert(Loss::rank == 0, "kobai::step_loss(l): the loss of one step is a scalar; reduce it with sum or mean");
  if constexpr (Loss::rank != 0)
    return detail::invalid_piece{};
  else
    return detail::step_loss_piece<Loss>{};
}
/// emit(y, …): values of each step (expressions of the state before the step, the step's slices and
/// the parameters), stacked over the steps as jax.lax.scan's ys: r.emitted<0>() holds y at every
/// step, the steps first. Forward values only: a loss of them goes through step_loss.
template <expression... Values>
constexpr auto emit(Values...) {
  static_assert(sizeof...(Values) > 0, "kobai::emit(y, ...): name the values to keep from each step");
  return detail::emit_piece<Values...>{};
}

/// final_loss(f): a scalar of the final state (and the parameters), added to the steps' losses.
template <expression Loss>
constexpr auto final_loss(Loss) {
  static_assert(Loss::rank == 0,
                "kobai::final_loss(f): the loss of the final state is a scalar; reduce it with sum "
                "or mean");
  if constexpr (Loss::rank != 0)
    return detail::invalid_piece{};
  else
    return detail::final_loss_piece<Loss>{};
}

template <class Carries, class Over, class StepLoss, class FinalLoss, class Emits>
class scan_program;

/// A compiled recurrence (see the top of this file). Call it with bindings by name: each carried
/// leaf bound to its initial state, each sequence to its steps, the parameters to their values.
template <class... H, class... N, class... X, class StepLoss, class FinalLoss, class... Y>
class scan_program<std::tuple<detail::carry_piece<H, N>...>, detail::over_piece<X...>, StepLoss, FinalLoss,
                   detail::emit_piece<Y...>> {
  template <class Leaf>
  static constexpr bool is_parameter =
      Leaf::kind == role::variable && !(std::is_same_v<std::remove_cvref_t<Leaf>, H> || ...);
  template <class... Ls>
  static auto parameters_in(type_list<Ls...>)
      -> decltype(std::tuple_cat(std::conditional_t<is_parameter<Ls>, std::tuple<Ls>, std::tuple<>>{}...));
  using parameters = decltype(parameters_in(leaves_of<N..., StepLoss, FinalLoss>{}));
  template <class Leaf>
  using adjoint = leaf<detail::adjoint_name<Leaf::name>(), Leaf::rank, role::data>;
  template <class A, class E>
  static constexpr auto inner(A a, E e) {
    if constexpr (E::rank == 0)
      return a * e;
    else
      return sum(a * e);
  }
  // The pullback of one step: ⟨adjoints, next state⟩ + the step's loss, whose gradient with
  // respect to the state and the parameters is what one step sends back.
  static constexpr auto pulled = (inner(adjoint<H>{}, N{}) + ... + StepLoss{});
  static constexpr auto wrt = std::tuple_cat(std::tuple<H...>{}, parameters{});
  static constexpr auto forward_program() { return compile(N{}..., StepLoss{}, Y{}...); }
  static constexpr auto backward_program() {
    return std::apply([](auto... v) { return compile(grad(pulled, v...)); }, wrt);
  }
  static constexpr auto final_program() {
    return std::apply([](auto... v) { return compile(FinalLoss{}, grad(FinalLoss{}, v...)); }, wrt);
  }

 public:
  /// The number of steps when no sequence gives it (an ODE integrator's).
  scan_program& steps(std::size_t count) {
    steps_ = count;
    return *this;
  }
  /// Loop tasks of each step's programs (0: every thread of the pool), as program::threads.
  scan_program& threads(unsigned count) {
    threads_ = count;
    return *this;
  }
  /// Checkpointing for gradient(): the forward pass keeps the state of every `every`-th step only,
  /// and the reverse pass recomputes the others one segment at a time, so it holds
  /// O((steps / every + every) · state) instead of O(steps · state), for one more forward step per
  /// step. 1 (the default) keeps every state; 0 takes the segment ⌈√steps⌉ (the least memory).
  /// The results are the same bits whatever the setting: a recomputed state is the state.
  scan_program& checkpoint_every(std::size_t every) {
    every_ = every;
    return *this;
  }

  /// What a run gives: the loss (the steps' losses summed, plus the final loss) and the final state.
  template <class T, class Params>
  struct result {
    T loss{};
    std::tuple<detail::state_storage<T, H>...> state;
    /// Gradients of the loss with respect to the initial state and to each parameter (gradient() only).
    decltype(std::tuple_cat(std::tuple<detail::state_storage<T, H>...>{},
                            std::apply([](auto... p) { return std::tuple<detail::state_storage<T, decltype(p)>...>{}; },
                                       Params{}))) gradients;
    /// The emitted values of every step, the steps first (emit(y, …)'s order).
    std::tuple<xt::xtensor<T, static_cast<std::size_t>(Y::rank) + 1>...> emitted_values;

    template <std::size_t K>
    [[nodiscard]] const auto& emitted() const {
      static_assert(K < sizeof...(Y), "kobai::scan: emitted<K>(): K counts the values given to emit(...)");
      return std::get<K>(emitted_values);
    }

    template <class Leaf>
    [[nodiscard]] const auto& final(Leaf) const {
      return std::get<index_in<Leaf, std::tuple<H...>>()>(state);
    }
    template <class Leaf>
    [[nodiscard]] const auto& gradient(Leaf) const {
      return std::get<index_in<Leaf, decltype(wrt)>()>(gradients);
    }
  };

  /// Runs the steps: the loss and the final state.
  template <class... Bindings>
  auto operator()(Bindings... bindings) const {
    return run<false>(std::move(bindings)...);
  }
  /// Runs the steps, keeping each step's state, then the pullbacks from the last step to the
  /// first: the loss, the final state and every gradient.
  template <class... Bindings>
  auto gradient(Bindings... bindings) const {
    return run<true>(std::move(bindings)...);
  }

 private:
  template <class Leaf, class Tuple>
  static constexpr std::size_t index_in() {
    return []<class... Ts>(std::tuple<Ts...>*) {
      return kobai::detail::first_match(std::array<bool, sizeof...(Ts)>{std::is_same_v<Ts, Leaf>...});
    }(static_cast<std::remove_cv_t<Tuple>*>(nullptr));
  }
  template <class Binding>
  static constexpr bool carried_or_sequence = ((Binding::name.view() == H::name.view()) || ...) ||
                                              ((Binding::name.view() == X::name.view()) || ...);

  template <bool Gradient, class... Bindings>
  auto run(Bindings... bindings) const {
    using T = typename detail::element_type_t<Bindings...>::type;
    const environment<Bindings...> point{std::tuple<Bindings...>{bindings...}};
    static_assert(((environment<Bindings...>::template has<H::name>)&&...),
                  "kobai::scan: bind every carried leaf to its initial state (h = h0)");
    static_assert(((environment<Bindings...>::template has<X::name>)&&...),
                  "kobai::scan: bind every sequence of over(...) to its steps (x = X, the steps first)");
    // The parameters' bindings (and any other), passed to every program as they are.
    const auto fixed = std::tuple_cat([&] {
      if constexpr (carried_or_sequence<Bindings>)
        return std::tuple<>{};
      else
        return std::tuple<Bindings>{bindings};
    }()...);
    using state_type = std::tuple<detail::state_storage<T, H>...>;
    const std::size_t steps = count_steps(point);
    const std::size_t every = segment(steps);
    state_type state{initial<T, H>(point.template get<H::name>())...};
    std::vector<state_type> checkpoints;  // the state before steps 0, every, 2·every, …
    if constexpr (Gradient) checkpoints.reserve((steps + every - 1) / every);
    auto forward = forward_program();
    forward.threads(threads_);
    result<T, parameters> out;
    // Step t from `state`, in place: the step's loss (and, the first time, its emitted values).
    const auto advance = [&](state_type& at, std::size_t t, bool first_time) {
      auto next = detail::as_tuple(call(forward, fixed, at, point, t));
      at = [&]<std::size_t... K>(std::index_sequence<K...>) { return state_type{std::move(std::get<K>(next))...}; }
      (std::index_sequence_for<H...>{});
      if (first_time) [&]<std::size_t... K>(std::index_sequence<K...>) {
          (keep(std::get<K>(out.emitted_values), std::get<sizeof...(H) + 1 + K>(next), t, steps), ...);
        }
      (std::index_sequence_for<Y...>{});
      return static_cast<double>(std::get<sizeof...(H)>(next));
    };
    double loss = 0;
    for (std::size_t t = 0; t < steps; ++t) {
      if constexpr (Gradient)
        if (t % every == 0) checkpoints.push_back(state);
      loss += advance(state, t, true);
    }
    auto final = final_program();
    final.threads(threads_);
    auto last = detail::as_tuple(std::apply(
        [&](const auto&... f) {
          return std::apply([&](const auto&... s) { return final(f..., (H{} = s)...); }, state);
        },
        fixed));
    out.loss = static_cast<T>(loss + static_cast<double>(std::get<0>(last)));
    out.state = std::move(state);
    if constexpr (Gradient) {
      out.gradients = [&]<std::size_t... K>(std::index_sequence<K...>) {
        return decltype(out.gradients){std::move(std::get<K + 1>(last))...};
      }
      (std::make_index_sequence<std::tuple_size_v<decltype(wrt)>>{});
      auto backward = backward_program();
      backward.threads(threads_);
      std::vector<state_type> states;  // the states before the steps of one segment
      states.reserve(std::min(every, steps));
      for (std::size_t first = checkpoints.empty() ? 0 : (checkpoints.size() - 1) * every; !checkpoints.empty();
           first -= every) {
        const std::size_t end = std::min(first + every, steps);
        states.assign(1, std::move(checkpoints.back()));
        checkpoints.pop_back();
        for (std::size_t t = first; t + 1 < end; ++t) {  // the segment's states, recomputed
          states.push_back(states.back());
          advance(states.back(), t, false);
        }
        for (std::size_t t = end; t-- > first;) {
          auto sent = [&]<std::size_t... K>(std::index_sequence<K...>) {
            return detail::as_tuple(
                call(backward, std::tuple_cat(fixed, std::tuple{(adjoint<H>{} = std::get<K>(out.gradients))...}),
                     states[t - first], point, t));
          }
          (std::index_sequence_for<H...>{});
          [&]<std::size_t... K>(std::index_sequence<K...>) {
            ((K < sizeof...(H) ? assign(std::get<K>(out.gradients), std::get<K>(sent))
                               : add(std::get<K>(out.gradients), std::get<K>(sent))),
             ...);
          }
          (std::make_index_sequence<std::tuple_size_v<decltype(wrt)>>{});
        }
        if (first == 0) break;
      }
    }
    return out;
  }

  // One step's program on the fixed bindings, the state and slice t of each sequence.
  template <class Program, class Fixed, class State, class Point>
  auto call(const Program& program, const Fixed& fixed, const State& state, const Point& point, std::size_t t) const {
    return std::apply(
        [&](const auto&... f) {
          return std::apply(
              [&](const auto&... s) {
                return program(f..., (H{} = s)..., (X{} = slice(point.template get<X::name>(), t))...);
              },
              state);
        },
        fixed);
  }

  // Steps per checkpoint: every_, or ⌈√steps⌉ for 0.
  std::size_t segment(std::size_t steps) const {
    if (every_ > 0) return every_;
    std::size_t root = 1;
    while (root * root < steps) ++root;
    return root;
  }

  template <class Point>
  std::size_t count_steps(const Point& point) const {
    std::size_t steps = steps_.value_or(0);
    bool given = steps_.has_value();
    (
        [&] {
          const auto& sequence = point.template get<X::name>();
          static_assert(
              requires { sequence.shape(); } && std::remove_cvref_t<decltype(sequence)>::rank == X::rank + 1,
              "kobai::scan: a sequence is bound to a tensor of one more axis than its leaf (the steps first)");
          const std::size_t length = sequence.shape()[0];
          if (given && length != steps)
            throw shape_error(kobai::detail::join("kobai::scan: the sequence '", std::string(X::name.view()), "' has ",
                                                  std::to_string(length), " steps where ", std::to_string(steps),
                                                  " were given"));
          steps = length;
          given = true;
        }(),
        ...);
    if (!given) throw error("kobai::scan: no sequence gives the number of steps; set it with .steps(n)");
    return steps;
  }

  template <class T, class Leaf, class V>
  static detail::state_storage<T, Leaf> initial(const V& value) {
    if constexpr (Leaf::rank == 0)
      return static_cast<T>(value);
    else
      return detail::state_storage<T, Leaf>(value);
  }
  // Step t of a sequence: its slice along the first axis, adapted without a copy.
  template <class S>
  static auto slice(const S& sequence, std::size_t t) {
    using value_type = typename S::value_type;
    if constexpr (S::rank == 1) {
      return sequence.data()[t];  // a number per step
    } else {
      constexpr std::size_t rank = S::rank - 1;
      std::array<std::size_t, rank> shape{};
      std::size_t width = 1;
      for (std::size_t p = 0; p < rank; ++p) width *= (shape[p] = sequence.shape()[p + 1]);
      return xt::adapt(const_cast<value_type*>(sequence.data()) + t * width, width, xt::no_ownership(), shape);
    }
  }
  // Step t's value of an emitted y into its stack (allocated at the first step, y's shape after
  // the steps).
  template <class Stack, class V>
  static void keep(Stack& stack, const V& value, std::size_t t, std::size_t steps) {
    if constexpr (std::is_arithmetic_v<V>) {
      if (t == 0) stack = Stack::from_shape({steps});
      stack(t) = value;
    } else {
      if (t == 0) {
        std::array<std::size_t, Stack::rank> shape{steps};
        std::copy(value.shape().begin(), value.shape().end(), shape.begin() + 1);
        stack = Stack::from_shape(shape);
      }
      std::copy_n(value.data(), value.size(), stack.data() + t * value.size());
    }
  }
  template <class A, class B>
  static void assign(A& to, B& from) {
    to = std::move(from);
  }
  template <class A, class B>
  static void add(A& to, const B& from) {
    to += from;
  }

  std::optional<std::size_t> steps_;
  unsigned threads_ = 1;
  std::size_t every_ = 1;
};

/// scan(carry(h, next)…, over(x…), step_loss(l), final_loss(f), emit(y…)): a compiled recurrence;
/// over, step_loss, final_loss and emit may be left out (no sequences: set the number of steps with
/// .steps(n)).
template <class... Pieces>
constexpr auto scan(Pieces...) {
  using carries = decltype(std::tuple_cat(typename detail::carries_in<Pieces>::type{}...));
  using overs = decltype(std::tuple_cat(typename detail::over_in<Pieces>::type{}...));
  using step_losses = decltype(std::tuple_cat(typename detail::loss_in<Pieces, detail::step_loss_piece>::type{}...));
  using final_losses = decltype(std::tuple_cat(typename detail::loss_in<Pieces, detail::final_loss_piece>::type{}...));
  using emits = decltype(std::tuple_cat(typename detail::emit_in<Pieces>::type{}...));
  constexpr bool refused = (std::is_same_v<Pieces, detail::invalid_piece> || ...);
  constexpr bool once = std::tuple_size_v<overs> <= 1 && std::tuple_size_v<step_losses> <= 1 &&
                        std::tuple_size_v<final_losses> <= 1 && std::tuple_size_v<emits> <= 1;
  constexpr bool carried = std::tuple_size_v < carries >> 0;
  static_assert(refused || once, "kobai::scan: give over(...), step_loss, final_loss and emit(...) once each");
  static_assert(refused || !once || carried, "kobai::scan: give the carried state with kobai::carry(h, next)");
  if constexpr (refused || !once || !carried)
    return detail::rejected_scan{};
  else
    return scan_program<carries, typename detail::first_or<overs, detail::over_piece<>>::type,
                        typename detail::first_or<step_losses, detail::zero_loss>::type,
                        typename detail::first_or<final_losses, detail::zero_loss>::type,
                        typename detail::first_or<emits, detail::emit_piece<>>::type>{};
}

}  // namespace kobai
