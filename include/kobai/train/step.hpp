// A training step compiled once from a loss, its parameters and an optimizer:
//   auto step = kobai::train::compile_step(loss, kobai::train::parameters(W1, b1, W2, b2),
//                                          kobai::train::adam({.learning_rate = 1e-3}));
//   step.parameter(W1) = …;                   // initialise (train::kaiming_uniform, …)
//   double L = step(X = batch, Y = labels);   // loss, every gradient and the update, in one call
// The step owns the parameters, their gradients and the optimizer state; it binds the parameters
// itself, so a call names only the data. Checkpoints hold both, as .npz files NumPy reads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"
#include "kobai/cpu/program.hpp"
#include "kobai/diff/grad.hpp"
#include "kobai/train/npz.hpp"

namespace kobai::train {

/// The parameters a step trains: differentiable leaves (var<>), each once.
template <class... Vars>
struct parameter_list {};

namespace detail {
template <class Leaf>
constexpr void report_not_a_parameter() {
  static_assert(dependent_false<Leaf>,
                "kobai::train::parameters: each parameter is a var<> leaf (an input<> is data; bind it per call; "
                "the trace names it: leaf_named<...>)");
}
}  // namespace detail

template <class... Vars>
constexpr parameter_list<std::remove_cvref_t<Vars>...> parameters(Vars...) {
  static_assert(sizeof...(Vars) > 0, "kobai::train::parameters: name the var<> leaves the step trains");
  static_assert((is_leaf<Vars> && ...), "kobai::train::parameters: each parameter is a var<> leaf, not an expression");
  if constexpr ((is_leaf<Vars> && ...)) {
    constexpr std::size_t data =
        kobai::detail::first_match(std::array<bool, sizeof...(Vars)>{!is_differentiable<Vars>...});
    if constexpr (data < sizeof...(Vars))
      detail::report_not_a_parameter<
          kobai::detail::spelled<type_list<std::remove_cvref_t<Vars>...>::template at<data>::name>>();
  }
  static_assert(kobai::detail::names_are_unique<type_list<std::remove_cvref_t<Vars>...>>(),
                "kobai::train::parameters: a parameter is named twice");
  return {};
}

namespace detail {
template <class T, class Leaf>
using parameter_storage = std::conditional_t<Leaf::rank == 0, T, xt::xtensor<T, static_cast<std::size_t>(Leaf::rank)>>;

template <class Binding, class... Params>
inline constexpr bool binds_a_parameter = ((Binding::name.view() == Params::name.view()) || ...);
}  // namespace detail

/// A compiled training step over element type T (float or double). Each call binds the data,
/// computes the loss and the gradient of every parameter in one run of the compiled program,
/// then updates the parameters with the optimizer; a call after the first allocates nothing.
/// A loss that is NaN or infinite leaves the parameters as they were and throws kobai::error.
template <class T, class Loss, class Optimizer, class... Params>
class training_step {
  static_assert(std::is_floating_point_v<T>, "kobai::train::compile_step: the element type is float or double");
  static_assert(Loss::rank == 0, "kobai::train::compile_step: the loss must be a scalar; reduce it with sum or mean");
  using program_type = decltype(compile(Loss{}, grad(Loss{}, Params{})...));
  using results_type = std::tuple<T, detail::parameter_storage<T, decltype(grad(Loss{}, Params{}))>...>;

 public:
  using element_type = T;
  using optimizer_type = Optimizer;
  /// The number of parameters (one the loss does not use gets zero gradients, as with grad).
  static constexpr std::size_t parameter_count = sizeof...(Params);

  explicit training_step(Optimizer optimizer) : optimizer_(std::move(optimizer)) {}

  /// One step on the data bound by name (`X = batch, y = targets`; not the parameters): returns the
  /// loss before the update.
  template <class... Data>
  T operator()(Data... data) {
    if constexpr (!data_only<Data...>()) return T{};  // (the static_assert said it; nothing more fails)
    check_parameters();
    std::apply([&](auto&... p) { program_.into(results_, std::move(data)..., (Params{} = p)...); }, parameters_);
    const T loss = std::get<0>(results_);
    if (!std::isfinite(static_cast<double>(loss)))
      throw error(kobai::detail::join("kobai::train: the loss is ",
                                      std::isnan(static_cast<double>(loss)) ? "NaN" : "infinite", " at step ",
                                      std::to_string(steps_ + 1), "; the parameters were not updated"));
    std::apply([&](auto&... p) { optimizer_.step(std::tie(p...), gradients()); }, parameters_);
    ++steps_;
    return loss;
  }

  /// The loss on the data without a gradient or an update (validation, evaluation).
  template <class... Data>
  [[nodiscard]] T loss(Data... data) const {
    if constexpr (!data_only<Data...>()) return T{};
    check_parameters();
    auto loss_program = compile(Loss{});  // (instantiated only where loss() is used: compile time)
    loss_program.threads(threads_);
    return std::apply([&](const auto&... p) { return loss_program(std::move(data)..., (Params{} = p)...); },
                      parameters_);
  }

  /// A parameter's values, to initialise or read: an xt::xtensor<T, rank>, or a T for a scalar.
  template <class Leaf>
  [[nodiscard]] auto& parameter(Leaf) {
    return std::get<index<Leaf>()>(parameters_);
  }
  template <class Leaf>
  [[nodiscard]] const auto& parameter(Leaf) const {
    return std::get<index<Leaf>()>(parameters_);
  }
  /// A parameter's gradient at the last step.
  template <class Leaf>
  [[nodiscard]] const auto& gradient(Leaf) const {
    return std::get<index<Leaf>() + 1>(results_);
  }
  /// Every parameter, in the order of parameters(…).
  [[nodiscard]] auto& parameters() { return parameters_; }
  [[nodiscard]] const auto& parameters() const { return parameters_; }

  [[nodiscard]] Optimizer& optimizer() { return optimizer_; }
  [[nodiscard]] const Optimizer& optimizer() const { return optimizer_; }
  /// The optimizer's learning rate: a learning-rate schedule can hold the step itself.
  [[nodiscard]] double learning_rate() const { return optimizer_.learning_rate(); }
  void set_learning_rate(double rate) { optimizer_.set_learning_rate(rate); }
  /// Steps taken (updates applied).
  [[nodiscard]] std::size_t steps() const { return steps_; }

  /// Loop tasks of the compiled programs (0: every thread of the pool), as program::threads.
  training_step& threads(unsigned count) {
    program_.threads(count);
    threads_ = count;
    return *this;
  }

  /// Adds the parameters (under their leaf names, element type T) and the optimizer's state to an
  /// archive: "<name>.<state>" per parameter in the parameter's shape (double, torch's state names:
  /// exp_avg, exp_avg_sq, momentum_buffer, …; present once a step has run), "optimizer.step",
  /// "optimizer.learning_rate" and an empty "optimizer.kind.<adam, sgd, …>" that load() checks.
  void save(npz_archive& archive) const {
    const auto& state = optimizer_.state();
    std::size_t k = 0;
    std::apply(
        [&](const auto&... p) {
          (
              [&] {
                const std::string name(names[k]);
                archive.put(name, as_tensor(p));
                const std::vector<double>& values = state.of(k);
                const std::size_t size = element_count(p), slots = Optimizer::state_names.size();
                if (values.size() == slots * size)
                  for (std::size_t s = 0; s < slots; ++s) {
                    auto slot = xt::xtensor<double, 1>::from_shape({size});
                    std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(s * size), size, slot.begin());
                    archive.put(name + "." + Optimizer::state_names[s], reshaped(slot, p));
                  }
                ++k;
              }(),
              ...);
        },
        parameters_);
    archive.put(std::string("optimizer.kind.") + optimizer_.name(), xt::xtensor<double, 1>::from_shape({0}));
    archive.put("optimizer.step", xt::xtensor<double, 1>{static_cast<double>(state.steps())});
    archive.put("optimizer.learning_rate", xt::xtensor<double, 1>{optimizer_.learning_rate()});
  }
  /// Writes a checkpoint (save(archive) into a new .npz file).
  void save(const std::string& path) const {
    npz_archive archive;
    save(archive);
    archive.save(path);
  }

  /// Restores the parameters and the optimizer state from a checkpoint of this step (a parameter
  /// never set takes the checkpoint's shape; one of another shape is an error naming it and both
  /// shapes). An archive of the parameters alone (numpy.savez of them) restarts the optimizer.
  /// Nothing changes unless every array reads.
  void load(const npz_archive& archive) {
    const std::string kind = std::string("optimizer.kind.") + optimizer_.name();
    for (const std::string& entry : archive.names())
      if (entry.rfind("optimizer.kind.", 0) == 0 && entry != kind)
        throw error(kobai::detail::join("kobai::train: the checkpoint holds the state of ", entry.substr(15),
                                        ", not of this step's ", optimizer_.name()));
    auto parameters = parameters_;
    std::vector<std::vector<double>> state(sizeof...(Params));
    std::size_t k = 0;
    std::apply(
        [&](auto&... p) {
          (
              [&] {
                const std::string name(names[k]);
                read_parameter(archive, name, p);
                const std::size_t size = element_count(p), slots = Optimizer::state_names.size();
                if (archive.contains(name + "." + Optimizer::state_names[0])) {
                  state[k].resize(slots * size);
                  for (std::size_t s = 0; s < slots; ++s) {
                    const auto slot =
                        archive.get_as<double, detail::rank_of<decltype(p)>>(name + "." + Optimizer::state_names[s]);
                    if (slot.size() != size)
                      throw shape_error(kobai::detail::join(
                          "kobai::train: the checkpoint's ", name, ".", Optimizer::state_names[s], " has ",
                          std::to_string(slot.size()), " elements, the parameter ", std::to_string(size)));
                    std::copy_n(slot.data(), size, state[k].begin() + static_cast<std::ptrdiff_t>(s * size));
                  }
                }
                ++k;
              }(),
              ...);
        },
        parameters);
    std::size_t steps = 0;
    double rate = optimizer_.learning_rate();
    if (archive.contains("optimizer.step")) {  // (an archive of parameters alone starts the optimizer afresh)
      const auto step = archive.get<double, 1>("optimizer.step");
      const auto rates = archive.get<double, 1>("optimizer.learning_rate");
      if (step.size() != 1 || rates.size() != 1 || !(step(0) >= 0))
        throw error("kobai::train: the checkpoint's optimizer entries are broken");
      steps = static_cast<std::size_t>(step(0));
      rate = rates(0);
      for (std::size_t j = 0; j < sizeof...(Params); ++j)
        if (steps > 0 && state[j].empty())
          throw error(kobai::detail::join("kobai::train: the checkpoint is at step ", std::to_string(steps),
                                          " but holds no ", Optimizer::state_names[0], " for '", std::string(names[j]),
                                          "'"));
    }
    parameters_ = std::move(parameters);
    steps_ = steps;
    optimizer_.state().restore(steps, std::move(state));
    optimizer_.set_learning_rate(rate);
  }
  /// Reads a checkpoint file written by save(path).
  void load(const std::string& path) { load(npz_archive::load(path)); }

 private:
  static constexpr std::array<std::string_view, sizeof...(Params)> names{Params::name.view()...};

  template <class Leaf>
  static constexpr std::size_t index() {
    constexpr std::size_t k = kobai::detail::first_match(
        std::array<bool, sizeof...(Params)>{std::is_same_v<std::remove_cvref_t<Leaf>, Params>...});
    static_assert(k < sizeof...(Params), "kobai::train: this leaf is not one of the step's parameters");
    return k;
  }

  template <class... Data>
  static constexpr bool data_only() {
    constexpr bool ok = !(detail::binds_a_parameter<Data, Params...> || ...);
    static_assert(ok,
                  "kobai::train: a step owns its parameters; bind only the data (set parameters with "
                  "step.parameter(leaf))");
    return ok;
  }
  void check_parameters() const {
    std::size_t k = 0;
    std::apply(
        [&](const auto&... p) {
          (
              [&] {
                if (element_count(p) == 0)
                  throw binding_error(kobai::detail::join("kobai::train: parameter '", std::string(names[k]),
                                                          "' has no elements; set step.parameter(",
                                                          std::string(names[k]), ") before the first step"));
                const std::size_t state = optimizer_.state().of(k).size(), slots = Optimizer::state_names.size();
                if (state != 0 && state != slots * element_count(p))  // checked before anything is updated
                  throw shape_error(
                      kobai::detail::join("kobai::train: parameter '", std::string(names[k]), "' has ",
                                          std::to_string(element_count(p)), " elements but its optimizer state is for ",
                                          std::to_string(state / slots), "; keep a parameter's shape between steps"));
                ++k;
              }(),
              ...);
        },
        parameters_);
  }
  auto gradients() const {
    return [this]<std::size_t... K>(std::index_sequence<K...>) { return std::tie(std::get<K + 1>(results_)...); }
    (std::index_sequence_for<Params...>{});
  }

  template <class P>
  static std::size_t element_count(const P& p) {
    if constexpr (std::is_arithmetic_v<P>)
      return 1;
    else
      return p.size();
  }
  template <class P>
  static auto as_tensor(const P& p) {
    if constexpr (std::is_arithmetic_v<P>)
      return xt::xtensor<T, 0>(p);
    else
      return p;
  }
  template <class P>
  static xt::xtensor<double, detail::rank_of<P>> reshaped(const xt::xtensor<double, 1>& flat, const P& like) {
    if constexpr (std::is_arithmetic_v<P>) {
      return xt::xtensor<double, 0>(flat(0));
    } else {
      auto out = xt::xtensor<double, detail::rank_of<P>>::from_shape(like.shape());
      std::copy(flat.begin(), flat.end(), out.begin());
      return out;
    }
  }
  template <class P>
  static void read_parameter(const npz_archive& archive, const std::string& name, P& p) {
    if constexpr (std::is_arithmetic_v<P>) {
      p = archive.get_as<T, 0>(name)();
    } else if (p.size() == 0) {
      p = archive.get_as<T, detail::rank_of<P>>(name);
    } else {
      archive.get_into(name, p);
    }
  }

  program_type program_{};
  unsigned threads_ = 0;
  std::tuple<detail::parameter_storage<T, Params>...> parameters_{};
  results_type results_{};
  Optimizer optimizer_;
  std::size_t steps_ = 0;
};

/// Compiles a training step over element type T (double by default): the loss, the gradient of
/// every parameter and the optimizer's update in one call.
template <class T = double, expression Loss, class... Params, class Optimizer>
auto compile_step(Loss, parameter_list<Params...>, Optimizer optimizer) {
  if constexpr (((is_leaf<Params> && is_differentiable<Params>)&&...))
    return training_step<T, std::remove_cvref_t<Loss>, Optimizer, Params...>(std::move(optimizer));
  else
    return parameter_list<Params...>{};  // parameters() said why; nothing more fails here
}

}  // namespace kobai::train
