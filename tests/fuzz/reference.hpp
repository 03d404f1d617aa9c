// The fuzzer's oracle: a naive tensor evaluator written for the tests, with NumPy's broadcasting and
// PyTorch's semantics, reverse mode over an explicit tape, and dual numbers for Hessian-vector
// products (forward over reverse). It shares nothing with kobai but the C++ standard library.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace fuzz::ref {

/// A number with a tangent: v + t·ε, ε² = 0. Comparisons look at the value only.
struct dual {
  double v = 0, t = 0;
  dual() = default;
  dual(double value, double tangent = 0) : v(value), t(tangent) {}  // NOLINT(google-explicit-constructor)
};
inline dual operator+(dual a, dual b) { return {a.v + b.v, a.t + b.t}; }
inline dual operator-(dual a, dual b) { return {a.v - b.v, a.t - b.t}; }
inline dual operator-(dual a) { return {-a.v, -a.t}; }
inline dual operator*(dual a, dual b) { return {a.v * b.v, a.t * b.v + a.v * b.t}; }
inline dual operator/(dual a, dual b) { return {a.v / b.v, (a.t * b.v - a.v * b.t) / (b.v * b.v)}; }
inline dual& operator+=(dual& a, dual b) { return a = a + b; }
inline bool operator<(dual a, dual b) { return a.v < b.v; }
inline bool operator>(dual a, dual b) { return a.v > b.v; }
inline bool operator==(dual a, dual b) { return a.v == b.v; }
inline double value(double x) { return x; }
inline double value(dual x) { return x.v; }
inline dual exp(dual x) {
  const double e = std::exp(x.v);
  return {e, e * x.t};
}
inline dual log(dual x) { return {std::log(x.v), x.t / x.v}; }
inline dual sin(dual x) { return {std::sin(x.v), std::cos(x.v) * x.t}; }
inline dual cos(dual x) { return {std::cos(x.v), -std::sin(x.v) * x.t}; }
inline dual tanh(dual x) {
  const double y = std::tanh(x.v);
  return {y, (1 - y * y) * x.t};
}
inline dual sqrt(dual x) {
  const double y = std::sqrt(x.v);
  return {y, x.t / (2 * y)};
}
inline dual log1p(dual x) { return {std::log1p(x.v), x.t / (1 + x.v)}; }
inline dual erf(dual x) { return {std::erf(x.v), 1.1283791670955126 * std::exp(-x.v * x.v) * x.t}; }
inline dual expm1(dual x) { return {std::expm1(x.v), std::exp(x.v) * x.t}; }
inline dual pow(dual x, double p) { return {std::pow(x.v, p), p * std::pow(x.v, p - 1) * x.t}; }

/// A dense row-major tensor.
template <class S>
struct tensor {
  std::vector<std::size_t> shape;
  std::vector<S> data;
  std::size_t size() const { return data.size(); }
  static tensor filled(std::vector<std::size_t> shape, S fill) {
    std::size_t count = 1;
    for (std::size_t e : shape) count *= e;
    return {std::move(shape), std::vector<S>(count, fill)};
  }
};

inline std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

namespace detail {
// NumPy's broadcast of two shapes.
inline std::vector<std::size_t> broadcast(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  std::vector<std::size_t> out(rank);
  for (std::size_t p = 0; p < rank; ++p) {
    const std::size_t ea = p + a.size() >= rank ? a[p + a.size() - rank] : 1;
    const std::size_t eb = p + b.size() >= rank ? b[p + b.size() - rank] : 1;
    if (ea != eb && ea != 1 && eb != 1)
      throw std::runtime_error("reference: shapes " + shape_text(a) + " and " + shape_text(b) + " do not broadcast");
    out[p] = ea == 1 ? eb : ea;
  }
  return out;
}
// For each element of `out`, the index of the element of `in` that broadcasts to it.
inline std::vector<std::size_t> broadcast_map(const std::vector<std::size_t>& in, const std::vector<std::size_t>& out) {
  std::size_t count = 1;
  for (std::size_t e : out) count *= e;
  std::vector<std::size_t> map(count);
  std::vector<std::size_t> index(out.size(), 0);
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t offset = 0;
    for (std::size_t p = out.size() - in.size(), q = 0; q < in.size(); ++p, ++q)
      offset = offset * in[q] + (in[q] == 1 ? 0 : index[p]);
    map[i] = offset;
    for (std::size_t p = out.size(); p-- > 0;) {
      if (++index[p] < out[p]) break;
      index[p] = 0;
    }
  }
  return map;
}
// For each element of `in`, the index of the reduced element it folds into (axes: which to fold).
inline std::vector<std::size_t> fold_map(const std::vector<std::size_t>& in, const std::vector<bool>& axes,
                                         std::vector<std::size_t>& kept_shape) {
  kept_shape.clear();
  for (std::size_t p = 0; p < in.size(); ++p) kept_shape.push_back(axes[p] ? 1 : in[p]);
  std::vector<std::size_t> kept_out = kept_shape;
  return [&] {
    std::size_t count = 1;
    for (std::size_t e : in) count *= e;
    std::vector<std::size_t> map(count), index(in.size(), 0);
    for (std::size_t i = 0; i < count; ++i) {
      std::size_t offset = 0;
      for (std::size_t p = 0; p < in.size(); ++p) offset = offset * kept_out[p] + (axes[p] ? 0 : index[p]);
      map[i] = offset;
      for (std::size_t p = in.size(); p-- > 0;) {
        if (++index[p] < in[p]) break;
        index[p] = 0;
      }
    }
    return map;
  }();
}
}  // namespace detail

/// A tape of tensor operations: each call computes its value at once and records how to send an
/// adjoint back to its arguments. Node ids are indices into the tape.
template <class S>
class graph {
 public:
  using T = tensor<S>;
  using unary_fn = std::function<S(S)>;

  int leaf(T value) { return push(std::move(value), {}, nullptr); }
  int scalar(double c) { return leaf(T{{}, {S(c)}}); }
  const T& operator[](int id) const { return nodes_[static_cast<std::size_t>(id)].value; }

  /// f applied elementwise, with derivative d(x) (the value's, as an S). A tangent moves by d too,
  /// so at a kink forward mode takes the subgradient that reverse mode takes.
  int map(int a, const unary_fn& f, const unary_fn& d) {
    const T& x = (*this)[a];
    T y{x.shape, std::vector<S>(x.size())};
    for (std::size_t i = 0; i < x.size(); ++i) y.data[i] = chain(f(x.data[i]), {d(x.data[i])}, {x.data[i]});
    return push(std::move(y), {a}, [this, a, d](const T& g, std::vector<T>& out) {
      const T& x = (*this)[a];
      out[0] = T{x.shape, std::vector<S>(x.size())};
      for (std::size_t i = 0; i < x.size(); ++i) out[0].data[i] = g.data[i] * d(x.data[i]);
    });
  }

  /// A binary elementwise op with broadcasting: f(a, b) and its partials da(a, b), db(a, b).
  int zip(int a, int b, const std::function<S(S, S)>& f, const std::function<S(S, S)>& da,
          const std::function<S(S, S)>& db) {
    const T &x = (*this)[a], &y = (*this)[b];
    const auto shape = detail::broadcast(x.shape, y.shape);
    const auto mx = detail::broadcast_map(x.shape, shape), my = detail::broadcast_map(y.shape, shape);
    T z = T::filled(shape, S(0));
    for (std::size_t i = 0; i < z.size(); ++i) {
      const S u = x.data[mx[i]], v = y.data[my[i]];
      z.data[i] = chain(f(u, v), {da(u, v), db(u, v)}, {u, v});
    }
    return push(std::move(z), {a, b}, [this, a, b, mx, my, da, db](const T& g, std::vector<T>& out) {
      const T &x = (*this)[a], &y = (*this)[b];
      out[0] = T::filled(x.shape, S(0));
      out[1] = T::filled(y.shape, S(0));
      for (std::size_t i = 0; i < g.size(); ++i) {
        out[0].data[mx[i]] += g.data[i] * da(x.data[mx[i]], y.data[my[i]]);
        out[1].data[my[i]] += g.data[i] * db(x.data[mx[i]], y.data[my[i]]);
      }
    });
  }

  int add(int a, int b) {
    return zip(
        a, b, [](S x, S y) { return x + y; }, [](S, S) { return S(1); }, [](S, S) { return S(1); });
  }
  int sub(int a, int b) {
    return zip(
        a, b, [](S x, S y) { return x - y; }, [](S, S) { return S(1); }, [](S, S) { return S(-1); });
  }
  int mul(int a, int b) {
    return zip(
        a, b, [](S x, S y) { return x * y; }, [](S, S y) { return y; }, [](S x, S) { return x; });
  }
  int div(int a, int b) {
    return zip(
        a, b, [](S x, S y) { return x / y; }, [](S, S y) { return S(1) / y; },
        [](S x, S y) { return S(0) - x / (y * y); });
  }
  /// torch.maximum / torch.minimum: NaN if either is, the gradient goes to the larger (smaller),
  /// halved at ties.
  int maximum(int a, int b) {
    return zip(
        a, b, [](S x, S y) { return is_nan(x) || is_nan(y) ? S(NAN)
                                    : x < y                ? y
                                                           : x; },
        [](S x, S y) {
          return S(x > y ? 1.0 : x == y ? 0.5 : 0.0);
        },
        [](S x, S y) {
          return S(y > x ? 1.0 : x == y ? 0.5 : 0.0);
        });
  }
  int minimum(int a, int b) {
    return zip(
        a, b, [](S x, S y) { return is_nan(x) || is_nan(y) ? S(NAN)
                                    : y < x                ? y
                                                           : x; },
        [](S x, S y) {
          return S(x < y ? 1.0 : x == y ? 0.5 : 0.0);
        },
        [](S x, S y) {
          return S(y < x ? 1.0 : x == y ? 0.5 : 0.0);
        });
  }
  int greater(int a, int b) {
    return zip(
        a, b, [](S x, S y) { return S(x > y ? 1.0 : 0.0); }, [](S, S) { return S(0); }, [](S, S) { return S(0); });
  }
  int less(int a, int b) {
    return zip(
        a, b, [](S x, S y) { return S(x < y ? 1.0 : 0.0); }, [](S, S) { return S(0); }, [](S, S) { return S(0); });
  }

  int greater_equal(int a, int b) {
    return zip(
        a, b, [](S x, S y) { return S(x < y ? 0.0 : 1.0); }, [](S, S) { return S(0); }, [](S, S) { return S(0); });
  }
  int less_equal(int a, int b) {
    return zip(
        a, b, [](S x, S y) { return S(x > y ? 0.0 : 1.0); }, [](S, S) { return S(0); }, [](S, S) { return S(0); });
  }
  /// a^b for a > 0: ∂/∂a = b·a^(b−1), ∂/∂b = a^b·log a.
  int pow(int a, int b) {
    return zip(
        a, b, [](S x, S y) { return fn_exp(y * fn_log(x)); },
        [](S x, S y) { return y * fn_exp((y - S(1)) * fn_log(x)); },
        [](S x, S y) { return fn_exp(y * fn_log(x)) * fn_log(x); });
  }

  /// where(c, a, b): a where c ≠ 0, else b; c gets no gradient.
  int where(int c, int a, int b) {
    const T &cond = (*this)[c], &x = (*this)[a], &y = (*this)[b];
    const auto shape = detail::broadcast(detail::broadcast(cond.shape, x.shape), y.shape);
    const auto mc = detail::broadcast_map(cond.shape, shape), mx = detail::broadcast_map(x.shape, shape),
               my = detail::broadcast_map(y.shape, shape);
    T z = T::filled(shape, S(0));
    for (std::size_t i = 0; i < z.size(); ++i) z.data[i] = value(cond.data[mc[i]]) != 0 ? x.data[mx[i]] : y.data[my[i]];
    return push(std::move(z), {c, a, b}, [this, c, a, b, mc, mx, my](const T& g, std::vector<T>& out) {
      out[0] = T::filled((*this)[c].shape, S(0));
      out[1] = T::filled((*this)[a].shape, S(0));
      out[2] = T::filled((*this)[b].shape, S(0));
      for (std::size_t i = 0; i < g.size(); ++i) {
        if (value((*this)[c].data[mc[i]]) != 0)
          out[1].data[mx[i]] += g.data[i];
        else
          out[2].data[my[i]] += g.data[i];
      }
    });
  }

  /// Σ over the axes (all when empty), keeping them as extent 1 with keep.
  int sum(int a, const std::vector<int>& axes, bool keep) { return fold(a, axes, keep, fold_kind::sum); }
  int mean(int a, const std::vector<int>& axes, bool keep) {
    const std::size_t before = (*this)[a].size();
    const int total = sum(a, axes, keep);
    const std::size_t after = (*this)[total].size();
    return mul(total, scalar(static_cast<double>(after) / static_cast<double>(before)));
  }
  /// torch.amax / amin: the gradient is shared equally by the tied extremes.
  int amax(int a, const std::vector<int>& axes, bool keep) { return fold(a, axes, keep, fold_kind::max); }
  int amin(int a, const std::vector<int>& axes, bool keep) { return fold(a, axes, keep, fold_kind::min); }

  /// log Σ exp over the axes, computed with the shift by the (constant) maximum.
  int logsumexp(int a, std::vector<int> axes, bool keep) {
    const int shift = detach(amax(a, axes, true));
    const int kept = add(log(sum(exp(sub(a, shift)), axes, true)), shift);
    return keep ? kept : drop(kept, folded_axes(a, axes));
  }
  int softmax(int a, int axis) {
    const int lse = logsumexp(a, {axis}, true);
    return exp(sub(a, lse));
  }

  /// a's value as a constant: no gradient, and no tangent either (as torch's detach).
  int detach(int a) {
    T y = (*this)[a];
    if constexpr (std::is_same_v<S, dual>)
      for (auto& e : y.data) e.t = 0;
    return leaf(std::move(y));
  }

  /// A new axis of extent 1 at position p of the result.
  int unsqueeze(int a, int p) {
    T y = (*this)[a];
    y.shape.insert(y.shape.begin() + p, 1);
    return push(std::move(y), {a}, [this, a](const T& g, std::vector<T>& out) { out[0] = {(*this)[a].shape, g.data}; });
  }
  /// Removes the axes flagged (each of extent 1); a scalar when all are.
  int drop(int a, const std::vector<bool>& axes) {
    T y = (*this)[a];
    std::vector<std::size_t> shape;
    for (std::size_t p = 0; p < y.shape.size(); ++p)
      if (!axes[p]) shape.push_back(y.shape[p]);
    y.shape = shape;
    return push(std::move(y), {a}, [this, a](const T& g, std::vector<T>& out) { out[0] = {(*this)[a].shape, g.data}; });
  }
  /// The axes named (negative from the end; none: every axis) as flags over a's axes.
  std::vector<bool> folded_axes(int a, const std::vector<int>& axes) const {
    const int rank = static_cast<int>((*this)[a].shape.size());
    std::vector<bool> folded(static_cast<std::size_t>(rank), axes.empty());
    for (int axis : axes) folded[static_cast<std::size_t>(axis < 0 ? axis + rank : axis)] = true;
    return folded;
  }
  /// The elements in row-major order as one axis.
  int flatten(int a) {
    T y = (*this)[a];
    y.shape = {y.size()};
    return push(std::move(y), {a}, [this, a](const T& g, std::vector<T>& out) { out[0] = {(*this)[a].shape, g.data}; });
  }
  /// The last two axes swapped.
  int transpose(int a) {
    const T& x = (*this)[a];
    const std::size_t r = x.shape.size();
    T y = x;
    std::swap(y.shape[r - 1], y.shape[r - 2]);
    const std::size_t rows = x.shape[r - 2], cols = x.shape[r - 1], block = rows * cols;
    for (std::size_t o = 0; o < x.size(); o += block)
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) y.data[o + j * rows + i] = x.data[o + i * cols + j];
    return push(std::move(y), {a}, [this, a, rows, cols, block](const T& g, std::vector<T>& out) {
      out[0] = T::filled((*this)[a].shape, S(0));
      for (std::size_t o = 0; o < g.size(); o += block)
        for (std::size_t i = 0; i < rows; ++i)
          for (std::size_t j = 0; j < cols; ++j) out[0].data[o + i * cols + j] = g.data[o + j * rows + i];
    });
  }
  /// torch.tril(a, k) (lower: kept where column ≤ row + k) or torch.triu(a, k) (kept where column ≥
  /// row + k) over the last two axes; the adjoint is masked alike.
  int triangle(int a, long k, bool lower) {
    const T& x = (*this)[a];
    const std::size_t r = x.shape.size(), rows = x.shape[r - 2], cols = x.shape[r - 1];
    std::vector<bool> keep(x.size());
    for (std::size_t e = 0; e < x.size(); ++e) {
      const auto i = static_cast<long>(e / cols % rows), j = static_cast<long>(e % cols);
      keep[e] = lower ? j <= i + k : j >= i + k;
    }
    T y = x;
    for (std::size_t e = 0; e < y.size(); ++e)
      if (!keep[e]) y.data[e] = S(0);
    return push(std::move(y), {a}, [this, a, keep](const T& g, std::vector<T>& out) {
      out[0] = {(*this)[a].shape, g.data};
      for (std::size_t e = 0; e < keep.size(); ++e)
        if (!keep[e]) out[0].data[e] = S(0);
    });
  }
  /// Slices of a along `axis` picked by `positions` and laid out in `shape` in the axis's place:
  /// torch.index_select (take), select (shape {}) and narrow (a range). The adjoint adds each
  /// slice back where it was read.
  int gather(int a, int axis, const std::vector<std::size_t>& positions, const std::vector<std::size_t>& shape) {
    const T& x = (*this)[a];
    std::vector<std::size_t> out_shape(x.shape.begin(), x.shape.begin() + axis);
    out_shape.insert(out_shape.end(), shape.begin(), shape.end());
    out_shape.insert(out_shape.end(), x.shape.begin() + axis + 1, x.shape.end());
    for (std::size_t k : positions)
      if (k >= x.shape[static_cast<std::size_t>(axis)]) throw std::runtime_error("reference: an index past its axis");
    T y = gathered(x, axis, positions, out_shape);
    return push(std::move(y), {a}, [this, a, axis, positions](const T& g, std::vector<T>& out) {
      out[0] = scattered(g, (*this)[a].shape, axis, positions);
    });
  }
  /// The parts joined along `axis` (torch.cat), their other axes broadcast against each other.
  int concat(const std::vector<int>& parts, int axis) {
    std::vector<std::size_t> common = (*this)[parts[0]].shape;
    common[static_cast<std::size_t>(axis)] = 1;
    for (int part : parts) {
      std::vector<std::size_t> shape = (*this)[part].shape;
      shape[static_cast<std::size_t>(axis)] = 1;
      common = detail::broadcast(common, shape);
    }
    std::size_t total = 0;
    for (int part : parts) total += (*this)[part].shape[static_cast<std::size_t>(axis)];
    int joined = -1;
    std::size_t start = 0;
    for (int part : parts) {
      std::vector<std::size_t> shape = common;
      const std::size_t n = (*this)[part].shape[static_cast<std::size_t>(axis)];
      shape[static_cast<std::size_t>(axis)] = n;
      const int expanded = add(part, leaf(T::filled(shape, S(0))));
      std::vector<std::size_t> positions(n);
      for (std::size_t k = 0; k < n; ++k) positions[k] = start + k;
      start += n;
      const T& x = (*this)[expanded];
      T y = scattered(x, with_extent(x.shape, axis, total), axis, positions);
      const int placed =
          push(std::move(y), {expanded}, [this, expanded, axis, positions](const T& g, std::vector<T>& out) {
            out[0] = gathered(g, axis, positions, (*this)[expanded].shape);
          });
      joined = joined < 0 ? placed : add(joined, placed);
    }
    return joined;
  }
  /// NumPy's matmul: 1-D operands get an axis for the product that is removed after it.
  int matmul(int a, int b) {
    const std::size_t ra = (*this)[a].shape.size(), rb = (*this)[b].shape.size();
    if (ra == 1 && rb == 1) return sum(mul(a, b), {}, false);
    if (rb == 1) return sum(mul(a, b), {-1}, false);                // (…, n, k)·(k)
    if (ra == 1) return sum(mul(unsqueeze(a, 1), b), {-2}, false);  // (k)·(…, k, m)
    return sum(mul(unsqueeze(a, static_cast<int>(ra)), unsqueeze(b, static_cast<int>(rb) - 2)), {-2}, false);
  }

  // Elementwise functions, with PyTorch's subgradients at kinks.
  int neg(int a) {
    return map(
        a, [](S x) { return S(0) - x; }, [](S) { return S(-1); });
  }
  int exp(int a) {
    return map(
        a, [](S x) { return fn_exp(x); }, [](S x) { return fn_exp(x); });
  }
  int log(int a) {
    return map(
        a, [](S x) { return fn_log(x); }, [](S x) { return S(1) / x; });
  }
  int log1p(int a) {
    return map(
        a, [](S x) { return fn_log1p(x); }, [](S x) { return S(1) / (S(1) + x); });
  }
  int expm1(int a) {
    return map(
        a, [](S x) { return fn_expm1(x); }, [](S x) { return fn_exp(x); });
  }
  int sin(int a) {
    return map(
        a, [](S x) { return fn_sin(x); }, [](S x) { return fn_cos(x); });
  }
  int cos(int a) {
    return map(
        a, [](S x) { return fn_cos(x); }, [](S x) { return S(0) - fn_sin(x); });
  }
  int tanh(int a) {
    return map(
        a, [](S x) { return fn_tanh(x); }, [](S x) { return S(1) - fn_tanh(x) * fn_tanh(x); });
  }
  int erf(int a) {  // d/dx = 2/√π · e^(−x²), derived by hand
    return map(
        a, [](S x) { return fn_erf(x); }, [](S x) { return S(1.1283791670955126) * fn_exp(S(0) - x * x); });
  }
  int sigmoid(int a) {
    return map(
        a, [](S x) { return sig(x); }, [](S x) { return sig(x) * (S(1) - sig(x)); });
  }
  int softplus(int a) {
    return map(
        a, [](S x) { return (x > S(0) ? x : S(0)) + fn_log1p(fn_exp(S(0) - abs_of(x))); }, [](S x) { return sig(x); });
  }
  int tan(int a) {
    return map(
        a, [](S x) { return fn_sin(x) / fn_cos(x); }, [](S x) { return S(1) / (fn_cos(x) * fn_cos(x)); });
  }
  int sign(int a) {
    return map(
        a, [](S x) { return S(x > S(0)   ? 1
                              : x < S(0) ? -1
                                         : 0); }, [](S) { return S(0); });
  }
  int relu(int a) {
    return map(
        a, [](S x) { return x > S(0) ? x : S(0); }, [](S x) { return S(x > S(0) ? 1 : 0); });
  }
  int abs(int a) {
    return map(
        a, [](S x) { return abs_of(x); }, [](S x) { return S(x > S(0)   ? 1
                                                             : x < S(0) ? -1
                                                                        : 0); });
  }
  int sqrt(int a) {
    return map(
        a, [](S x) { return fn_sqrt(x); }, [](S x) { return S(0.5) / fn_sqrt(x); });
  }
  /// x^p for a rational p (an integer p multiplies, so negative bases are fine).
  int power(int a, double p) {
    return map(
        a, [p](S x) { return pow_of(x, p); }, [p](S x) { return S(p) * pow_of(x, p - 1); });
  }

  /// PyTorch's MSELoss (mean).
  int mse(int p, int t) {
    const int r = sub(p, t);
    return mean(mul(r, r), {}, false);
  }
  /// PyTorch's BCEWithLogitsLoss (mean): softplus(z) − z·y.
  int bce_with_logits(int z, int y) { return mean(sub(softplus(z), mul(z, y)), {}, false); }
  /// Cross-entropy with probability targets, the classes on the last axis (PyTorch's
  /// CrossEntropyLoss for logits of rank 1 or 2): the mean over the rest of −Σ_c y·log_softmax(z).
  int cross_entropy(int z, int y) {
    const int log_probabilities = sub(z, logsumexp(z, {-1}, true));
    return mean(neg(sum(mul(y, log_probabilities), {-1}, false)), {}, false);
  }

  /// The adjoints of every node for output `out` seeded with `seed` (of out's shape).
  std::vector<T> backward(int out, const T& seed) const {
    std::vector<T> adjoint(nodes_.size());
    adjoint[static_cast<std::size_t>(out)] = seed;
    for (std::size_t n = static_cast<std::size_t>(out) + 1; n-- > 0;) {
      const node& at = nodes_[n];
      if (adjoint[n].data.empty() || !at.back) continue;
      std::vector<T> contributions(at.args.size());
      at.back(adjoint[n], contributions);
      for (std::size_t k = 0; k < at.args.size(); ++k) {
        T& target = adjoint[static_cast<std::size_t>(at.args[k])];
        if (contributions[k].data.empty()) continue;
        if (target.data.empty())
          target = contributions[k];
        else
          for (std::size_t i = 0; i < target.size(); ++i) target.data[i] += contributions[k].data[i];
      }
    }
    for (std::size_t n = 0; n < nodes_.size(); ++n)
      if (adjoint[n].data.empty()) adjoint[n] = T::filled(nodes_[n].value.shape, S(0));
    return adjoint;
  }

 private:
  struct node {
    T value;
    std::vector<int> args;
    std::function<void(const T&, std::vector<T>&)> back;
  };
  std::vector<node> nodes_;

  int push(T value, std::vector<int> args, std::function<void(const T&, std::vector<T>&)> back) {
    nodes_.push_back({std::move(value), std::move(args), std::move(back)});
    return static_cast<int>(nodes_.size()) - 1;
  }

  // value: the result of f on the arguments; with dual numbers, its tangent becomes Σ ∂ᵢ·tangentᵢ
  // from the partials ∂ᵢ (their values).
  static S chain(S value_, std::initializer_list<S> partials, std::initializer_list<S> arguments) {
    if constexpr (std::is_same_v<S, dual>) {
      double tangent = 0;
      auto argument = arguments.begin();
      for (const S& partial : partials) tangent += partial.v * (argument++)->t;
      value_.t = tangent;
    }
    return value_;
  }

  static std::array<std::size_t, 3> split(const std::vector<std::size_t>& shape, int axis) {
    std::size_t outer = 1, inner = 1;
    for (int p = 0; p < axis; ++p) outer *= shape[static_cast<std::size_t>(p)];
    for (std::size_t p = static_cast<std::size_t>(axis) + 1; p < shape.size(); ++p) inner *= shape[p];
    return {outer, shape[static_cast<std::size_t>(axis)], inner};
  }
  static std::vector<std::size_t> with_extent(std::vector<std::size_t> shape, int axis, std::size_t extent) {
    shape[static_cast<std::size_t>(axis)] = extent;
    return shape;
  }
  // g's slices along `axis` (in g's layout: outer × positions × inner) added into a tensor of
  // `shape` at `positions`.
  static T scattered(const T& g, const std::vector<std::size_t>& shape, int axis,
                     const std::vector<std::size_t>& positions) {
    T out = T::filled(shape, S(0));
    const auto [outer, extent, inner] = split(shape, axis);
    const std::size_t m = positions.size();
    for (std::size_t o = 0; o < outer; ++o)
      for (std::size_t k = 0; k < m; ++k)
        for (std::size_t i = 0; i < inner; ++i)
          out.data[(o * extent + positions[k]) * inner + i] += g.data[(o * m + k) * inner + i];
    return out;
  }
  // The slices of x at `positions` along `axis`, in a tensor of `shape` (x's with the axis's extent m).
  static T gathered(const T& x, int axis, const std::vector<std::size_t>& positions,
                    const std::vector<std::size_t>& shape) {
    T out = T::filled(shape, S(0));
    const auto [outer, extent, inner] = split(x.shape, axis);
    const std::size_t m = positions.size();
    for (std::size_t o = 0; o < outer; ++o)
      for (std::size_t k = 0; k < m; ++k)
        for (std::size_t i = 0; i < inner; ++i)
          out.data[(o * m + k) * inner + i] = x.data[(o * extent + positions[k]) * inner + i];
    return out;
  }

  enum class fold_kind { sum, max, min };
  int fold(int a, const std::vector<int>& axes, bool keep, fold_kind kind) {
    const T& x = (*this)[a];
    const std::vector<bool> folded = folded_axes(a, axes);
    std::vector<std::size_t> kept;
    const auto into = detail::fold_map(x.shape, folded, kept);
    const double start = kind == fold_kind::sum ? 0.0 : kind == fold_kind::max ? -INFINITY : INFINITY;
    T y = T::filled(kept, S(start));
    for (std::size_t i = 0; i < x.size(); ++i) {
      S& slot = y.data[into[i]];
      const S e = x.data[i];
      if (kind == fold_kind::sum)
        slot += e;
      else if (value(e) != value(e) || value(slot) != value(slot))
        slot = S(NAN);
      else if (kind == fold_kind::max ? slot < e : e < slot)
        slot = e;
    }
    std::vector<double> ties(y.size(), 0);  // how many elements share each extreme
    if (kind != fold_kind::sum) {
      for (std::size_t i = 0; i < x.size(); ++i)
        if (x.data[i] == y.data[into[i]]) ties[into[i]] += 1;
      if constexpr (std::is_same_v<S, dual>) {  // the tangent of the extreme: the mean over its ties
        std::vector<double> tangent(y.size(), 0);
        for (std::size_t i = 0; i < x.size(); ++i)
          if (x.data[i] == y.data[into[i]]) tangent[into[i]] += x.data[i].t;
        for (std::size_t e = 0; e < y.size(); ++e) y.data[e].t = tangent[e] / ties[e];
      }
    }
    const std::vector<S> extreme = y.data;
    const int folded_node =
        push(std::move(y), {a}, [this, a, into, kind, ties, extreme](const T& g, std::vector<T>& out) {
          const T& x = (*this)[a];
          out[0] = T::filled(x.shape, S(0));
          for (std::size_t i = 0; i < x.size(); ++i)
            if (kind == fold_kind::sum)
              out[0].data[i] = g.data[into[i]];
            else if (x.data[i] == extreme[into[i]])
              out[0].data[i] = g.data[into[i]] / S(ties[into[i]]);
        });
    return keep ? folded_node : drop(folded_node, folded);
  }

  // std:: for double and float, found by argument-dependent lookup for the dual numbers.
#define KOBAI_FUZZ_UNARY(name) \
  static S fn_##name(S x) {    \
    using std::name;           \
    return name(x);            \
  }
  KOBAI_FUZZ_UNARY(exp)
  KOBAI_FUZZ_UNARY(log)
  KOBAI_FUZZ_UNARY(log1p)
  KOBAI_FUZZ_UNARY(expm1)
  KOBAI_FUZZ_UNARY(sin)
  KOBAI_FUZZ_UNARY(cos)
  KOBAI_FUZZ_UNARY(tanh)
  KOBAI_FUZZ_UNARY(erf)
  KOBAI_FUZZ_UNARY(sqrt)
#undef KOBAI_FUZZ_UNARY
  static S abs_of(S x) { return x < S(0) ? S(0) - x : x; }
  static bool is_nan(S x) { return value(x) != value(x); }
  static S sig(S x) { return S(1) / (S(1) + fn_exp(S(0) - x)); }
  static S pow_of(S x, double p) {
    if (p == std::round(p) && std::abs(p) < 64) {
      S result(1);
      for (int k = 0; k < static_cast<int>(std::abs(p)); ++k) result = result * x;
      return p < 0 ? S(1) / result : result;
    }
    using std::pow;
    return pow(x, p);
  }
};

}  // namespace fuzz::ref
