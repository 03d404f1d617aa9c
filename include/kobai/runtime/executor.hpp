// The GPU executor: runs a program's generated kernels (codegen/cuda.hpp) on a device backend.
// Per call it binds the extents from the bound device tensors, lays out the buffers the plan asks
// for (reusing the workspace of earlier calls: no device allocation per step once shapes settle),
// fills the kernels' one argument, launches each loop's kernel and its finishing kernel, and reads
// back the results array once for scalar outputs and reduced tensors.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "kobai/codegen/abi.hpp"
#include "kobai/codegen/cuda.hpp"
#include "kobai/core/error.hpp"
#include "kobai/expr/environment.hpp"
#include "kobai/ir/extents.hpp"
#include "kobai/ir/index_checks.hpp"
#include "kobai/runtime/memory.hpp"
#include "kobai/runtime/tensor.hpp"

namespace kobai::runtime {

template <class... Outputs>
class executor {
 public:
  using plan_type = ir::program_plan<Outputs...>;
  using order = typename plan_type::order;
  static constexpr auto plan = plan_type::value;
  static constexpr std::size_t nodes = order::size;

  /// The generated program for element type T: rendered once per instantiation.
  template <class T>
  static const codegen::cuda_program& source() {
    static const codegen::cuda_program program = codegen::render<T>(Outputs{}...);
    return program;
  }

  /// Runs on `backend` with `point`'s bindings (device tensors on that backend, and numbers),
  /// writing each output into `results`: T for scalars, device_tensor<T, rank> for tensors.
  template <class T, class Point, class Results>
  void run(const std::shared_ptr<device_backend>& backend, const Point& point, Results& results) {
    std::lock_guard lock(mutex_);  // one call at a time: the workspace is shared
    const codegen::cuda_program& program = source<T>();
    auto& [loaded_on, module] = loaded_[std::is_same_v<T, float> ? 0 : 1];
    if (loaded_on != backend) {  // a map lookup by source only when the backend changes
      module = &backend->load(program);
      loaded_on = backend;  // held, so the module it loaded outlives this cache
    }
    const loaded_program& loaded = *module;
    call_layout call;
    bind<T>(backend, point, call);
    bind_ranges<T>(backend, call);
    plan_buffers<T>(*backend, call);
    // the workspace, grown when needed and kept
    const std::size_t threads = call.max_threads;
    scratch_.reserve(backend, std::max<std::size_t>(1, threads * call.local) * sizeof(T));
    accumulators_.reserve(backend, std::max<std::size_t>(1, threads * call.accumulated) * sizeof(double));
    partials_.reserve(backend, std::max<std::size_t>(1, call.partials) * sizeof(double));
    results_.reserve(backend, std::max<std::size_t>(1, call.results) * sizeof(double));
    auto& view = view_;
    std::array<const void*, nodes> source{};
    std::size_t view_bytes = 0;
    for (std::size_t n = 0; n < nodes; ++n) {
      if (info(n).k == ir::kind::view && call.view_leaf[n] == nullptr && !in_output(n))
        view_bytes += call.view_count[n] * sizeof(T);
      if (call.source[n] == nullptr) view_bytes += call.source_count[n] * sizeof(T);
    }
    views_.reserve(backend, std::max<std::size_t>(1, view_bytes));
    // outputs: tensors on the device, allocated when their shape changes
    auto& out = out_;
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (prepare_output<K, T>(backend, call, std::get<K>(results), out), ...);
    }
    (std::index_sequence_for<Outputs...>{});
    {
      auto* base = static_cast<char*>(views_.data());
      for (std::size_t n = 0; n < nodes; ++n) {
        if (info(n).k != ir::kind::view) continue;
        if (call.view_leaf[n] != nullptr) {
          view[n] = call.view_leaf[n];
        } else if (in_output(n)) {
          view[n] = out[static_cast<std::size_t>(output_of(n))];
        } else {
          view[n] = base;
          base += call.view_count[n] * sizeof(T);
        }
        if (!info(n).indirect) continue;
        if (call.source[n] != nullptr) {
          source[n] = call.source[n];
        } else {
          source[n] = base;
          base += call.source_count[n] * sizeof(T);
        }
      }
    }
    // the one argument: 8-byte fields in the order the source declares them, each written as
    // codegen/abi.hpp says
    args_.assign(program.fields.size(), 0);
    for (std::size_t i = 0; i < program.fields.size(); ++i) {
      const codegen::field kind = program.fields[i].kind;
      const auto at = static_cast<std::size_t>(program.fields[i].index);
      const auto write = [&](auto value) {
        using V = decltype(value);
        constexpr auto as = std::is_pointer_v<V>          ? codegen::representation::address
                            : std::is_floating_point_v<V> ? codegen::representation::real
                                                          : codegen::representation::integer;
        if (codegen::spec(kind).as != as) throw device_error("kobai: internal error: a kernel field of the wrong kind");
        std::memcpy(&args_[i], &value, sizeof value);
      };
      switch (kind) {
        case codegen::field::leaf:
          write(call.leaf[at]);
          break;
        case codegen::field::output:
          write(static_cast<const void*>(out[at]));
          break;
        case codegen::field::view:
          write(view[at]);
          break;
        case codegen::field::scalar:
          write(static_cast<double>(call.scalar[at]));
          break;
        case codegen::field::extent:
          write(static_cast<long long>(call.extent[at]));
          break;
        case codegen::field::results:
          write(static_cast<const void*>(results_.data()));
          break;
        case codegen::field::partials:
          write(static_cast<const void*>(partials_.data()));
          break;
        case codegen::field::scratch:
          write(static_cast<const void*>(scratch_.data()));
          break;
        case codegen::field::accumulators:
          write(static_cast<const void*>(accumulators_.data()));
          break;
        case codegen::field::size:
          write(static_cast<long long>(call.size[at]));
          break;
        case codegen::field::base:
          write(static_cast<long long>(call.base[at]));
          break;
        case codegen::field::result_offset:
          write(static_cast<long long>(call.result_offset[at]));
          break;
        case codegen::field::partial_offset:
          write(static_cast<long long>(call.partial_offset[at]));
          break;
        case codegen::field::partial_width:
          write(static_cast<long long>(call.width[at]));
          break;
        case codegen::field::grid:
          write(static_cast<long long>(call.grid[at]));
          break;
        case codegen::field::output_offset:
          write(static_cast<long long>(call.output_offset[at]));
          break;
        case codegen::field::source:
          write(source[at]);
          break;
        case codegen::field::slicing:
          write(static_cast<long long>(slicing_part(call.slicing[at / 8], at % 8)));
          break;
      }
    }
    for (std::size_t k = 0; k < program.kernels.size(); ++k) {
      const codegen::kernel& kernel = program.kernels[k];
      const auto loop = static_cast<std::size_t>(std::max(kernel.loop, 0));
      const bool whole = kernel.loop >= 0 && !kernel.finish;
      const unsigned grid = kernel.fill >= 0 ? fill_grid(*backend, call.slicing[static_cast<std::size_t>(kernel.fill)],
                                                         info(static_cast<std::size_t>(kernel.fill)).scatters)
                            : whole          ? static_cast<unsigned>(call.grid[loop])
                                             : 1U;
      backend->launch(loaded.kernels[k], grid, backend->block_threads(), args_.data(),
                      args_.size() * sizeof(std::uint64_t));
    }
    host_results_.resize(call.read_back);
    backend->copy_to_host(host_results_.data(), results_.data(), call.read_back * sizeof(double));  // waits
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (finish_output<K, T>(backend, call, point, std::get<K>(results)), ...);
    }
    (std::index_sequence_for<Outputs...>{});
  }

 private:
  static constexpr const ir::node_info& info(std::size_t n) { return plan_type::nodes[n]; }
  static constexpr bool stored(std::size_t n) { return ir::stored(plan, plan_type::nodes, static_cast<int>(n)); }
  static constexpr bool owned(std::size_t n) {
    return codegen::thread_owned(plan, plan_type::nodes, static_cast<int>(n));
  }
  static constexpr std::size_t classes = static_cast<std::size_t>(plan.classes);
  static constexpr std::array<int, sizeof...(Outputs)> output_node = plan_type::output_index;
  static constexpr int output_of(std::size_t n) {
    for (std::size_t k = 0; k < output_node.size(); ++k)
      if (output_node[k] == static_cast<int>(n)) return static_cast<int>(k);
    return -1;
  }
  static constexpr int loops = plan.loops;
  // A view whose memory is an output's: a tensor output's (a view of one element has its own,
  // read back by finish_output).
  static constexpr bool in_output(std::size_t n) {
    constexpr std::array<int, sizeof...(Outputs)> ranks{Outputs::rank...};
    const int k = output_of(n);
    return k >= 0 && ranks[static_cast<std::size_t>(k)] > 0;
  }

  struct call_layout {
    std::array<long long, classes + 1> extent{};
    std::array<const void*, nodes> leaf{};
    std::array<double, nodes> scalar{};
    std::array<const void*, nodes> view_leaf{};
    std::array<std::size_t, nodes> view_count{};
    // an indirect view's source: a leaf's memory, or (null) memory of its own of source_count elements
    std::array<const void*, nodes> source{};
    std::array<std::size_t, nodes> source_count{};
    std::array<ir::slicing, nodes> slicing{};
    std::array<std::size_t, nodes> integer_offset{};  // an integer leaf's values in the staging, in T
    std::array<long long, nodes> size{}, base{}, result_offset{}, partial_offset{};
    std::array<long long, loops + 1> width{}, grid{};
    std::array<long long, sizeof...(Outputs)> output_offset{};
    std::size_t local = 0, accumulated = 0, partials = 0, results = 0, read_back = 0, max_threads = 1;
  };

  // Extents from the bound tensors, checked against each other; pointers and scalars.
  template <class T, class Point>
  void bind(const std::shared_ptr<device_backend>& backend, const Point& point, call_layout& call) {
    ir::extents<nodes, classes> extents(plan, plan_type::nodes);
    std::size_t integers = 0;  // integer leaves' values in T, staged on the host
    [&]<class... Ns>(type_list<Ns...>) {
      (
          [&] {
            if constexpr (is_leaf<Ns>) {
              constexpr std::size_t n = index_of<Ns, order>;
              const auto& value = point.template get<Ns::name>();
              using V = std::remove_cvref_t<decltype(value)>;
              if constexpr (Ns::rank == 0) {
                static_assert(std::is_arithmetic_v<V>, "kobai: bind a number to a scalar leaf");
                call.scalar[n] = static_cast<double>(value);
              } else if constexpr (is_counted<Ns>) {  // arange<"n">()
                extents.bind_leaf(static_cast<int>(n), Ns::name.view(),
                                  std::array<std::size_t, 1>{ir::count_bound(Ns::name.view(), value)});
              } else if constexpr (!std::is_void_v<typename Ns::element>) {
                constexpr bool fits = [] {
                  if constexpr (detail::is_device_tensor<V>)
                    return false;
                  else if constexpr (requires { typename V::value_type; })
                    return std::is_same_v<typename V::value_type, typename Ns::element>;
                  else
                    return false;
                }();
                // (one that does not fit was refused by the binding check, cpu/binding.hpp: its message
                // stands alone)
                if constexpr (fits) {
                  if (static_cast<int>(value.dimension()) != Ns::rank)
                    throw binding_error(
                        detail::join("kobai: '", Ns::name.view(), "' is a rank-", std::to_string(Ns::rank),
                                     " leaf but was bound to a container of shape ",
                                     ir::shape_text(value.shape().data(), static_cast<int>(value.dimension()))));
                  extents.bind_leaf(static_cast<int>(n), Ns::name.view(), value.shape());
                  call.integer_offset[n] = integers;
                  integers += value.size();
                  if (staging_.size() < integers * sizeof(T)) staging_.resize(integers * sizeof(T));
                  ir::integers_into(Ns::name.view(), value.data(), value.size(),
                                    reinterpret_cast<T*>(staging_.data()) + call.integer_offset[n]);
                }
              } else {
                constexpr bool fits = [] {
                  if constexpr (detail::is_device_tensor<V>)
                    return V::dimension() == Ns::rank;
                  else
                    return false;
                }();
                static_assert(fits,
                              "kobai: on a device, bind each tensor leaf to a device_tensor of its rank "
                              "(to_device(host_tensor, program.backend()))");
                if constexpr (fits) {
                  static_assert(std::is_same_v<typename V::value_type, T>,
                                "kobai: the bound tensors mix element types; convert them to one (float or double)");
                  if (value.backend() != backend)
                    throw binding_error(detail::join(
                        "kobai: '", Ns::name.view(), "' is in ", value.backend() ? value.backend()->name() : "no",
                        " memory but the program runs on ", backend->name(), "; copy it there with to_device"));
                  call.leaf[n] = value.data();
                  extents.bind_leaf(static_cast<int>(n), Ns::name.view(), value.shape());
                }
              }
            }
          }(),
          ...);
    }(order{});
    extents.bind_views();
    for (std::size_t c = 0; c < classes; ++c) call.extent[c] = static_cast<long long>(extents[c]);
    // every index inside the axis it indexes, checked on the host before anything runs; then the
    // integers go to the device
    const auto extent_of = [&](int n, int p) { return extents.of(n, p); };
    ir::check_indices<order, T>(plan_type::nodes, extent_of, [&](int n) {
      return reinterpret_cast<const T*>(staging_.data()) + call.integer_offset[static_cast<std::size_t>(n)];
    });
    if (integers > 0) {
      integers_.reserve(backend, integers * sizeof(T));
      backend->copy_to_device(integers_.data(), staging_.data(), integers * sizeof(T));
      for (std::size_t n = 0; n < nodes; ++n)
        if (is_integer_leaf[n]) call.leaf[n] = static_cast<const T*>(integers_.data()) + call.integer_offset[n];
    }
    for (std::size_t v = 0; v < nodes; ++v) {
      if (info(v).k != ir::kind::view) continue;
      const auto source = static_cast<std::size_t>(info(v).args[0]);
      const bool from_leaf = info(source).k == ir::kind::tensor_leaf;
      if (info(v).indirect) {  // memory of its own, and its source's unless a leaf's
        call.view_count[v] = extents.elements(static_cast<int>(v));
        call.slicing[v] = ir::slicing_of(plan_type::nodes, static_cast<int>(v), extent_of);
        if (from_leaf)
          call.source[v] = call.leaf[source];
        else
          call.source_count[v] = extents.elements(static_cast<int>(source));
      } else {
        call.view_count[v] = extents.elements(static_cast<int>(source));
        if (from_leaf) call.view_leaf[v] = call.leaf[source];
      }
    }
  }
  static constexpr std::array<bool, nodes> is_integer_leaf = []<class... Ns>(type_list<Ns...>) {
    return std::array<bool, nodes>{detail::is_integer_leaf<Ns>...};
  }(order{});

  // arange's memory on the device: 0, 1, 2, … in T, as long as the longest arange of the call
  // (copied when it grows or the element type changes; kept otherwise).
  template <class T>
  void bind_ranges(const std::shared_ptr<device_backend>& backend, call_layout& call) {
    const std::size_t longest = ir::range_length<T>(plan, plan_type::nodes, call.extent);
    if (longest == 0) return;
    if (longest > ranges_length_ || sizeof(T) != ranges_element_ || backend != ranges_on_) {
      std::vector<T> host(longest);
      for (std::size_t i = 0; i < longest; ++i) host[i] = static_cast<T>(i);
      ranges_.reserve(backend, longest * sizeof(T));
      backend->copy_to_device(ranges_.data(), host.data(), longest * sizeof(T));
      ranges_length_ = longest;
      ranges_element_ = sizeof(T);
      ranges_on_ = backend;
    }
    for (std::size_t n = 0; n < nodes; ++n)
      if (info(n).range) call.leaf[n] = ranges_.data();
    for (std::size_t v = 0; v < nodes; ++v)  // views of an arange read its memory
      if (info(v).k == ir::kind::view && info(static_cast<std::size_t>(info(v).args[0])).range) {
        if (info(v).indirect) {
          call.source[v] = ranges_.data();
          call.source_count[v] = 0;
        } else {
          call.view_leaf[v] = ranges_.data();
        }
      }
  }

  static std::size_t slicing_part(const ir::slicing& s, std::size_t part) {
    const std::array<std::size_t, 5> parts{s.outer, s.length, s.inner, s.count, s.offset};  // (codegen::slicing_part)
    return parts[part];
  }
  // Blocks for a fill kernel: a gather's elements, or a scatter's columns, one per thread.
  static unsigned fill_grid(const device_backend& backend, const ir::slicing& s, bool scatters) {
    const unsigned long long work = scatters ? s.outer * s.inner : s.outer * s.count * s.inner,
                             threads = backend.block_threads();
    return static_cast<unsigned>(std::clamp<unsigned long long>((work + threads - 1) / threads, 1ULL,
                                                                static_cast<unsigned long long>(backend.max_blocks())));
  }

  /// Most device memory the per-thread buffers of one loop may take: the grid shrinks to fit.
  static constexpr std::size_t per_thread_budget = std::size_t{256} << 20;

  // Buffers of stored values, partials and grids, as codegen/cuda.hpp describes them. `results`
  // starts with what the host reads back (reduced outputs, then scalar outputs computed outside
  // the loops), so one short copy brings it back.
  template <class T>
  static void plan_buffers(const device_backend& backend, call_layout& call) {
    auto place_global = [&](std::size_t r) {
      call.result_offset[r] = static_cast<long long>(call.results);
      call.results += static_cast<std::size_t>(call.size[r]);
    };
    for (std::size_t r = 0; r < nodes; ++r) {
      if (!stored(r)) continue;
      call.size[r] = buffer_size(call, r);
      const bool registered = plan.buffer_dims[r] == 0;
      if (plan.global[r]) {
        if (output_of(r) >= 0) place_global(r);
        if (!registered && !owned(r)) {
          call.base[r] = static_cast<long long>(call.accumulated);
          call.accumulated += static_cast<std::size_t>(call.size[r]);
        }
      } else if (!registered) {
        call.base[r] = static_cast<long long>(call.local);
        call.local += static_cast<std::size_t>(call.size[r]);
      }
    }
    for (std::size_t k = 0; k < sizeof...(Outputs); ++k) call.output_offset[k] = static_cast<long long>(call.results++);
    call.read_back = call.results;
    for (std::size_t r = 0; r < nodes; ++r)
      if (stored(r) && plan.global[r] && output_of(r) < 0) place_global(r);

    const std::size_t per_thread = call.local * sizeof(T) + call.accumulated * sizeof(double);
    const unsigned long long threads = backend.block_threads();
    const unsigned long long fitting = per_thread == 0
                                           ? backend.max_blocks()
                                           : std::max<unsigned long long>(1, per_thread_budget / per_thread / threads);
    int loop = -1;
    for (int i = 0; i < plan.size; ++i) {
      const ir::instruction& ins = plan.code[static_cast<std::size_t>(i)];
      if (ins.op != ir::instr::enter || ins.depth != 0) continue;
      ++loop;
      const auto extent = static_cast<unsigned long long>(call.extent[static_cast<std::size_t>(ins.cls)]);
      const unsigned long long blocks = std::clamp<unsigned long long>(
          (extent + threads - 1) / threads, 1ULL, std::min<unsigned long long>(backend.max_blocks(), fitting));
      call.grid[static_cast<std::size_t>(loop)] = static_cast<long long>(blocks);
      call.max_threads = std::max(call.max_threads, static_cast<std::size_t>(blocks * threads));
      long long width = 0;
      for (std::size_t r = 0; r < nodes; ++r)
        if (stored(r) && plan.global[r] && plan.done[r] == i && !owned(r)) {
          call.partial_offset[r] = width;
          width += call.size[r];
        }
      call.width[static_cast<std::size_t>(loop)] = width;
      call.partials = std::max(call.partials, static_cast<std::size_t>(width * static_cast<long long>(blocks)));
    }
  }
  static long long buffer_size(const call_layout& call, std::size_t r) {
    std::array<long long, classes + 1> unused{};
    return static_cast<long long>(ir::buffer_layout(plan, static_cast<int>(r), call.extent, unused));
  }

  template <class Output>
  static std::array<std::size_t, Output::rank> output_shape(const call_layout& call) {
    return ir::shape_of<Output::rank>(plan, plan_type::template output_node<Output>, call.extent);
  }
  template <std::size_t K, class T, class Target>
  static void prepare_output(const std::shared_ptr<device_backend>& backend, const call_layout& call, Target& target,
                             std::array<void*, sizeof...(Outputs)>& out) {
    using output = std::tuple_element_t<K, std::tuple<Outputs...>>;
    if constexpr (output::rank > 0) {
      const auto shape = output_shape<output>(call);
      // a tensor also bound as an input (an update written over its parameter) gets fresh memory:
      // kernels read inputs while they write outputs
      const bool bound = std::find(call.leaf.begin(), call.leaf.end(), target.data()) != call.leaf.end();
      if (target.backend() != backend || target.shape() != shape || (bound && target.data() != nullptr))
        target = device_tensor<T, output::rank>(backend, shape);
      out[K] = target.data();
    }
  }

  // Outputs no kernel writes: scalars, reduced tensors, leaves, constants, a repeated output.
  template <std::size_t K, class T, class Point, class Target>
  void finish_output(const std::shared_ptr<device_backend>& backend, const call_layout& call, const Point& point,
                     Target& target) {
    using output = std::tuple_element_t<K, std::tuple<Outputs...>>;
    constexpr auto n = static_cast<std::size_t>(output_node[K]);
    constexpr ir::kind k = info(n).k;
    constexpr bool scalar = ir::classes_of(plan, plan_type::nodes, static_cast<int>(n)) == 0;
    if constexpr (ir::written(plan, static_cast<int>(n))) {
      if constexpr (output::rank == 0) {  // a view of one element (select of a vector): its memory
        T value{};
        backend->copy_to_host(&value, view_[n], sizeof(T));
        target = value;
      } else if constexpr (output_of(n) != static_cast<int>(K)) {  // the same expression asked for twice
        backend->copy_on_device(target.data(), out_pointer_of<output_of(n)>(), target.size() * sizeof(T));
      }
    } else if constexpr (k == ir::kind::tensor_leaf) {
      backend->copy_on_device(target.data(), call.leaf[n], target.size() * sizeof(T));
    } else {
      std::vector<T> host;
      if constexpr (scalar) {
        const double value = ir::scalar_output<output, k>(
            point, [&] { return host_results_[static_cast<std::size_t>(call.result_offset[n])]; },
            [&] { return host_results_[static_cast<std::size_t>(call.output_offset[K])]; });
        if constexpr (output::rank == 0) {
          target = static_cast<T>(value);
          return;
        } else {
          host.assign(target.size(), static_cast<T>(value));
        }
      } else {  // a global reduction: its buffer (classes in loop order) in the output's axis order
        host.resize(target.size());
        std::array<long long, classes + 1> stride{};
        ir::buffer_layout(plan, static_cast<int>(n), call.extent, stride);
        ir::to_axis_order(plan, static_cast<int>(n), stride, host_results_.data() + call.result_offset[n], host.data(),
                          target.shape());
      }
      if constexpr (output::rank > 0) backend->copy_to_device(target.data(), host.data(), host.size() * sizeof(T));
    }
  }
  template <int K>
  const void* out_pointer_of() const {
    return out_[static_cast<std::size_t>(K)];
  }

  std::mutex mutex_;
  device_buffer scratch_, accumulators_, partials_, results_, views_, ranges_, integers_;
  std::vector<char> staging_;  // integer leaves' values in T, on the host
  std::size_t ranges_length_ = 0, ranges_element_ = 0;
  std::shared_ptr<device_backend> ranges_on_;
  std::vector<std::uint64_t> args_;
  std::vector<double> host_results_;
  std::array<void*, sizeof...(Outputs)> out_{};  // this call's tensor outputs
  std::array<const void*, nodes> view_{};        // this call's views' memory
  std::array<std::pair<std::shared_ptr<device_backend>, const loaded_program*>, 2> loaded_{};  // float, double
};

}  // namespace kobai::runtime
