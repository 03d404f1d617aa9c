// The differential fuzzer's harness: each generated program (tests/fuzz/generate.py) is run by kobai
// in double and in float, on 1 and 3 threads (split into tasks however small), with rows in blocks
// and row by row (cpu/interpreter.hpp's block and batch modes), and as generated CUDA kernels on the
// host emulator (device::emulated), on a first call, a repeated one with new data and one with new
// extents, and compared with the naive reference of reference.hpp. A failure prints the program in
// kobai syntax, the shapes of its data and the seed.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "fuzz/reference.hpp"
#include "kobai/cpu/program.hpp"
#include "kobai/device_program.hpp"
#include "kobai/kobai.hpp"

namespace fuzz {

/// The data of one leaf for one call.
struct leaf_data {
  std::string name;
  std::vector<std::size_t> shape;
  std::vector<double> values;
  std::size_t bound = 0;  // an index leaf's: its values are drawn from 0 … bound − 1
};

/// The data of one call: every leaf, by name.
struct call {
  std::vector<leaf_data> leaves;

  const leaf_data& find(const std::string& name) const {
    for (const auto& l : leaves)
      if (l.name == name) return l;
    throw std::runtime_error("fuzz: no leaf named " + name);
  }
  template <class T, std::size_t R>
  xt::xtensor<T, R> tensor(const std::string& name) const {
    const leaf_data& l = find(name);
    std::array<std::size_t, R> shape{};
    std::copy(l.shape.begin(), l.shape.end(), shape.begin());
    xt::xtensor<T, R> out = xt::xtensor<T, R>::from_shape(shape);
    std::transform(l.values.begin(), l.values.end(), out.data(), [](double v) { return static_cast<T>(v); });
    return out;
  }
  template <class T>
  T scalar(const std::string& name) const {
    return static_cast<T>(find(name).values.at(0));
  }
  /// An index leaf's values, as positions along the axis it indexes.
  std::vector<std::size_t> positions(const std::string& name) const {
    std::vector<std::size_t> out;
    for (double v : find(name).values) out.push_back(static_cast<std::size_t>(v));
    return out;
  }
  /// The leaf as a reference tensor; with `tangent`, the named leaf of the same shape as its
  /// tangent (dual numbers).
  template <class S>
  ref::tensor<S> reference(const std::string& name, const std::string& tangent = "") const {
    const leaf_data& l = find(name);
    ref::tensor<S> out{l.shape, std::vector<S>(l.values.size())};
    for (std::size_t i = 0; i < l.values.size(); ++i) out.data[i] = S(l.values[i]);
    if constexpr (std::is_same_v<S, ref::dual>)
      if (!tangent.empty())
        for (std::size_t i = 0; i < l.values.size(); ++i) out.data[i].t = find(tangent).values.at(i);
    return out;
  }
  /// The same call with every value rounded to float.
  call rounded_to_float() const {
    call out = *this;
    for (auto& l : out.leaves)
      for (double& v : l.values) v = static_cast<double>(static_cast<float>(v));
    return out;
  }
};

/// An output as numbers: its shape and its elements in row-major order.
struct flat {
  std::vector<std::size_t> shape;
  std::vector<double> values;
};

template <class V>
flat flatten_one(const V& v) {
  if constexpr (kobai::detail::is_device_tensor<V>) {
    return flatten_one(kobai::to_host(v));
  } else if constexpr (std::is_arithmetic_v<V>) {
    return {{}, {static_cast<double>(v)}};
  } else {
    flat out{{v.shape().begin(), v.shape().end()}, {}};
    for (auto e : v) out.values.push_back(static_cast<double>(e));
    return out;
  }
}
template <class R>
std::vector<flat> flatten(const R& results) {
  if constexpr (requires { std::tuple_size<R>::value; })
    return std::apply([](const auto&... each) { return std::vector<flat>{flatten_one(each)...}; }, results);
  else
    return {flatten_one(results)};
}

/// One generated program: how to run it with kobai, and its reference.
struct program_case {
  std::string name;
  std::string reproduce;  // the command that builds and runs this program alone
  std::string source;     // kobai syntax
  bool smooth;            // no kinks: finite differences check the reference's gradients
  std::function<std::vector<flat>(const call&, unsigned, bool)> run_double, run_float;
  std::function<std::vector<ref::tensor<double>>(const call&)> reference;
  // For the finite-difference check of the reference itself: the scalar whose gradient outputs
  // 1..n are (the loss; for a vjp, the seed's inner product with the output), the var leaves in
  // order, and for an hvp the leaf holding the direction (output 2 is H·direction).
  std::function<double(const call&)> reference_loss;
  std::vector<std::string> variables;
  std::string direction;
  std::vector<std::vector<leaf_data>> calls;  // shapes and roles; values are drawn by the harness
  // The program on the host emulator (its generated kernels), in double and in float.
  std::function<std::vector<flat>(const call&)> device_double, device_float;
};

/// Seeds the data of a program's calls: uniform in [-1, 1].
inline std::vector<call> draw(const program_case& p, std::uint64_t seed) {
  std::vector<call> out;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (const auto& leaves : p.calls) {
    call c{leaves};
    for (auto& l : c.leaves) {
      std::size_t count = 1;
      for (std::size_t e : l.shape) count *= e;
      l.values.resize(count);
      for (double& v : l.values) v = l.bound > 0 ? static_cast<double>(rng() % l.bound) : uniform(rng);
    }
    out.push_back(std::move(c));
  }
  return out;
}

/// What a run covered, printed when the process ends.
struct tally {
  long programs = 0, comparisons = 0, failures = 0, skipped = 0;
  ~tally() {
    if (programs > 0)
      std::fprintf(stderr, "fuzz: %ld programs, %ld comparisons of output elements, %ld failing, %ld calls skipped\n",
                   programs, comparisons, failures, skipped);
  }
};
inline tally& totals() {
  static tally t;
  return t;
}

inline std::string describe(const program_case& p, std::uint64_t seed, const call& c, std::size_t call_index) {
  std::ostringstream text;
  text << p.name << " (data seed " << seed << "), call " << call_index + 1 << ":\n  " << p.source << "\n  shapes:";
  for (const auto& l : c.leaves) text << " " << l.name << ref::shape_text(l.shape);
  text << "\n  reproduce: " << p.reproduce;
  return text.str();
}

/// |got − want| ≤ rtol·(|want| + spread·max|want|) + atol, element by element, with equal shapes.
inline bool agrees(const flat& got, const ref::tensor<double>& want, double rtol, double spread, double atol,
                   std::string& why) {
  if (got.shape != want.shape) {
    why = "shape " + ref::shape_text(got.shape) + " instead of " + ref::shape_text(want.shape);
    return false;
  }
  double largest = 0;
  for (double w : want.data) largest = std::max(largest, std::abs(w));
  for (std::size_t i = 0; i < want.data.size(); ++i) {
    const double g = got.values[i], w = want.data[i];
    if (!(std::abs(g - w) <= rtol * (std::abs(w) + spread * largest) + atol)) {
      std::ostringstream text;
      text.precision(10);
      text << "element " << i << ": " << g << " instead of " << w << " (largest |reference| " << largest << ")";
      why = text.str();
      return false;
    }
  }
  return true;
}

inline bool finite(const std::vector<ref::tensor<double>>& outputs) {
  for (const auto& t : outputs)
    for (double v : t.data)
      if (!std::isfinite(v)) return false;
  return true;
}

/// `c` with `leaf` moved by step·(the leaf `along`, or the unit vector at `element`).
inline call moved(const call& c, const std::string& leaf, double step, const std::string& along, std::size_t element) {
  call out = c;
  for (auto& l : out.leaves)
    if (l.name == leaf)
      for (std::size_t i = 0; i < l.values.size(); ++i)
        l.values[i] += along.empty() ? (i == element ? step : 0.0) : step * c.find(along).values[i];
  return out;
}

/// Central differences against the reference's own reverse mode, for programs without kinks: the
/// scalar's gradient at a few elements of each variable, and for an hvp the gradient along the
/// direction against H·direction. A check of the oracle.
inline void check_reference(const program_case& p, const call& c, const std::vector<ref::tensor<double>>& want,
                            const std::string& where) {
  if (!p.direction.empty()) {
    const double h = 1e-5;
    const auto plus = p.reference(moved(c, p.variables[0], h, p.direction, 0));
    const auto minus = p.reference(moved(c, p.variables[0], -h, p.direction, 0));
    const ref::tensor<double>& hq = want[2];
    double largest = 0;
    for (double v : hq.data) largest = std::max(largest, std::abs(v));
    for (std::size_t i = 0; i < hq.data.size(); ++i) {
      const double fd = (plus[1].data[i] - minus[1].data[i]) / (2 * h);
      INFO(where);
      INFO("the reference's (H·" << p.direction << ")[" << i << "] " << hq.data[i]
                                 << " against central differences of its gradient " << fd);
      CHECK(std::abs(fd - hq.data[i]) <= 1e-5 * (1 + std::abs(fd) + largest));
    }
  }
  std::mt19937_64 rng(7);
  for (std::size_t k = 0; k < p.variables.size(); ++k) {
    const ref::tensor<double>& gradient = want[1 + k];
    for (int trial = 0; trial < 3 && !gradient.data.empty(); ++trial) {
      const std::size_t i = rng() % gradient.data.size();
      const double h = 1e-5;
      const double fd = (p.reference_loss(moved(c, p.variables[k], h, "", i)) -
                         p.reference_loss(moved(c, p.variables[k], -h, "", i))) /
                        (2 * h);
      double largest = 0;
      for (double v : gradient.data) largest = std::max(largest, std::abs(v));
      INFO(where);
      INFO("the reference's ∂/∂" << p.variables[k] << "[" << i << "] " << gradient.data[i]
                                 << " against central differences " << fd);
      CHECK(std::abs(fd - gradient.data[i]) <= 1e-5 * (1 + std::abs(fd) + largest));
    }
  }
}

/// Runs one program on every configuration and compares each output with the reference.
inline void check_program(const program_case& p, std::uint64_t seed) {
  ++totals().programs;
  const std::vector<call> calls = draw(p, seed);
  for (std::size_t k = 0; k < calls.size(); ++k) {
    const call& c = calls[k];
    const std::string where = describe(p, seed, c, k);
    const std::vector<ref::tensor<double>> want = p.reference(c);
    const call c32 = c.rounded_to_float();
    const std::vector<ref::tensor<double>> want32 = p.reference(c32);
    if (!finite(want) || !finite(want32)) {
      ++totals().skipped;
      MESSAGE("skipped: the reference is not finite\n" << where);
      continue;
    }
    if (p.smooth && k == 0) check_reference(p, c, want, where);
    // 8 CPU configurations, then the emulated device in double and in float
    for (int configuration = 0; configuration < 10; ++configuration) {
      const unsigned threads = configuration % 2 == 0 ? 1U : 3U;
      const bool blocks = configuration / 2 % 2 == 0;  // rows in blocks where a loop can, or row by row
      const bool device = configuration >= 8;
      const bool single = device ? configuration == 9 : configuration / 4 == 1;
      const std::vector<flat> got = device   ? (single ? p.device_float(c32) : p.device_double(c))
                                    : single ? p.run_float(c32, threads, blocks)
                                             : p.run_double(c, threads, blocks);
      const auto& expected = single ? want32 : want;
      REQUIRE(got.size() == expected.size());
      for (std::size_t o = 0; o < got.size(); ++o) {
        std::string why;
        const bool ok = single ? agrees(got[o], expected[o], 1e-4, 0.05, 1e-6, why)
                               : agrees(got[o], expected[o], 1e-8, 1e-3, 1e-11, why);
        totals().comparisons += static_cast<long>(expected[o].data.size());
        if (!ok) {
          ++totals().failures;
          const std::string how = device ? std::string("on the emulated device")
                                         : "on " + std::to_string(threads) + " thread(s), " +
                                               std::string(blocks ? "rows in blocks" : "row by row");
          FAIL_CHECK(where << "\n  output " << o << " in " << std::string(single ? "float" : "double") << " " << how
                           << ": " << why);
          return;
        }
      }
    }
  }
}

// Reference helpers for generated code: outputs for a loss and its gradients, a vjp, an hvp.
template <class Build>
std::vector<ref::tensor<double>> reference_gradients(Build build, const call& c, const std::vector<std::string>& vars,
                                                     const std::vector<std::size_t>& extra_outputs = {}) {
  ref::graph<double> g;
  std::vector<int> leaves;
  const std::vector<int> outs = build(g, c, leaves, "");
  std::vector<ref::tensor<double>> out{g[outs[0]]};
  const auto adjoint = g.backward(outs[0], ref::tensor<double>{{}, {1.0}});
  for (std::size_t k = 0; k < vars.size(); ++k) out.push_back(adjoint[static_cast<std::size_t>(leaves[k])]);
  for (std::size_t e : extra_outputs) out.push_back(g[outs[e]]);
  return out;
}
template <class Build>
std::vector<ref::tensor<double>> reference_vjp(Build build, const call& c, const std::vector<std::string>& vars,
                                               const std::string& seed) {
  ref::graph<double> g;
  std::vector<int> leaves;
  const std::vector<int> outs = build(g, c, leaves, "");
  std::vector<ref::tensor<double>> out{g[outs[0]]};
  const auto adjoint = g.backward(outs[0], c.reference<double>(seed));
  for (std::size_t k = 0; k < vars.size(); ++k) out.push_back(adjoint[static_cast<std::size_t>(leaves[k])]);
  return out;
}
template <class Build>
std::vector<ref::tensor<double>> reference_hvp(Build build, const call& c, const std::string& var,
                                               const std::string& direction) {
  auto plain = reference_gradients(build, c, {var});
  ref::graph<ref::dual> g;
  std::vector<int> leaves;
  const std::vector<int> outs = build(g, c, leaves, direction);
  const auto adjoint = g.backward(outs[0], ref::tensor<ref::dual>{{}, {ref::dual(1.0)}});
  const auto& tangent = adjoint[static_cast<std::size_t>(leaves[0])];
  ref::tensor<double> hq{tangent.shape, {}};
  for (const auto& e : tangent.data) hq.data.push_back(e.t);
  plain.push_back(hq);
  return plain;
}
template <class Build>
double reference_loss(Build build, const call& c, const std::string& seed = "") {
  ref::graph<double> g;
  std::vector<int> leaves;
  const auto& out = g[build(g, c, leaves, "")[0]];
  if (seed.empty()) return out.data.at(0);
  double inner = 0;  // ⟨seed, y⟩, whose gradient is the vjp
  const auto& weights = c.find(seed).values;
  for (std::size_t i = 0; i < out.data.size(); ++i) inner += weights.at(i) * out.data[i];
  return inner;
}

}  // namespace fuzz
