// The primitive operators: what each computes, element by element, and its derivative.
// The derivative rules themselves live in one table, diff/rules.hpp.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "kobai/core/cmath.hpp"
#include "kobai/expr/node.hpp"

namespace kobai::ops {

// `apply` is generic over the element type: double, float, or a SIMD batch whose functions
// (exp, select, …) are found by argument-dependent lookup through the helpers below. `fold` gives
// the exact value of the op on rational constants where there is one (exp(0) = 1); otherwise the
// node stays symbolic. `id` fixes the canonical order of operands.
namespace elementwise {
using math::abs, math::cos, math::exp, math::expm1, math::log, math::log1p, math::max, math::min, math::pow,
    math::select, math::sin, math::sqrt, math::tan, math::tanh;
template <class T>
constexpr T abs_(T x) {
  return abs(x);
}
template <class T>
constexpr T cos_(T x) {
  return cos(x);
}
template <class T>
constexpr T exp_(T x) {
  return exp(x);
}
template <class T>
constexpr T expm1_(T x) {
  return expm1(x);
}
template <class T>
constexpr T log_(T x) {
  return log(x);
}
template <class T>
constexpr T log1p_(T x) {
  return log1p(x);
}
template <class T>
constexpr T sin_(T x) {
  return sin(x);
}
template <class T>
constexpr T sqrt_(T x) {
  return sqrt(x);
}
template <class T>
constexpr T tan_(T x) {
  return tan(x);
}
template <class T>
constexpr T tanh_(T x) {
  return tanh(x);
}
// max and min propagate NaN, as torch.maximum/minimum do, identically for scalars and SIMD batches
// (x86's maxps would return the second operand on NaN).
template <class T>
constexpr T max_(T a, T b) {
  return select(b != b || a < b, b, a);
}
template <class T>
constexpr T min_(T a, T b) {
  return select(b != b || b < a, b, a);
}
template <class T>
constexpr T pow_(T a, T b) {
  return pow(a, b);
}
template <class C, class T>
constexpr T select_(const C& c, T a, T b) {
  return select(c, a, b);
}
}  // namespace elementwise
using namespace elementwise;  // NOLINT(google-build-using-namespace)

enum class op_id : int {
  add,
  mul,
  power,
  pow,
  exp,
  log,
  log1p,
  expm1,
  sin,
  cos,
  tan,
  tanh,
  sigmoid,
  softplus,
  relu,
  abs,
  sign,
  min,
  max,
  where,
  lt,
  le,
  gt,
  ge,
  eq,
  ne,
  detach,
  sum,
  amax,
  amin,
  numel,
  expand,
  unsqueeze,
  transpose,
  flatten,
  reshape
};

/// Base of the ops whose value at an element is their argument's there: they move, fold or
/// relabel elements (reductions, unsqueeze, transpose, flatten) or only stop the gradient (detach).
struct passes_value : op_base {
  template <class T>
  static constexpr T apply(T x) {
    return x;
  }
};

/// a + b.  ∂/∂a = 1, ∂/∂b = 1.
struct add : op_base {
  static constexpr op_id id = op_id::add;
  static constexpr std::string_view name = "add";
  template <class T>
  static constexpr T apply(T a, T b) {
    return a + b;
  }
};

/// a · b.  ∂/∂a = b, ∂/∂b = a.
struct mul : op_base {
  static constexpr op_id id = op_id::mul;
  static constexpr std::string_view name = "mul";
  template <class T>
  static constexpr T apply(T a, T b) {
    return a * b;
  }
};

/// x^R for an exact rational R (x⁻¹ is 1/x, x^½ is √x).  d/dx = R·x^(R−1).
template <rational R>
struct power : op_base {
  static constexpr op_id id = op_id::power;
  static constexpr std::string_view name = "pow";
  static constexpr rational parameter = R;
  template <class T>
  static constexpr T apply(T x) {
    if constexpr (R.den == 2) {
      return integer_power(sqrt_(x), R.num);
    } else if constexpr (R.is_integer()) {
      return integer_power(x, R.num);
    } else {
      return pow_(x, T(R.value()));
    }
  }
  template <class T>
  static constexpr T integer_power(T x, std::int64_t n) {
    if (n < 0) return T(1) / integer_power(x, -n);
    T result = n & 1 ? x : T(1);
    for (n >>= 1; n != 0; n >>= 1) {
      x = x * x;
      if (n & 1) result = result * x;
    }
    return result;
  }
};

/// a^b for expressions a, b.  ∂/∂a = b·a^(b−1), ∂/∂b = a^b·log a.
struct pow : op_base {
  static constexpr op_id id = op_id::pow;
  static constexpr std::string_view name = "pow";
  template <class T>
  static constexpr T apply(T a, T b) {
    return pow_(a, b);
  }
};

/// eˣ.  d/dx = eˣ.
struct exp : op_base {
  static constexpr op_id id = op_id::exp;
  static constexpr std::string_view name = "exp";
  template <class T>
  static constexpr T apply(T x) {
    return exp_(x);
  }
  static constexpr std::optional<rational> fold(rational x) {
    return x == rational{} ? std::optional{rational{1, 1}} : std::nullopt;
  }
};

/// ln x.  d/dx = 1/x.
struct log : op_base {
  static constexpr op_id id = op_id::log;
  static constexpr std::string_view name = "log";
  template <class T>
  static constexpr T apply(T x) {
    return log_(x);
  }
  static constexpr std::optional<rational> fold(rational x) {
    return x == rational{1, 1} ? std::optional{rational{}} : std::nullopt;
  }
};

/// ln(1 + x), accurate near 0.  d/dx = 1/(1 + x).
struct log1p : op_base {
  static constexpr op_id id = op_id::log1p;
  static constexpr std::string_view name = "log1p";
  template <class T>
  static constexpr T apply(T x) {
    return log1p_(x);
  }
  static constexpr std::optional<rational> fold(rational x) {
    return x == rational{} ? std::optional{rational{}} : std::nullopt;
  }
};

/// eˣ − 1, accurate near 0.  d/dx = eˣ.
struct expm1 : op_base {
  static constexpr op_id id = op_id::expm1;
  static constexpr std::string_view name = "expm1";
  template <class T>
  static constexpr T apply(T x) {
    return expm1_(x);
  }
  static constexpr std::optional<rational> fold(rational x) {
    return x == rational{} ? std::optional{rational{}} : std::nullopt;
  }
};

/// sin x.  d/dx = cos x.
struct sin : op_base {
  static constexpr op_id id = op_id::sin;
  static constexpr std::string_view name = "sin";
  template <class T>
  static constexpr T apply(T x) {
    return sin_(x);
  }
  static constexpr std::optional<rational> fold(rational x) {
    return x == rational{} ? std::optional{rational{}} : std::nullopt;
  }
};

/// cos x.  d/dx = −sin x.
struct cos : op_base {
  static constexpr op_id id = op_id::cos;
  static constexpr std::string_view name = "cos";
  template <class T>
  static constexpr T apply(T x) {
    return cos_(x);
  }
  static constexpr std::optional<rational> fold(rational x) {
    return x == rational{} ? std::optional{rational{1, 1}} : std::nullopt;
  }
};

/// tan x.  d/dx = 1 + tan² x.
struct tan : op_base {
  static constexpr op_id id = op_id::tan;
  static constexpr std::string_view name = "tan";
  template <class T>
  static constexpr T apply(T x) {
    return tan_(x);
  }
  static constexpr std::optional<rational> fold(rational x) {
    return x == rational{} ? std::optional{rational{}} : std::nullopt;
  }
};

/// tanh x.  d/dx = 1 − tanh² x.
struct tanh : op_base {
  static constexpr op_id id = op_id::tanh;
  static constexpr std::string_view name = "tanh";
  template <class T>
  static constexpr T apply(T x) {
    return tanh_(x);
  }
  static constexpr std::optional<rational> fold(rational x) {
    return x == rational{} ? std::optional{rational{}} : std::nullopt;
  }
};

/// σ(x) = 1/(1 + e⁻ˣ), computed without overflow.  d/dx = σ(x)·(1 − σ(x)).
struct sigmoid : op_base {
  static constexpr op_id id = op_id::sigmoid;
  static constexpr std::string_view name = "sigmoid";
  template <class T>
  static constexpr T apply(T x) {
    const T e = exp_(-abs_(x));
    return select_(x >= T(0), T(1) / (T(1) + e), e / (T(1) + e));
  }
  static constexpr std::optional<rational> fold(rational x) {
    return x == rational{} ? std::optional{rational{1, 2}} : std::nullopt;
  }
};

/// softplus(x) = ln(1 + eˣ), computed as max(x, 0) + log1p(e^−|x|).  d/dx = σ(x).
struct softplus : op_base {
  static constexpr op_id id = op_id::softplus;
  static constexpr std::string_view name = "softplus";
  template <class T>
  static constexpr T apply(T x) {
    return max_(x, T(0)) + log1p_(exp_(-abs_(x)));  // NaN in, NaN out
  }
};

/// relu(x) = max(x, 0).  d/dx = 1 for x > 0, else 0 (relu'(0) = 0, as in PyTorch).
struct relu : op_base {
  static constexpr op_id id = op_id::relu;
  static constexpr std::string_view name = "relu";
  template <class T>
  static constexpr T apply(T x) {
    return select_(x <= T(0), T(0), x);  // relu(NaN) = NaN
  }
  static constexpr std::optional<rational> fold(rational x) { return x > rational{} ? x : rational{}; }
};

/// |x|.  d/dx = sign(x) (abs'(0) = 0, as in PyTorch).
struct abs : op_base {
  static constexpr op_id id = op_id::abs;
  static constexpr std::string_view name = "abs";
  template <class T>
  static constexpr T apply(T x) {
    return abs_(x);
  }
  static constexpr std::optional<rational> fold(rational x) { return x < rational{} ? -x : x; }
};

/// sign(x) ∈ {−1, 0, 1}.  Not differentiable: its gradient is zero.
struct sign : op_base {
  static constexpr op_id id = op_id::sign;
  static constexpr std::string_view name = "sign";
  static constexpr bool differentiable = false;
  template <class T>
  static constexpr T apply(T x) {
    return select_(x > T(0), T(1), select_(x < T(0), T(-1), T(0)));
  }
  static constexpr std::optional<rational> fold(rational x) { return rational{(x > rational{}) - (x < rational{}), 1}; }
};

/// min(a, b).  ∂/∂a = 1 where a < b, ½ where a = b, else 0 (PyTorch's torch.minimum).
struct min : op_base {
  static constexpr op_id id = op_id::min;
  static constexpr std::string_view name = "min";
  template <class T>
  static constexpr T apply(T a, T b) {
    return min_(a, b);
  }
  static constexpr std::optional<rational> fold(rational a, rational b) { return b < a ? b : a; }
};

/// max(a, b).  ∂/∂a = 1 where a > b, ½ where a = b, else 0 (PyTorch's torch.maximum).
struct max : op_base {
  static constexpr op_id id = op_id::max;
  static constexpr std::string_view name = "max";
  template <class T>
  static constexpr T apply(T a, T b) {
    return max_(a, b);
  }
  static constexpr std::optional<rational> fold(rational a, rational b) { return a < b ? b : a; }
};

/// where(c, a, b): a where c ≠ 0, else b.  ∂/∂a = [c ≠ 0], ∂/∂b = [c = 0], c gets none.
struct where : op_base {
  static constexpr op_id id = op_id::where;
  static constexpr std::string_view name = "where";
  template <class T>
  static constexpr T apply(T c, T a, T b) {
    return select_(c != T(0), a, b);
  }
};

/// Base of the comparisons: 1 where the relation holds, else 0; not differentiable.
template <op_id Id, class Relation>
struct comparison : op_base {
  static constexpr op_id id = Id;
  static constexpr bool differentiable = false;
  template <class T>
  static constexpr T apply(T a, T b) {
    return select_(Relation{}(a, b), T(1), T(0));
  }
  static constexpr std::optional<rational> fold(rational a, rational b) {
    return rational{Relation{}(a, b) ? 1 : 0, 1};
  }
};
struct less_fn {
  constexpr auto operator()(const auto& a, const auto& b) const { return a < b; }
};
struct less_equal_fn {
  constexpr auto operator()(const auto& a, const auto& b) const { return a <= b; }
};
struct greater_fn {
  constexpr auto operator()(const auto& a, const auto& b) const { return a > b; }
};
struct greater_equal_fn {
  constexpr auto operator()(const auto& a, const auto& b) const { return a >= b; }
};
struct equal_fn {
  constexpr auto operator()(const auto& a, const auto& b) const { return a == b; }
};
struct not_equal_fn {
  constexpr auto operator()(const auto& a, const auto& b) const { return a != b; }
};

struct lt : comparison<op_id::lt, less_fn> {
  static constexpr std::string_view name = "<";
};
struct le : comparison<op_id::le, less_equal_fn> {
  static constexpr std::string_view name = "<=";
};
struct gt : comparison<op_id::gt, greater_fn> {
  static constexpr std::string_view name = ">";
};
struct ge : comparison<op_id::ge, greater_equal_fn> {
  static constexpr std::string_view name = ">=";
};
struct eq : comparison<op_id::eq, equal_fn> {
  static constexpr std::string_view name = "==";
};
struct ne : comparison<op_id::ne, not_equal_fn> {
  static constexpr std::string_view name = "!=";
};

/// detach(x) = x with zero derivative, like PyTorch's x.detach() or torch.no_grad().
struct detach : passes_value {
  static constexpr op_id id = op_id::detach;
  static constexpr std::string_view name = "detach";
  static constexpr bool differentiable = false;
  static constexpr std::optional<rational> fold(rational x) { return x; }
};

/// The axes a reduction folds: a bit mask over the argument's axes, `all_axes` for every axis.
inline constexpr std::uint32_t all_axes = 0xFFFFFFFFU;

/// Base of the reductions over axes: with Keep (keepdims) the folded axes stay as units,
/// otherwise they are removed. Over every axis without Keep the result is a scalar.
template <std::uint32_t Axes, bool Keep>
struct reduction_base : passes_value {
  static constexpr std::uint32_t axes = Axes;
  static constexpr bool keepdims = Keep;
  template <class A>
  static constexpr std::uint32_t mask() {
    return A::rank >= 32 ? Axes : Axes & ((1U << A::rank) - 1U);
  }
  template <class A>
  static constexpr int result_rank() {
    return Keep ? A::rank : A::rank - std::popcount(mask<A>());
  }
  template <class A>
  static constexpr std::uint32_t result_units() {
    if constexpr (Keep) {
      return A::units | mask<A>();
    } else {
      std::uint32_t units = 0;
      for (int p = 0, q = 0; p < A::rank; ++p) {
        if (((mask<A>() >> p) & 1U) != 0) continue;
        if (((A::units >> p) & 1U) != 0) units |= 1U << q;
        ++q;
      }
      return units;
    }
  }
};

/// sum(x) = Σ xᵢ over the given axes (every axis by default).  ∂/∂xᵢ = 1: the adjoint g
/// broadcasts back over the folded axes. Executors accumulate it inside the loop that computes x.
/// `combine` folds two partial results (elementwise on SIMD batches too), starting from `identity`.
template <std::uint32_t Axes = all_axes, bool Keep = false>
struct sum_over : reduction_base<Axes, Keep> {
  static constexpr op_id id = op_id::sum;
  static constexpr std::string_view name = "sum";
  static constexpr double identity = 0.0;
  template <class T>
  static constexpr T combine(T a, T b) {
    return a + b;
  }
};
using sum = sum_over<>;

/// The extreme element over the given axes (NaN if any element is): max folds with max from −∞,
/// min with min from +∞.  ∂/∂xᵢ = [xᵢ = extreme]/#ties: tied elements share the gradient equally,
/// as torch.amax and torch.amin do.
template <bool Largest, std::uint32_t Axes = all_axes, bool Keep = false>
struct extremum : reduction_base<Axes, Keep> {
  static constexpr op_id id = Largest ? op_id::amax : op_id::amin;
  static constexpr std::string_view name = Largest ? "max" : "min";
  static constexpr double identity = (Largest ? -1 : 1) * std::numeric_limits<double>::infinity();
  template <class T>
  static constexpr T combine(T a, T b) {
    if constexpr (Largest)
      return max_(a, b);
    else
      return min_(a, b);
  }
};
using amax = extremum<true>;
using amin = extremum<false>;

/// numel(x): the number of elements of x, known once its leaves are bound (x's values are never
/// read). It carries no gradient; mean(x) is sum(x)/numel(x).
struct numel : op_base {
  static constexpr op_id id = op_id::numel;
  static constexpr std::string_view name = "numel";
  static constexpr bool differentiable = false;
  template <class A>
  static constexpr int result_rank() {
    return 0;
  }
  template <class A>
  static constexpr std::uint32_t result_units() {
    return 0;
  }
  template <class T>
  static constexpr T apply(T) {
    return T(1);
  }
};

/// expand(g, like): g broadcast to the shape of `like`, whose values are not read.  ∂/∂g = 1
/// (summed back to g's shape); `like` gets no gradient. The gradient of a tensor var whose adjoint
/// is a scalar, as in ∂ sum(W)/∂W, is expand(1, W).
struct expand : op_base {
  static constexpr op_id id = op_id::expand;
  static constexpr std::string_view name = "expand";
  template <class G, class Like>
  static constexpr int result_rank() {
    return Like::rank;
  }
  template <class G, class Like>
  static constexpr std::uint32_t result_units() {
    return Like::units;
  }
  template <class T>
  static constexpr T apply(T g, T) {
    return g;
  }
};

/// unsqueeze<P>(x): x with a new axis of extent 1 at position P (NumPy's x[:, None] for P = 1).
/// ∂/∂x: the adjoint with that axis removed.
template <int P>
struct unsqueeze : passes_value {
  static constexpr op_id id = op_id::unsqueeze;
  static constexpr std::string_view name = "unsqueeze";
  static constexpr rational parameter{P, 1};
  template <class A>
  static constexpr int result_rank() {
    return A::rank + 1;
  }
  template <class A>
  static constexpr std::uint32_t result_units() {
    const std::uint32_t low = A::units & ((1U << P) - 1U);
    return low | (1U << P) | ((A::units >> P) << (P + 1));
  }
};

/// transpose(x): x with its last two axes swapped (x.mT in PyTorch).  ∂/∂x = transpose(g).
struct transpose : passes_value {
  static constexpr op_id id = op_id::transpose;
  static constexpr std::string_view name = "transpose";
  template <class A>
  static constexpr int result_rank() {
    return A::rank;
  }
  template <class A>
  static constexpr std::uint32_t result_units() {
    constexpr int r = A::rank;
    const std::uint32_t a = (A::units >> (r - 1)) & 1U, b = (A::units >> (r - 2)) & 1U;
    return (A::units & ~(3U << (r - 2))) | (a << (r - 2)) | (b << (r - 1));
  }
};

/// flatten(x): x's elements in row-major order as one axis of numel(x) elements.  ∂/∂x: the
/// adjoint reshaped back to x's shape.
struct flatten : passes_value {
  static constexpr op_id id = op_id::flatten;
  static constexpr std::string_view name = "flatten";
  template <class A>
  static constexpr int result_rank() {
    return 1;
  }
  template <class A>
  static constexpr std::uint32_t result_units() {
    return 0;
  }
};

/// reshape(x, like): x's elements in row-major order, laid out in the shape of `like` (whose values
/// are not read); the element counts must agree.  ∂/∂x: the adjoint reshaped back to x's shape.
struct reshape : op_base {
  static constexpr op_id id = op_id::reshape;
  static constexpr std::string_view name = "reshape";
  template <class A, class Like>
  static constexpr int result_rank() {
    return Like::rank;
  }
  template <class A, class Like>
  static constexpr std::uint32_t result_units() {
    return Like::units;
  }
  template <class T>
  static constexpr T apply(T x, T) {
    return x;
  }
};

}  // namespace kobai::ops
