// The primitive operators: what each computes, element by element, and its derivative.
// The derivative rules themselves live in one table, diff/rules.hpp.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "kobai/expr/math.hpp"
#include "kobai/expr/node.hpp"

namespace kobai::ops {

// An op descriptor is everything every layer knows of one op, in one place:
// - `id` fixes the canonical order of operands, `name` prints it;
// - `arity`, `kind` (op_kind), `reads`, and the axis map `axes<Args...>()`: the result's shape and
//   which argument axis each of its axes is (node.hpp; broadcasting by default), read by the type
//   of the node and by the planner's lowering;
// - `costly` (worth a buffer) and `exact` (same bits from libm and xsimd), read by the planner and
//   the CPU executor;
// - `apply`: its scalar math, generic over the element type (double, float, a SIMD batch, constant
//   evaluation), from the shared functions of expr/math.hpp; `fold`: its exact value on rational
//   constants where there is one (exp(0) = 1); otherwise the node stays symbolic;
// - `device`: its CUDA spelling, a pattern over the operands {0} {1} {2}, the element type {T}, and
//   a power's exponent ({n} integer, {r} real), using the same shared functions.
// Its derivative is its row in diff/rules.hpp.
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
  erf,
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
  prod,
  amax,
  amin,
  numel,
  expand,
  unsqueeze,
  transpose,
  flatten,
  reshape,
  arange,
  reshape_to,
  index_eq,
  take,
  put_add,
  slice,
  unslice,
  place,
  cut,
  reread
};

/// Base of the elementwise ops of one argument.
struct unary : op_base {
  static constexpr int arity = 1;
};
/// Base of the elementwise ops of two arguments.
struct binary : op_base {
  static constexpr int arity = 2;
};
/// Base of the transcendental functions of one argument: costly, and rounded by each library its way.
struct transcendental : unary {
  static constexpr bool costly = true;
  static constexpr bool exact = false;
};

/// Base of the ops whose value at an element is their argument's there: they move, fold or
/// relabel elements (reductions, unsqueeze, transpose, flatten) or only stop the gradient (detach).
struct passes_value : unary {
  static constexpr std::string_view device = "{0}";
  template <class T>
  static constexpr T apply(T x) {
    return x;
  }
};

/// a + b.  ∂/∂a = 1, ∂/∂b = 1.
struct add : binary {
  static constexpr op_id id = op_id::add;
  static constexpr std::string_view name = "add";
  static constexpr std::string_view device = "{0} + {1}";
  template <class T>
  static constexpr T apply(T a, T b) {
    return a + b;
  }
};

/// a · b.  ∂/∂a = b, ∂/∂b = a.
struct mul : binary {
  static constexpr op_id id = op_id::mul;
  static constexpr std::string_view name = "mul";
  static constexpr std::string_view device = "{0} * {1}";
  template <class T>
  static constexpr T apply(T a, T b) {
    return a * b;
  }
};

/// x^R for an exact rational R (x⁻¹ is 1/x, x^½ is √x).  d/dx = R·x^(R−1). Integer and half
/// powers multiply (and take √), exactly alike everywhere; others call pow.
template <rational R>
struct power : unary {
  static constexpr op_id id = op_id::power;
  static constexpr std::string_view name = "pow";
  static constexpr rational parameter = R;
  static constexpr bool exact = R.den == 1 || R.den == 2;
  static constexpr std::string_view device = R.den == 2       ? "ipow_(sqrt_({0}), {n})"
                                             : R.is_integer() ? "ipow_({0}, {n})"
                                                              : "pow_({0}, {T}({r}))";
  template <class T>
  static constexpr T apply(T x) {
    if constexpr (R.den == 2) {
      return ipow_(sqrt_(x), R.num);
    } else if constexpr (R.is_integer()) {
      return ipow_(x, R.num);
    } else {
      return pow_(x, T(R.value()));
    }
  }
};

/// a^b for expressions a, b.  ∂/∂a = b·a^(b−1), ∂/∂b = a^b·log a.
struct pow : binary {
  static constexpr op_id id = op_id::pow;
  static constexpr std::string_view name = "pow";
  static constexpr bool costly = true;
  static constexpr bool exact = false;
  static constexpr std::string_view device = "pow_({0}, {1})";
  template <class T>
  static constexpr T apply(T a, T b) {
    return pow_(a, b);
  }
};

/// A transcendental function of one argument: its name, its math (the function of expr/math.hpp
/// of the same name) and the rational point `at` where its value is the rational `value`.
#define KOBAI_TRANSCENDENTAL(op, at, value)                     \
  struct op : transcendental {                                  \
    static constexpr op_id id = op_id::op;                      \
    static constexpr std::string_view name = #op;               \
    static constexpr std::string_view device = #op "_({0})";    \
    template <class T>                                          \
    static constexpr T apply(T x) {                             \
      return op##_(x);                                          \
    }                                                           \
    static constexpr std::optional<rational> fold(rational a) { \
      return a == at ? std::optional{value} : std::nullopt;     \
    }                                                           \
  };

/// eˣ.  d/dx = eˣ.
KOBAI_TRANSCENDENTAL(exp, (rational{}), (rational{1, 1}))
/// ln x.  d/dx = 1/x.
KOBAI_TRANSCENDENTAL(log, (rational{1, 1}), (rational{}))
/// ln(1 + x), accurate near 0.  d/dx = 1/(1 + x).
KOBAI_TRANSCENDENTAL(log1p, (rational{}), (rational{}))
/// eˣ − 1, accurate near 0.  d/dx = eˣ.
KOBAI_TRANSCENDENTAL(expm1, (rational{}), (rational{}))
/// sin x.  d/dx = cos x.
KOBAI_TRANSCENDENTAL(sin, (rational{}), (rational{}))
/// cos x.  d/dx = −sin x.
KOBAI_TRANSCENDENTAL(cos, (rational{}), (rational{1, 1}))
/// tan x.  d/dx = 1 + tan² x.
KOBAI_TRANSCENDENTAL(tan, (rational{}), (rational{}))
/// tanh x.  d/dx = 1 − tanh² x.
KOBAI_TRANSCENDENTAL(tanh, (rational{}), (rational{}))
/// erf x = 2/√π ∫₀ˣ e^(−t²) dt, the Gauss error function.  d/dx = 2/√π · e^(−x²).
KOBAI_TRANSCENDENTAL(erf, (rational{}), (rational{}))
/// σ(x) = 1/(1 + e⁻ˣ), computed without overflow.  d/dx = σ(x)·(1 − σ(x)).
KOBAI_TRANSCENDENTAL(sigmoid, (rational{}), (rational{1, 2}))
#undef KOBAI_TRANSCENDENTAL

/// softplus(x) = ln(1 + eˣ), computed as max(x, 0) + log1p(e^−|x|).  d/dx = σ(x).
struct softplus : transcendental {
  static constexpr op_id id = op_id::softplus;
  static constexpr std::string_view name = "softplus";
  static constexpr std::string_view device = "softplus_({0})";
  template <class T>
  static constexpr T apply(T x) {
    return softplus_(x);
  }
};

/// relu(x) = max(x, 0).  d/dx = 1 for x > 0, else 0 (relu'(0) = 0, as in PyTorch).
struct relu : unary {
  static constexpr op_id id = op_id::relu;
  static constexpr std::string_view name = "relu";
  static constexpr std::string_view device = "relu_({0})";
  template <class T>
  static constexpr T apply(T x) {
    return relu_(x);
  }
  static constexpr std::optional<rational> fold(rational x) { return x > rational{} ? x : rational{}; }
};

/// |x|.  d/dx = sign(x) (abs'(0) = 0, as in PyTorch).
struct abs : unary {
  static constexpr op_id id = op_id::abs;
  static constexpr std::string_view name = "abs";
  static constexpr std::string_view device = "abs_({0})";
  template <class T>
  static constexpr T apply(T x) {
    return abs_(x);
  }
  static constexpr std::optional<rational> fold(rational x) { return x < rational{} ? -x : x; }
};

/// sign(x) ∈ {−1, 0, 1}.  Not differentiable: its gradient is zero.
struct sign : unary {
  static constexpr op_id id = op_id::sign;
  static constexpr std::string_view name = "sign";
  static constexpr bool differentiable = false;
  static constexpr std::string_view device = "sign_({0})";
  template <class T>
  static constexpr T apply(T x) {
    return sign_(x);
  }
  static constexpr std::optional<rational> fold(rational x) { return rational{(x > rational{}) - (x < rational{}), 1}; }
};

/// min(a, b).  ∂/∂a = 1 where a < b, ½ where a = b, else 0 (PyTorch's torch.minimum).
struct min : binary {
  static constexpr op_id id = op_id::min;
  static constexpr std::string_view name = "min";
  static constexpr std::string_view device = "min_({0}, {1})";
  template <class T>
  static constexpr T apply(T a, T b) {
    return min_(a, b);
  }
  static constexpr std::optional<rational> fold(rational a, rational b) { return b < a ? b : a; }
};

/// max(a, b).  ∂/∂a = 1 where a > b, ½ where a = b, else 0 (PyTorch's torch.maximum).
struct max : binary {
  static constexpr op_id id = op_id::max;
  static constexpr std::string_view name = "max";
  static constexpr std::string_view device = "max_({0}, {1})";
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
  static constexpr int arity = 3;
  static constexpr std::string_view device = "({0} != {T}(0) ? {1} : {2})";
  template <class T>
  static constexpr T apply(T c, T a, T b) {
    return select_(c != T(0), a, b);
  }
};

/// Base of the comparisons: 1 where the relation holds, else 0; not differentiable. `Name` is the
/// C++ operator, as printed and as spelled in CUDA.
template <op_id Id, class Relation, fixed_string Name, fixed_string Device>
struct comparison : binary {
  static constexpr op_id id = Id;
  static constexpr std::string_view name = Name.view();
  static constexpr std::string_view device = Device.view();
  static constexpr bool differentiable = false;
  template <class T>
  static constexpr T apply(T a, T b) {
    return select_(Relation{}(a, b), T(1), T(0));
  }
  static constexpr std::optional<rational> fold(rational a, rational b) {
    return rational{Relation{}(a, b) ? 1 : 0, 1};
  }
};
#define KOBAI_COMPARISON(op, relation)                                                     \
  struct op##_fn {                                                                         \
    constexpr auto operator()(const auto& a, const auto& b) const { return a relation b; } \
  };                                                                                       \
  struct op : comparison<op_id::op, op##_fn, #relation, "({0} " #relation " {1} ? {T}(1) : {T}(0))"> {};
KOBAI_COMPARISON(lt, <)
KOBAI_COMPARISON(le, <=)
KOBAI_COMPARISON(gt, >)
KOBAI_COMPARISON(ge, >=)
KOBAI_COMPARISON(eq, ==)
KOBAI_COMPARISON(ne, !=)
/// index_eq(y, i): y = i, where i is an arange and y holds indices into its axis (one_hot's
/// comparison). An integer leaf compared this way is checked to hold such indices at each call.
struct index_eq : comparison<op_id::index_eq, eq_fn, "==", "({0} == {1} ? {T}(1) : {T}(0))"> {};
#undef KOBAI_COMPARISON

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
  static constexpr op_kind kind = op_kind::reduction;
  static constexpr bool broadcasts = false;
  static constexpr std::uint32_t axes_folded = Axes;
  static constexpr bool keepdims = Keep;
  template <class A>
  static constexpr axis_map axes() {
    const std::uint32_t mask = A::rank >= 32 ? Axes : Axes & ((1U << A::rank) - 1U);
    axis_map map(Keep ? A::rank : A::rank - std::popcount(mask));
    map.folded = mask;
    for (int q = 0, p = 0; q < A::rank; ++q) {
      const bool fold = ((mask >> q) & 1U) != 0;
      if (!fold) map.from[0][p] = q;
      if (!fold || Keep) ++p;
    }
    return map;
  }
};

/// sum(x) = Σ xᵢ over the given axes (every axis by default).  ∂/∂xᵢ = 1: the adjoint g
/// broadcasts back over the folded axes. Executors accumulate it inside the loop that computes x.
/// `combine` folds two partial results (elementwise on SIMD batches too), starting from `identity`;
/// `device_fold` is the CUDA functor that does.
template <std::uint32_t Axes = all_axes, bool Keep = false>
struct sum_over : reduction_base<Axes, Keep> {
  static constexpr op_id id = op_id::sum;
  static constexpr std::string_view name = "sum";
  static constexpr double identity = 0.0;
  static constexpr std::string_view device_fold = "kobai_sum";
  template <class T>
  static constexpr T combine(T a, T b) {
    return a + b;
  }
};
using sum = sum_over<>;

/// prod(x) = Π xᵢ over the given axes (every axis by default), folded with × from 1 (torch.prod).
/// ∂/∂xᵢ = Π_{j≠i} xⱼ, which is prod(x)/xᵢ away from zeros; with one zero, the product of the
/// others at it and 0 elsewhere; with two or more, 0 everywhere (diff/rules.hpp).
template <std::uint32_t Axes = all_axes, bool Keep = false>
struct product_over : reduction_base<Axes, Keep> {
  static constexpr op_id id = op_id::prod;
  static constexpr std::string_view name = "prod";
  static constexpr double identity = 1.0;
  static constexpr std::string_view device_fold = "kobai_fold_prod";
  template <class T>
  static constexpr T combine(T a, T b) {
    return a * b;
  }
};

/// The extreme element over the given axes (NaN if any element is): max folds with max from −∞,
/// min with min from +∞.  ∂/∂xᵢ = [xᵢ = extreme]/#ties: tied elements share the gradient equally,
/// as torch.amax and torch.amin do.
template <bool Largest, std::uint32_t Axes = all_axes, bool Keep = false>
struct extremum : reduction_base<Axes, Keep> {
  static constexpr op_id id = Largest ? op_id::amax : op_id::amin;
  static constexpr std::string_view name = Largest ? "max" : "min";
  static constexpr double identity = (Largest ? -1 : 1) * std::numeric_limits<double>::infinity();
  static constexpr std::string_view device_fold = Largest ? "kobai_fold_max" : "kobai_fold_min";
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
struct numel : unary {
  static constexpr op_id id = op_id::numel;
  static constexpr std::string_view name = "numel";
  static constexpr bool broadcasts = false;
  static constexpr op_kind kind = op_kind::count;
  static constexpr bool differentiable = false;
  static constexpr std::array<bool, 3> reads{};
  template <class A>
  static constexpr axis_map axes() {
    return axis_map(0);
  }
  template <class T>
  static constexpr T apply(T) {
    return T(1);
  }
};

/// reshape_to<E...>(x): x's elements in row-major order, in a shape given by numbers, one of them
/// −1 for the count the others leave (torch's x.reshape(-1, 3)); the counts are checked when the
/// program is called.  ∂/∂x: the adjoint reshaped back to x's shape.
template <std::int64_t... Extents>
struct reshape_to : passes_value {
  static constexpr op_id id = op_id::reshape_to;
  static constexpr std::string_view name = "reshape";
  static constexpr bool broadcasts = false;
  static constexpr op_kind kind = op_kind::layout;
  static constexpr std::array<std::int64_t, sizeof...(Extents)> extents{Extents...};
  template <class A>
  static constexpr axis_map axes() {
    axis_map map(static_cast<int>(sizeof...(Extents)));
    for (int p = 0; p < map.rank; ++p)
      if (extents[static_cast<std::size_t>(p)] != 1) map.fresh |= 1U << p;  // an extent of 1 is a unit axis
    return map;
  }
};

/// reread<Copy>(x): x's stored value, read from memory on axes of its own. Never written by users:
/// the planner reads a sum again this way under each further index map (ir/uses.hpp), rather than
/// summing it again in another loop nest and order. `Copy` (1, 2, …) keeps each reading a node of
/// its own.
template <int Copy>
struct reread : passes_value {
  static constexpr op_id id = op_id::reread;
  static constexpr std::string_view name = "reread";
  static constexpr rational parameter{Copy, 1};
  static constexpr bool broadcasts = false;
  static constexpr op_kind kind = op_kind::layout;
  template <class A>
  static constexpr axis_map axes() {
    axis_map map(A::rank);
    map.fresh = static_cast<std::uint32_t>(~std::uint64_t{A::units} & ((std::uint64_t{1} << A::rank) - 1));
    return map;
  }
};

/// arange<P>(like): 0, 1, …, n − 1, where n is like's extent on axis P (like's values are never
/// read); a vector, torch.arange(n). It carries no gradient. The planner reads it as a tensor leaf
/// whose memory holds 0, 1, 2, … (ir/lowering.hpp), bound by each backend.
template <int P>
struct arange : unary {
  static constexpr op_id id = op_id::arange;
  static constexpr std::string_view name = "arange";
  static constexpr bool broadcasts = false;
  static constexpr op_kind kind = op_kind::index;
  static constexpr bool differentiable = false;
  static constexpr std::array<bool, 3> reads{};
  static constexpr rational parameter{P, 1};
  template <class A>
  static constexpr axis_map axes() {
    static_assert(P >= 0 && P < A::rank, "kobai internal error: arange<P>(like) with P not an axis of like");
    axis_map map(1);
    map.from[0][0] = P;
    return map;
  }
  template <class T>
  static constexpr T apply(T) {
    return T(0);  // (never evaluated: the backends read the index)
  }
};

/// take<A>(table, idx): the table's slices along axis A at the positions idx holds, in idx's shape
/// (torch.index_select for a vector idx, an embedding lookup): for table (V, D) and idx (N), the
/// (N, D) tensor of rows table[idx[n]]. idx is an integer leaf; its indices are checked once per
/// call. Executors compute it between loops from the table's memory.  ∂/∂table = put_add<A>(g, idx,
/// table): the adjoint's slices added back at their positions; idx carries no gradient.
template <int A>
struct take : binary {
  static constexpr op_id id = op_id::take;
  static constexpr std::string_view name = "take";
  static constexpr bool broadcasts = false;
  static constexpr op_kind kind = op_kind::indirect;
  static constexpr std::string_view device = "{0}";  // (never rendered: the CUDA backend refuses take)
  static constexpr std::array<bool, 3> reads{true, true, false};
  static constexpr rational parameter{A, 1};
  static constexpr bool scatters = false;
  template <class Table, class Index>
  static constexpr axis_map axes() {
    static_assert(A >= 0 && A < Table::rank, "kobai internal error: take<A> with A not an axis of the table");
    axis_map map(Table::rank - 1 + Index::rank);
    for (int p = 0; p < map.rank; ++p) {
      if (p < A)
        map.from[0][p] = p;
      else if (p < A + Index::rank)
        map.from[1][p] = p - A;
      else
        map.from[0][p] = p - Index::rank + 1;
    }
    return map;
  }
  template <class T>
  static constexpr T apply(T table, T) {
    return table;  // (never evaluated: the executors gather)
  }
};

/// put_add<A>(g, idx, like): zeros of like's shape, with g's slices along axes A … A + rank(idx) − 1
/// added at the positions idx holds along like's axis A, in order (torch's index_add into zeros):
/// the gradient of take, deterministic. like's values are not read.  ∂/∂g = take<A>(g', idx).
template <int A>
struct put_add : op_base {
  static constexpr int arity = 3;
  static constexpr op_id id = op_id::put_add;
  static constexpr std::string_view name = "put_add";
  static constexpr bool broadcasts = false;
  static constexpr op_kind kind = op_kind::indirect;
  static constexpr std::string_view device = "{0}";  // (never rendered: the CUDA backend refuses take)
  static constexpr std::array<bool, 3> reads{true, true, false};
  static constexpr rational parameter{A, 1};
  static constexpr bool scatters = true;
  template <class G, class Index, class Like>
  static constexpr axis_map axes() {
    static_assert(G::rank == Like::rank - 1 + Index::rank,
                  "kobai internal error: put_add<A>(g, idx, like) of ranks that do not fit");
    axis_map map(Like::rank);
    for (int p = 0; p < map.rank; ++p) {
      map.from[2][p] = p;
      if (p != A) map.from[0][p] = p < A ? p : p - 1 + Index::rank;
    }
    return map;
  }
  template <class T>
  static constexpr T apply(T g, T, T) {
    return g;  // (never evaluated: the executors scatter)
  }
};

/// slice<A, First, Count, Keep>(x): x's slices First, First + 1, …, First + Count − 1 along axis A:
/// torch.narrow(x, A, First, Count) with Keep (the axis stays, of extent Count), torch.select(x, A,
/// First) without (Count = 1, the axis removed). Past the end of the axis is a shape_error, checked
/// when the program is called. Computed between loops, as take is.  ∂/∂x = unslice(g, x).
template <int A, std::int64_t First, std::int64_t Count, bool Keep>
struct slice : unary {
  static constexpr op_id id = op_id::slice;
  static constexpr std::string_view name = Keep ? "narrow" : "select";
  static constexpr bool broadcasts = false;
  static constexpr op_kind kind = op_kind::indirect;
  static constexpr std::string_view device = "{0}";  // (never rendered: the CUDA backend refuses slices)
  static constexpr rational parameter{A, 1};
  static constexpr std::int64_t first = First, count = Count;
  static constexpr bool keep = Keep, scatters = false;
  template <class X>
  static constexpr axis_map axes() {
    static_assert(A >= 0 && A < X::rank && First >= 0 && Count >= 1 && (Keep || Count == 1),
                  "kobai internal error: a slice outside its tensor's axes");
    axis_map map(Keep ? X::rank : X::rank - 1);
    for (int p = 0; p < map.rank; ++p) {
      if (Keep && p == A) {
        if (Count != 1) map.fresh |= 1U << p;  // an axis of Count elements (one of 1 is a unit)
      } else {
        map.from[0][p] = Keep || p < A ? p : p + 1;
      }
    }
    return map;
  }
  template <class T>
  static constexpr T apply(T x) {
    return x;  // (never evaluated: the executors copy the slices)
  }
};

/// unslice<A, First, Count, Keep>(g, like): zeros of like's shape with g's slices at First, …,
/// First + Count − 1 along axis A (g lacks the axis when !Keep): slice's gradient. like's values
/// are not read.  ∂/∂g = slice(g').
template <int A, std::int64_t First, std::int64_t Count, bool Keep>
struct unslice : binary {
  static constexpr op_id id = op_id::unslice;
  static constexpr std::string_view name = "unslice";
  static constexpr bool broadcasts = false;
  static constexpr op_kind kind = op_kind::indirect;
  static constexpr std::string_view device = "{0}";
  static constexpr std::array<bool, 3> reads{true, false, false};
  static constexpr rational parameter{A, 1};
  static constexpr std::int64_t first = First, count = Count;
  static constexpr bool keep = Keep, scatters = true;
  template <class G, class Like>
  static constexpr axis_map axes() {
    axis_map map(Like::rank);
    for (int p = 0; p < map.rank; ++p) {
      map.from[1][p] = p;
      if (p != A) map.from[0][p] = Keep || p < A ? p : p - 1;
    }
    return map;
  }
  template <class T>
  static constexpr T apply(T g, T) {
    return g;  // (never evaluated: the executors scatter)
  }
};

/// place<A, Second>(g, other): zeros with g's shape but for axis A, which holds g's slices and
/// other's (g's first, or other's when Second): the half of concat<A>(g, other) (Second: of
/// concat<A>(other, g)) that g fills; concat is the sum of the two halves. other's values are not
/// read.  ∂/∂g = cut<A, Second>(g', g, other).
template <int A, bool Second>
struct place : binary {
  static constexpr op_id id = op_id::place;
  static constexpr std::string_view name = Second ? "place_second" : "place_first";
  static constexpr bool broadcasts = false;
  static constexpr op_kind kind = op_kind::indirect;
  static constexpr std::string_view device = "{0}";  // (never rendered: the CUDA backend refuses it)
  static constexpr std::array<bool, 3> reads{true, false, false};
  static constexpr rational parameter{A, 1};
  static constexpr bool scatters = true, second = Second;
  template <class G, class Other>
  static constexpr axis_map axes() {
    static_assert(G::rank == Other::rank && A >= 0 && A < G::rank,
                  "kobai internal error: place<A>(g, other) of tensors of different ranks");
    axis_map map(G::rank);
    for (int p = 0; p < map.rank; ++p)
      if (p == A)
        map.fresh |= 1U << p;  // g's extent and other's together
      else
        map.from[0][p] = p;
    return map;
  }
  template <class T>
  static constexpr T apply(T g, T) {
    return g;  // (never evaluated: the executors copy the slices)
  }
};

/// cut<A, Second>(x, like, other): x's slices along A where place<A, Second>(like, other) put like's:
/// the gradient of place, in like's shape.  ∂/∂x = place<A, Second>(g', other).
template <int A, bool Second>
struct cut : op_base {
  static constexpr int arity = 3;
  static constexpr op_id id = op_id::cut;
  static constexpr std::string_view name = Second ? "cut_second" : "cut_first";
  static constexpr bool broadcasts = false;
  static constexpr op_kind kind = op_kind::indirect;
  static constexpr std::string_view device = "{0}";
  static constexpr std::array<bool, 3> reads{true, false, false};
  static constexpr rational parameter{A, 1};
  static constexpr bool scatters = false, second = Second;
  template <class X, class Like, class Other>
  static constexpr axis_map axes() {
    axis_map map(Like::rank);
    for (int p = 0; p < map.rank; ++p) {
      map.from[1][p] = p;
      if (p != A) map.from[0][p] = p;
    }
    return map;
  }
  template <class T>
  static constexpr T apply(T x, T, T) {
    return x;  // (never evaluated: the executors copy the slices)
  }
};

/// Whether G broadcasts to Like's shape: each non-unit axis of G (aligned at the last axis) is a
/// non-unit axis of Like, and G's extra leading axes are units.
template <class G, class Like>
constexpr bool broadcasts_to() {
  for (int q = 0; q < G::rank; ++q) {
    if (((G::units >> q) & 1U) != 0) continue;
    const int p = q + (Like::rank - G::rank);
    if (p < 0 || ((Like::units >> p) & 1U) != 0) return false;
  }
  return true;
}

/// expand(g, like): g broadcast to the shape of `like`, whose values are not read.  ∂/∂g = 1
/// (summed back to g's shape); `like` gets no gradient. The gradient of a tensor var whose adjoint
/// is a scalar, as in ∂ sum(W)/∂W, is expand(1, W).
struct expand : binary {
  static constexpr op_id id = op_id::expand;
  static constexpr std::string_view name = "expand";
  static constexpr std::array<bool, 3> reads{true, false, false};
  static constexpr std::string_view device = "{0}";
  template <class G, class Like>
  static constexpr axis_map axes() {  // like's shape; g aligned at the last axis (leading units may extend it)
    static_assert(broadcasts_to<G, Like>(), "kobai internal error: expand(g, like) with g not broadcasting to like");
    axis_map map(Like::rank);
    for (int p = 0; p < map.rank; ++p) {
      if (const int q = p - (Like::rank - G::rank); q >= 0 && q < G::rank) map.from[0][p] = q;
      map.from[1][p] = p;
    }
    return map;
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
  static constexpr bool broadcasts = false;
  static constexpr rational parameter{P, 1};
  template <class A>
  static constexpr axis_map axes() {
    axis_map map(A::rank + 1);
    for (int p = 0; p < map.rank; ++p)
      if (p != P) map.from[0][p] = p < P ? p : p - 1;
    return map;
  }
};

/// transpose(x): x with its last two axes swapped (x.mT in PyTorch).  ∂/∂x = transpose(g).
struct transpose : passes_value {
  static constexpr op_id id = op_id::transpose;
  static constexpr std::string_view name = "transpose";
  static constexpr bool broadcasts = false;
  template <class A>
  static constexpr axis_map axes() {
    constexpr int r = A::rank;
    axis_map map(r);
    for (int p = 0; p < r; ++p) map.from[0][p] = p == r - 1 ? r - 2 : p == r - 2 ? r - 1 : p;
    return map;
  }
};

/// flatten(x): x's elements in row-major order as one axis of numel(x) elements.  ∂/∂x: the
/// adjoint reshaped back to x's shape.
struct flatten : passes_value {
  static constexpr op_id id = op_id::flatten;
  static constexpr std::string_view name = "flatten";
  static constexpr bool broadcasts = false;
  static constexpr op_kind kind = op_kind::layout;
  template <class A>
  static constexpr axis_map axes() {
    axis_map map(1);
    map.fresh = 1;
    return map;
  }
};

/// reshape(x, like): x's elements in row-major order, laid out in the shape of `like` (whose values
/// are not read); the element counts must agree.  ∂/∂x: the adjoint reshaped back to x's shape.
struct reshape : binary {
  static constexpr op_id id = op_id::reshape;
  static constexpr std::string_view name = "reshape";
  static constexpr bool broadcasts = false;
  static constexpr op_kind kind = op_kind::layout;
  static constexpr std::array<bool, 3> reads{true, false, false};
  static constexpr std::string_view device = "{0}";
  template <class A, class Like>
  static constexpr axis_map axes() {
    axis_map map(Like::rank);
    for (int p = 0; p < map.rank; ++p) map.from[1][p] = p;
    return map;
  }
  template <class T>
  static constexpr T apply(T x, T) {
    return x;
  }
};

/// Whether Op folds axes (sum, amax, amin).
template <class Op>
concept reduction = Op::kind == op_kind::reduction;

/// The elementwise functions of one argument that users call by name, kobai::exp(x) and so on
/// (expr/operators.hpp declares each from this list).
#define KOBAI_UNARY_FUNCTIONS(X) \
  X(exp)                         \
  X(log) X(log1p) X(expm1) X(sin) X(cos) X(tan) X(tanh) X(erf) X(sigmoid) X(softplus) X(relu) X(abs) X(sign) X(detach)

}  // namespace kobai::ops
