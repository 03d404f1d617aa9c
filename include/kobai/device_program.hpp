// One program, on the CPU or a GPU: compile(device::automatic, loss, dw, db) picks CUDA when a
// driver, a device and NVRTC are present, and the CPU otherwise (kobai/backend.hpp), and says why
// in one line. Tensors move between host and device explicitly (to_device, to_host); the program
// object, its bindings and its results are the same on every backend.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>

#include <xtensor/xadapt.hpp>

#include "kobai/backend.hpp"
#include "kobai/cpu/program.hpp"
#include "kobai/runtime/cuda_driver.hpp"
#include "kobai/runtime/emulator.hpp"
#include "kobai/runtime/executor.hpp"
#include "kobai/runtime/nvrtc.hpp"
#include "kobai/runtime/tensor.hpp"

namespace kobai {

namespace detail {
template <class T, class Output>
using device_result =
    std::conditional_t<Output::rank == 0, T, device_tensor<T, static_cast<std::size_t>(Output::rank)>>;
}  // namespace detail

/// A program that runs on the backend chosen with `on`. Tensor leaves bind to device tensors on
/// that backend (to_device(X, step.backend())), scalars to numbers; tensor outputs come back as
/// device tensors there, scalar outputs as numbers.
template <expression... Outputs>
class device_program {
 public:
  explicit device_program(device::choice wanted = device::automatic) { on(wanted); }

  /// Runs from now on on `wanted`; device::cuda throws when CUDA is unusable.
  device_program& on(device::choice wanted) {
    choice_ = select_backend(wanted);
    return *this;
  }
  /// The backend in use: device::cpu, device::cuda or device::emulated.
  [[nodiscard]] device::choice where() const { return choice_.where; }
  /// Why that backend, in one line ("running on the CPU: no libcuda.so.1 …").
  [[nodiscard]] const std::string& why() const { return choice_.why; }
  /// The memory tensors must be in: pass it to to_device.
  [[nodiscard]] const std::shared_ptr<runtime::device_backend>& backend() const { return choice_.memory; }
  /// CPU tasks per loop (see program::threads).
  device_program& threads(unsigned count) {
    cpu_.threads(count);
    return *this;
  }
  /// The generated CUDA source for element type T, for reading.
  template <class T>
  [[nodiscard]] static const codegen::cuda_program& cuda_source() {
    return runtime::executor<Outputs...>::template source<T>();
  }

  /// Runs the program on the bindings; bindings of names the program has no leaf for are ignored.
  template <class... Bindings>
  auto operator()(Bindings... bindings) const {
    if constexpr (detail::binds_unused<leaves_of<Outputs...>, Bindings...>) {
      return std::apply(*this, detail::used_bindings<leaves_of<Outputs...>>(std::move(bindings)...));
    } else {
      using T = typename detail::element_type_t<Bindings...>::type;
      std::tuple<detail::device_result<T, Outputs>...> results;
      run(std::apply([](auto&... each) { return std::tie(each...); }, results), std::move(bindings)...);
      if constexpr (sizeof...(Outputs) == 1)
        return std::get<0>(std::move(results));
      else
        return results;
    }
  }
  /// Like operator(), refusing bindings of names the program has no leaf for (a misspelt name).
  template <class... Bindings>
  auto operator()(strict_t, Bindings... bindings) const {
    if constexpr (detail::binds_unused<leaves_of<Outputs...>, Bindings...>) {
      detail::report_unknown_name<detail::spelled<detail::first_unused<leaves_of<Outputs...>, Bindings...>::name>>();
      return detail::rejected_call{};
    } else {
      return (*this)(std::move(bindings)...);
    }
  }

  /// Like operator(), writing into `results` (a tuple of what operator() returns, or the value
  /// for one output): tensors whose shape and device fit are reused, so a step allocates nothing.
  template <class Results, class... Bindings>
  void into(Results& results, Bindings... bindings) const {
    if constexpr (detail::binds_unused<leaves_of<Outputs...>, Bindings...>)
      std::apply([&](auto... used) { into(results, std::move(used)...); },
                 detail::used_bindings<leaves_of<Outputs...>>(std::move(bindings)...));
    else if constexpr (sizeof...(Outputs) == 1)
      run(std::tie(results), std::move(bindings)...);
    else
      run(std::apply([](auto&... each) { return std::tie(each...); }, results), std::move(bindings)...);
  }
  template <class Results, class... Bindings>
  void into(Results& results, strict_t, Bindings... bindings) const {
    if constexpr (detail::binds_unused<leaves_of<Outputs...>, Bindings...>)
      detail::report_unknown_name<detail::spelled<detail::first_unused<leaves_of<Outputs...>, Bindings...>::name>>();
    else
      into(results, std::move(bindings)...);
  }

 private:
  // Runs with `targets`, a tuple of references to the outputs' places.
  template <class Targets, class... Bindings>
  void run(Targets targets, Bindings... bindings) const {
    using T = typename detail::element_type_t<Bindings...>::type;
    if (choice_.where == device::cpu) {
      // The CPU executor's results, kept per thread so that a step allocates nothing once shapes
      // settle; then copied into the device tensors (host memory) the caller holds.
      using host_results = decltype(cpu_(host_binding(bindings)...));
      thread_local std::optional<host_results> host;
      if (host)
        cpu_.into(*host, host_binding(bindings)...);
      else
        host.emplace(cpu_(host_binding(bindings)...));
      auto values = [&] {
        if constexpr (sizeof...(Outputs) == 1)
          return std::tie(*host);
        else
          return std::apply([](auto&... each) { return std::tie(each...); }, *host);
      }();
      [&]<std::size_t... K>(std::index_sequence<K...>) { (from_host(std::get<K>(values), std::get<K>(targets)), ...); }
      (std::index_sequence_for<Outputs...>{});
    } else {
      const environment<Bindings...> point{std::tuple<Bindings...>{std::move(bindings)...}};
      gpu_->template run<T>(choice_.memory, point, targets);
    }
  }

  // A device tensor in host memory, seen by the CPU executor as an xtensor adaptor.
  template <class B>
  static auto host_binding(const B& bound) {
    using V = std::remove_cvref_t<decltype(bound.value)>;
    if constexpr (detail::is_device_tensor<V>) {
      if (bound.value.backend() != runtime::host_memory::instance())
        throw binding_error(detail::join("kobai: '", B::name.view(), "' is in ",
                                         bound.value.backend() ? bound.value.backend()->name() : "no",
                                         " memory but the program runs on the CPU; copy it with to_host or bind a "
                                         "tensor made by to_device(x, program.backend())"));
      auto adapted = xt::adapt(bound.value.data(), bound.value.size(), xt::no_ownership(), bound.value.shape());
      return binding<B::name, decltype(adapted)>{std::move(adapted)};
    } else {
      return bound;
    }
  }
  template <class Value, class Target>
  void from_host(const Value& value, Target& target) const {
    if constexpr (std::is_arithmetic_v<Target>) {
      target = value;
    } else {
      std::array<std::size_t, Target::dimension()> shape{};
      std::copy(value.shape().begin(), value.shape().end(), shape.begin());
      if (target.backend() != choice_.memory || target.shape() != shape || target.data() == nullptr)
        target = Target(choice_.memory, shape);
      std::copy_n(value.data(), value.size(), target.data());
    }
  }

  program<Outputs...> cpu_;
  std::shared_ptr<runtime::executor<Outputs...>> gpu_ = std::make_shared<runtime::executor<Outputs...>>();
  backend_choice choice_;
};

/// A program for `where` (device::automatic, device::cuda, device::cpu, device::emulated).
template <expression... Outputs>
device_program<std::remove_cvref_t<Outputs>...> compile(device::choice where, Outputs...) {
  static_assert(sizeof...(Outputs) > 0, "kobai::compile: pass the expressions to compute");
  static_assert(detail::names_are_unique<leaves_of<Outputs...>>(),
                "kobai: two different leaves share a name (var<> and input<>, or two ranks); give each its own name");
  return device_program<std::remove_cvref_t<Outputs>...>(where);
}
/// compile(where, loss, grad(loss, W, b)): tuples of outputs spread, as for the CPU's compile.
template <class... Parts>
requires detail::outputs_with_tuples<Parts...>
auto compile(device::choice where, Parts...) {
  return [where]<class... Outputs>(type_list<Outputs...>) {
    return compile(where, Outputs{}...);
  }(typename detail::flat_outputs<Parts...>::type{});
}

}  // namespace kobai
