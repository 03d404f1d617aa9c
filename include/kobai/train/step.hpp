// A training step compiled once from a loss, its parameters and an optimizer:
//   auto step = kobai::train::compile_step(loss, kobai::train::parameters(W1, b1, W2, b2),
//                                          kobai::train::adam({.learning_rate = 1e-3}));
//   step.parameter(W1) = …;                   // initialise (train::kaiming_uniform, …)
//   double L = step(X = batch, Y = labels);   // loss, every gradient and the update, in one call
// The step owns the parameters, their gradients and the optimizer state; it binds the parameters
// itself, so a call names only the data. Checkpoints hold both, as .npz files NumPy reads.
// compile_step(device::automatic, loss, …) makes the same step on a GPU (or the host emulator):
// the parameters, their gradients and the optimizer state live in device memory, and a call
// copies in the batch and reads back the loss, nothing else.
#pragma once

#include <algorithm>
#include <any>
#include <array>
#include <cmath>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"
#include "kobai/cpu/program.hpp"
#include "kobai/device_program.hpp"
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

/// The names A and B written one after the other.
template <fixed_string A, fixed_string B>
inline constexpr auto joined = [] {
  char text[A.size() + B.size() + 1]{};
  std::copy_n(A.chars, A.size(), text);
  std::copy_n(B.chars, B.size(), text + A.size());
  return fixed_string(text);
}();
/// ".<name of the optimizer's state slot S>", as torch's state_dict names it: ".exp_avg".
template <class Optimizer, std::size_t S>
inline constexpr auto slot_suffix = [] {
  constexpr std::string_view name = Optimizer::state_names[S];
  char text[name.size() + 2]{'.'};
  std::copy_n(name.data(), name.size(), text + 1);
  return fixed_string(text);
}();
/// The data leaf that carries slot S of a parameter's optimizer state into the fused program:
/// input<"W.exp_avg", rank of W>.
template <class Param, class Optimizer, std::size_t S>
using state_leaf = leaf<joined<Param::name, slot_suffix<Optimizer, S>>, Param::rank, role::data>;

/// The optimizer's update of Param as expressions: (the new parameter, its new state…).
template <class Optimizer, class Loss, class Param, std::size_t... S>
constexpr auto fused_update(std::index_sequence<S...>) {
  return Optimizer::fused_update(Param{}, grad(Loss{}, Param{}), state_leaf<Param, Optimizer, S>{}...);
}
template <class Optimizer, class Loss, class Param>
using update_of =
    decltype(fused_update<Optimizer, Loss, Param>(std::make_index_sequence<Optimizer::state_names.size()>{}));

/// Where a step runs and keeps its arrays: on the host (xt::xtensor, a CPU program) or on a device
/// (device_tensor, a device_program); numbers stay numbers on both.
struct on_host {
  template <class T, class E>
  using storage = parameter_storage<T, E>;
  template <class... Outputs>
  static auto compiled(type_list<Outputs...>) -> decltype(compile(Outputs{}...));
};
struct on_device {
  template <class T, class E>
  using storage = kobai::detail::device_result<T, E>;
  template <class... Outputs>
  static auto compiled(type_list<Outputs...>) -> decltype(compile(device::automatic, Outputs{}...));
};
/// A step's outputs: the loss and the gradients, and on a device each parameter's update and state.
/// (A specialisation, so that a host step never forms the update's expressions: compile time.)
template <bool OnDevice, class Optimizer, class Loss, class... Params>
struct step_outputs {
  using type = typename kobai::detail::flat_outputs<Loss, decltype(grad(Loss{}, Params{}))...>::type;
};
template <class Optimizer, class Loss, class... Params>
struct step_outputs<true, Optimizer, Loss, Params...> {
  using type = typename kobai::detail::flat_outputs<Loss, decltype(grad(Loss{}, Params{}))...,
                                                    update_of<Optimizer, Loss, Params>...>::type;
};
template <class Place, class T, class Outputs>
struct results_of;
template <class Place, class T, class... Outputs>
struct results_of<Place, T, type_list<Outputs...>> {
  using type = std::tuple<typename Place::template storage<T, Outputs>...>;
};

template <class T, std::size_t R>
xt::xtensor<T, R> host_copy(const xt::xtensor<T, R>& values) {
  return values;
}
template <class T, std::size_t R>
xt::xtensor<T, R> host_copy(const device_tensor<T, R>& values) {
  return to_host(values);
}
}  // namespace detail

/// A compiled training step over element type T (float or double), on the host or on a device
/// (Place). Each call binds the data, runs one compiled program for the loss and the gradient of
/// every parameter, and updates the parameters; a call after the first allocates nothing, and a
/// loss that is NaN or infinite leaves the parameters and the optimizer state as they were and
/// throws kobai::error.
/// - On the host, the optimizer updates the parameters right after the program (Optimizer::step,
///   its state in double). Compiling the update into the program as well (below) doubled the
///   compile time of the digits MLP's step (8.6 s to 19.3 s at -O2) and did not change its speed.
/// - On a device, the program also computes the update, from the optimizer's expressions of it
///   (Optimizer::fused_update) with the state (in T, as torch keeps it) as inputs and outputs, so
///   that nothing but the batch and the loss crosses the bus. The new parameters and state go to a
///   second set of device arrays, swapped in when the loss is finite.
template <class T, class Place, class Loss, class Optimizer, class... Params>
class training_step {
  static_assert(std::is_floating_point_v<T>, "kobai::train::compile_step: the element type is float or double");
  static_assert(Loss::rank == 0, "kobai::train::compile_step: the loss must be a scalar; reduce it with sum or mean");
  static constexpr std::size_t slots = Optimizer::state_names.size();
  static constexpr std::size_t values_per_parameter = 1 + slots;  // (the new parameter, its new state)
  static constexpr bool on_device = std::is_same_v<Place, detail::on_device>;
  using outputs = typename detail::step_outputs<on_device, Optimizer, Loss, Params...>::type;
  using program_type = decltype(Place::compiled(outputs{}));
  using results_type = typename detail::results_of<Place, T, outputs>::type;
  template <class P>
  using storage = typename Place::template storage<T, P>;
  template <class P>
  using state_type = std::array<storage<P>, slots>;

 public:
  using element_type = T;
  using optimizer_type = Optimizer;
  /// The compiled program's outputs, a type_list: the loss, each parameter's gradient, then on a
  /// device each parameter's new values followed by its new optimizer state.
  using program_outputs = outputs;
  /// The number of parameters (one the loss does not use gets zero gradients, as with grad).
  static constexpr std::size_t parameter_count = sizeof...(Params);

  explicit training_step(Optimizer optimizer) : optimizer_(std::move(optimizer)) {}
  /// On a device: device::automatic, cuda or emulated (device::cpu runs the device path's CPU form).
  training_step(device::choice where, Optimizer optimizer) : program_(where), optimizer_(std::move(optimizer)) {
    static_assert(on_device);
  }

  /// One step on the data bound by name (`X = batch, y = targets`; not the parameters): returns the
  /// loss before the update.
  template <class... Data>
  T operator()(Data... data) {
    if constexpr (!data_only<Data...>()) return T{};  // (the static_assert said it; nothing more fails)
    check_parameters();
    if constexpr (on_device) {
      start_state();
      unshare_results();
      auto bindings = std::tuple_cat(
          std::tuple{staged(std::move(data))...}, settings(), [&]<std::size_t... K>(std::index_sequence<K...>) {
            return std::tuple_cat(parameter_bindings<K>()...);
          }(std::index_sequence_for<Params...>{}));
      std::apply([&](auto&... each) { program_.into(results_, std::move(each)...); }, bindings);
      if (steps_ == 0 && !std::isfinite(static_cast<double>(std::get<0>(results_))))
        stateful_ = {};  // (as on the host, an optimizer that has not stepped holds no state)
      check_loss();
      [&]<std::size_t... K>(std::index_sequence<K...>) { (take_update<K>(), ...); }
      (std::index_sequence_for<Params...>{});
    } else {
      std::apply([&](auto&... p) { program_.into(results_, std::move(data)..., (Params{} = p)...); }, parameters_);
      check_loss();
      std::apply([&](auto&... p) { optimizer_.step(std::tie(p...), gradients()); }, parameters_);
    }
    ++steps_;
    return std::get<0>(results_);
  }

  /// The loss on the data without a gradient or an update (validation, evaluation).
  template <class... Data>
  [[nodiscard]] T loss(Data... data) const {
    if constexpr (!data_only<Data...>()) return T{};
    check_parameters();
    auto loss_program = [&] {  // (instantiated only where loss() is used: compile time)
      if constexpr (on_device)
        return compile(where(), Loss{});
      else
        return compile(Loss{});
    }();
    loss_program.threads(threads_);
    return std::apply([&](const auto&... p) { return loss_program(staged(std::move(data))..., (Params{} = p)...); },
                      parameters_);
  }

  /// A parameter's values, to initialise or read: an xt::xtensor<T, rank>, or a T for a scalar. On
  /// a device it is a device_tensor<T, rank>, a handle to memory that the step after next writes
  /// into (each step writes the new values into other memory and swaps): get() copies the values.
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
  /// Sets a parameter from host values (on a device, copied there): `step.set(W, kaiming_uniform(…))`.
  template <class Leaf, class Values>
  void set(Leaf, const Values& values) {
    auto& p = std::get<index<Leaf>()>(parameters_);
    if constexpr (std::is_arithmetic_v<std::remove_cvref_t<decltype(p)>>)
      p = static_cast<T>(values);
    else if constexpr (on_device)
      p = to_device(xt::xtensor<T, std::remove_cvref_t<decltype(p)>::dimension()>(values), backend());
    else
      p = values;
  }
  /// A parameter's values on the host (copied from a device): an xt::xtensor<T, rank>, or a T.
  template <class Leaf>
  [[nodiscard]] auto get(Leaf) const {
    return host_values(std::get<index<Leaf>()>(parameters_));
  }
  /// Every parameter, in the order of parameters(…) (on a device, device tensors: handles, not
  /// copies; snapshot() copies).
  [[nodiscard]] auto& parameters() { return parameters_; }
  [[nodiscard]] const auto& parameters() const { return parameters_; }
  /// Copies of every parameter on the host, and their restoration (fit's restore_best).
  [[nodiscard]] auto snapshot() const {
    return std::apply([](const auto&... p) { return std::tuple{host_values(p)...}; }, parameters_);
  }
  template <class Snapshot>
  void restore(const Snapshot& snapshot) {
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (set(std::tuple_element_t<K, std::tuple<Params...>>{}, std::get<K>(snapshot)), ...);
    }
    (std::index_sequence_for<Params...>{});
  }
  /// Where the step runs (device::cpu for a host step), and on a device why, and its memory.
  [[nodiscard]] device::choice where() const {
    if constexpr (on_device)
      return program_.where();
    else
      return device::cpu;
  }
  [[nodiscard]] std::string why() const {
    if constexpr (on_device)
      return program_.why();
    else
      return "compiled for the CPU";
  }
  [[nodiscard]] std::shared_ptr<runtime::device_backend> backend() const {
    if constexpr (on_device)
      return program_.backend();
    else
      return runtime::host_memory::instance();
  }

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
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (
          [&] {
            const std::string name(names[K]);
            const auto values = host_values(std::get<K>(parameters_));
            archive.put(name, as_tensor<T>(values));
            const std::vector<double> state = state_of<K>();
            const std::size_t size = element_count(values);
            if (state.size() == slots * size)
              for (std::size_t s = 0; s < slots; ++s) {
                auto slot = xt::xtensor<double, 1>::from_shape({size});
                std::copy_n(state.begin() + static_cast<std::ptrdiff_t>(s * size), size, slot.begin());
                archive.put(name + "." + Optimizer::state_names[s], reshaped<double>(slot, values));
              }
          }(),
          ...);
    }
    (std::index_sequence_for<Params...>{});
    archive.put(std::string("optimizer.kind.") + optimizer_.name(), xt::xtensor<double, 1>::from_shape({0}));
    archive.put("optimizer.step", xt::xtensor<double, 1>{static_cast<double>(steps_)});
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
    std::vector<std::vector<double>> state(sizeof...(Params));  // slot-major, as state_of gives it
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (
          [&] {
            auto& p = std::get<K>(parameters);
            const std::string name(names[K]);
            read_parameter(archive, name, p);
            const std::size_t size = element_count(p);
            if (archive.contains(name + "." + Optimizer::state_names[0])) {
              state[K].resize(slots * size);
              for (std::size_t s = 0; s < slots; ++s) {
                const std::string entry = name + "." + Optimizer::state_names[s];
                const auto slot = archive.get_as<double, detail::rank_of<decltype(host_values(p))>>(entry);
                if (slot.size() != size)
                  throw shape_error(kobai::detail::join("kobai::train: the checkpoint's ", entry, " has ",
                                                        std::to_string(slot.size()), " elements, the parameter ",
                                                        std::to_string(size)));
                std::copy_n(slot.data(), size, state[K].begin() + static_cast<std::ptrdiff_t>(s * size));
              }
            }
          }(),
          ...);
    }
    (std::index_sequence_for<Params...>{});
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
    } else {
      state.assign(sizeof...(Params), {});
    }
    parameters_ = std::move(parameters);
    steps_ = steps;
    restore_state(steps, std::move(state));
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
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (
          [&] {
            const std::size_t size = element_count(std::get<K>(parameters_)), state = state_size<K>();
            if (size == 0)
              throw binding_error(kobai::detail::join("kobai::train: parameter '", std::string(names[K]),
                                                      "' has no elements; set step.parameter(", std::string(names[K]),
                                                      ") before the first step"));
            if (state != 0 && state != size)  // checked before anything is updated
              throw shape_error(kobai::detail::join("kobai::train: parameter '", std::string(names[K]), "' has ",
                                                    std::to_string(size), " elements but its optimizer state is for ",
                                                    std::to_string(state), "; keep a parameter's shape between steps"));
          }(),
          ...);
    }
    (std::index_sequence_for<Params...>{});
  }
  void check_loss() const {
    const auto loss = static_cast<double>(std::get<0>(results_));
    if (!std::isfinite(loss))
      throw error(kobai::detail::join("kobai::train: the loss is ", std::isnan(loss) ? "NaN" : "infinite", " at step ",
                                      std::to_string(steps_ + 1), "; the parameters were not updated"));
  }
  auto gradients() const {
    return [this]<std::size_t... K>(std::index_sequence<K...>) { return std::tie(std::get<K + 1>(results_)...); }
    (std::index_sequence_for<Params...>{});
  }

  // The optimizer state of parameter K, in double, slot-major (slot s of element i at s·size + i;
  // empty before its first step): the host optimizer's, or the device arrays copied.
  template <std::size_t K>
  std::vector<double> state_of() const {
    if constexpr (on_device) {
      std::vector<double> flat;
      if (stateful_[K])
        for (const auto& slot : std::get<K>(state_)) {
          const auto values = as_tensor<double>(host_values(slot));
          flat.insert(flat.end(), values.begin(), values.end());
        }
      return flat;
    } else {
      return optimizer_.state().of(K);
    }
  }
  // Elements per slot of parameter K's state (0 before its first step).
  template <std::size_t K>
  std::size_t state_size() const {
    if constexpr (on_device)
      return stateful_[K] ? element_count(std::get<K>(state_)[0]) : 0;
    else
      return optimizer_.state().of(K).size() / slots;
  }
  // Sets the step count and every parameter's state (each in state_of's layout, or empty).
  void restore_state(std::size_t steps, std::vector<std::vector<double>> state) {
    if constexpr (on_device) {
      [&]<std::size_t... K>(std::index_sequence<K...>) {
        (
            [&] {
              stateful_[K] = !state[K].empty();
              if (!stateful_[K]) return;
              const auto& p = std::get<K>(parameters_);
              const std::size_t size = element_count(p);
              for (std::size_t s = 0; s < slots; ++s) {
                const auto first = state[K].begin() + static_cast<std::ptrdiff_t>(s * size);
                if constexpr (std::is_arithmetic_v<std::remove_cvref_t<decltype(p)>>) {
                  std::get<K>(state_)[s] = static_cast<T>(*first);
                } else {
                  auto values = xt::xtensor<T, std::remove_cvref_t<decltype(p)>::dimension()>::from_shape(p.shape());
                  std::copy_n(first, size, values.begin());
                  std::get<K>(state_)[s] = to_device(values, backend());
                }
              }
            }(),
            ...);
      }
      (std::index_sequence_for<Params...>{});
    } else {
      optimizer_.state().restore(steps, std::move(state));
    }
  }
  // A parameter's state is zero before its first step, in the parameter's shape.
  void start_state() {
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (
          [&] {
            if (stateful_[K]) return;
            for (auto& slot : std::get<K>(state_)) slot = zeros_like(std::get<K>(parameters_));
            stateful_[K] = true;
          }(),
          ...);
    }
    (std::index_sequence_for<Params...>{});
  }
  // The optimizer's settings at the next step, bound to its scalar leaves.
  auto settings() const {
    const auto values = optimizer_.fused_values(steps_ + 1);
    return [&]<std::size_t... K>(std::index_sequence<K...>) {
      return std::tuple{(std::get<K>(Optimizer::fused_scalars) = static_cast<T>(values[K]))...};
    }
    (std::make_index_sequence<std::tuple_size_v<decltype(Optimizer::fused_scalars)>>{});
  }
  // The memory a step writes its new parameters and state into is its own: an output that shares
  // memory with a parameter, a state slot or another output (a device tensor assigned to two
  // parameters, then swapped into the results) is given new memory by the program.
  void unshare_results() {
    std::array<const void*, 2 * sizeof...(Params) * values_per_parameter> taken{};  // (no allocation per step)
    std::size_t count = 0;
    const auto take = [&](const auto& tensor) {
      if constexpr (!std::is_arithmetic_v<std::remove_cvref_t<decltype(tensor)>>)
        if (tensor.data() != nullptr) taken[count++] = tensor.data();
    };
    std::apply([&](const auto&... p) { (take(p), ...); }, parameters_);
    std::apply([&](const auto&... state) { (std::for_each(state.begin(), state.end(), take), ...); }, state_);
    [&]<std::size_t... R>(std::index_sequence<R...>) {
      (
          [&] {
            auto& output = std::get<1 + sizeof...(Params) + R>(results_);
            if constexpr (!std::is_arithmetic_v<std::remove_cvref_t<decltype(output)>>) {
              if (std::find(taken.begin(), taken.begin() + static_cast<std::ptrdiff_t>(count), output.data()) !=
                  taken.begin() + static_cast<std::ptrdiff_t>(count))
                output = {};
              else
                take(output);
            }
          }(),
          ...);
    }
    (std::make_index_sequence<sizeof...(Params) * values_per_parameter>{});
  }
  // Parameter K and its state, bound (by reference) to their leaves.
  template <std::size_t K>
  auto parameter_bindings() const {
    using P = std::tuple_element_t<K, std::tuple<Params...>>;
    return [&]<std::size_t... S>(std::index_sequence<S...>) {
      return std::tuple{P{} = std::get<K>(parameters_),
                        detail::state_leaf<P, Optimizer, S>{} = std::get<K>(state_)[S]...};
    }
    (std::make_index_sequence<slots>{});
  }
  // The program wrote parameter K's new values and state into the results: swap them in (the old
  // arrays become the next step's results, so nothing is allocated).
  template <std::size_t K>
  void take_update() {
    constexpr std::size_t first = 1 + sizeof...(Params) + K * values_per_parameter;
    using std::swap;
    swap(std::get<K>(parameters_), std::get<first>(results_));
    [&]<std::size_t... S>(std::index_sequence<S...>) {
      (swap(std::get<K>(state_)[S], std::get<first + 1 + S>(results_)), ...);
    }
    (std::make_index_sequence<slots>{});
  }

  template <class P>
  static std::size_t element_count(const P& p) {
    if constexpr (std::is_arithmetic_v<P>)
      return 1;
    else
      return p.size();
  }
  template <class P>
  P zeros_like(const P& p) const {
    if constexpr (std::is_arithmetic_v<P>)
      return P{};
    else if constexpr (on_device)
      return to_device(xt::xtensor<T, P::dimension()>(xt::zeros<T>(p.shape())), backend());
    else
      return xt::zeros<T>(p.shape());
  }
  template <class P>
  static auto host_values(const P& p) {
    if constexpr (std::is_arithmetic_v<P>)
      return p;
    else
      return detail::host_copy(p);
  }
  template <class U, class P>
  static xt::xtensor<U, detail::rank_of<P>> reshaped(const xt::xtensor<double, 1>& flat, const P& like) {
    if constexpr (std::is_arithmetic_v<P>) {
      return xt::xtensor<U, 0>(static_cast<U>(flat(0)));
    } else {
      auto out = xt::xtensor<U, detail::rank_of<P>>::from_shape(like.shape());
      std::copy(flat.begin(), flat.end(), out.begin());
      return out;
    }
  }
  template <class U, class P>
  static xt::xtensor<U, detail::rank_of<P>> as_tensor(const P& p) {
    if constexpr (std::is_arithmetic_v<P>)
      return xt::xtensor<U, 0>(static_cast<U>(p));
    else
      return xt::cast<U>(p);
  }
  // Reads an array into p (of T), converting: into its memory, which must have the array's shape,
  // or as new memory in the archive's shape if p has no elements. On a device p gets new memory
  // either way, so that load's copy of the step's handles is not written through.
  template <class P>
  void read_parameter(const npz_archive& archive, const std::string& name, P& p) const {
    if constexpr (std::is_arithmetic_v<P>) {
      p = archive.get_as<T, 0>(name)();
    } else if constexpr (on_device) {
      auto values = xt::xtensor<T, P::dimension()>::from_shape(p.shape());
      if (p.size() == 0)
        values = archive.get_as<T, P::dimension()>(name);
      else
        archive.get_into(name, values);  // (checks the shape)
      p = to_device(values, backend());
    } else if (p.size() == 0) {
      p = archive.get_as<T, detail::rank_of<P>>(name);
    } else {
      archive.get_into(name, p);
    }
  }
  // A data binding as the program takes it: on a device, a host tensor of T is copied into device
  // memory the step keeps per name (reused while the shape stays); integer tensors (the device
  // executor copies and checks them), numbers and device tensors pass as they are.
  template <class B>
  auto staged(B bound) const {
    using V = std::remove_cvref_t<decltype(bound.value)>;
    if constexpr (!on_device || std::is_arithmetic_v<V> || kobai::detail::is_device_tensor<V>) {
      return bound;
    } else if constexpr (std::is_integral_v<typename V::value_type>) {
      return bound;
    } else {
      static_assert(std::is_same_v<typename V::value_type, T>,
                    "kobai::train: the data's element type must be the step's (compile_step<float> for float data)");
      static_assert(kobai::detail::is_row_major_container<V>::value,
                    "kobai::train: a device step copies row-major data to the device; copy a column-major array "
                    "into an xt::xtensor first");
      static_assert(kobai::detail::static_rank<V>::value >= 0,
                    "kobai::train: a device step copies xt::xtensor data (a fixed rank) to the device; copy an "
                    "xt::xarray into an xt::xtensor first");
      constexpr auto R = static_cast<std::size_t>(std::max(0, kobai::detail::static_rank<V>::value));
      std::array<std::size_t, R> shape{};
      std::copy_n(bound.value.shape().begin(), R, shape.begin());
      auto found = staging_.find(B::name.view());  // (a string made once per name, not per call)
      if (found == staging_.end()) found = staging_.emplace(std::string(B::name.view()), std::any{}).first;
      std::any& slot = found->second;
      auto* held = std::any_cast<device_tensor<T, R>>(&slot);
      if (held == nullptr || held->shape() != shape || held->backend() != backend()) {
        slot = device_tensor<T, R>(backend(), shape);
        held = std::any_cast<device_tensor<T, R>>(&slot);
      }
      if (held->size() != 0) backend()->copy_to_device(held->data(), bound.value.data(), held->size() * sizeof(T));
      return binding<B::name, device_tensor<T, R>>{*held};
    }
  }

  program_type program_{};
  unsigned threads_ = 0;
  std::tuple<storage<Params>...> parameters_{};
  std::tuple<state_type<Params>...> state_{};       // on a device (the host optimizer holds its own)
  std::array<bool, sizeof...(Params)> stateful_{};  // whether a device parameter's state exists
  results_type results_{};
  Optimizer optimizer_;
  std::size_t steps_ = 0;
  mutable std::map<std::string, std::any, std::less<>> staging_;  // the batch's device copies, by name
};

/// Compiles a training step over element type T (double by default): the loss, the gradient of
/// every parameter and the optimizer's update in one call.
template <class T = double, expression Loss, class... Params, class Optimizer>
auto compile_step(Loss, parameter_list<Params...>, Optimizer optimizer) {
  if constexpr (((is_leaf<Params> && is_differentiable<Params>)&&...))
    return training_step<T, detail::on_host, std::remove_cvref_t<Loss>, Optimizer, Params...>(std::move(optimizer));
  else
    return parameter_list<Params...>{};  // parameters() said why; nothing more fails here
}
/// The same step on `where` (device::automatic, cuda, emulated): the parameters, gradients and
/// optimizer state stay in that device's memory (step.parameter(W) is a device_tensor; set and get
/// copy from and to the host); a call copies the batch in and the loss out.
template <class T = double, expression Loss, class... Params, class Optimizer>
auto compile_step(device::choice where, Loss, parameter_list<Params...>, Optimizer optimizer) {
  if constexpr (((is_leaf<Params> && is_differentiable<Params>)&&...))
    return training_step<T, detail::on_device, std::remove_cvref_t<Loss>, Optimizer, Params...>(where,
                                                                                                std::move(optimizer));
  else
    return parameter_list<Params...>{};
}

}  // namespace kobai::train
