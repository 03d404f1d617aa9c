// Tracing templated numeric code: kobai::trace(fn, leaves...) calls fn during constant evaluation
// with arguments of one type, kobai::tracer, records what it does into a tape (arithmetic, locals,
// loops as they run, helper functions, literal numbers), and replays the tape through kobai's own
// functions, so the result is the expression type the same formula written by hand would have.
//
//   template <class T> T rosenbrock(T x, T y) { return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x); }
//   constexpr auto f = kobai::trace([](auto a, auto b) { return rosenbrock(a, b); }, var<"x">, var<"y">);
#pragma once

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

#include "kobai/expr/graph.hpp"
#include "kobai/expr/linalg.hpp"
#include "kobai/expr/losses.hpp"
#include "kobai/expr/operators.hpp"
#include "kobai/expr/reductions.hpp"

namespace kobai {

class tracer;

namespace detail::tracing {

// The functions a tape records: the arithmetic operators, the comparisons, the elementwise functions
// of ops::KOBAI_UNARY_FUNCTIONS (one definition per op), and kobai's tensor functions. Each replays
// as the kobai function of the same name.
#define KOBAI_TRACED_ID(op) op,
enum class fn : std::uint8_t {
  constant,
  leaf,
  add,
  sub,
  mul,
  div,
  neg,
  lt,
  le,
  gt,
  ge,
  eq,
  ne,
  KOBAI_UNARY_FUNCTIONS(KOBAI_TRACED_ID) sqrt,
  pow,
  min,
  max,
  where,
  transpose,
  flatten,
  numel,
  matmul,
  dot,
  reshape_as,
  mse,
  bce_with_logits,
  cross_entropy,
  unsqueeze,  // at axes[0]
  sum,        // over axes[0 .. naxes), keeping them with `keep`
  prod,
  mean,
  amax,
  amin,
  logsumexp,
  softmax,
};
#undef KOBAI_TRACED_ID

/// Why a trace failed, found while the function ran (each has its own message in trace()).
enum class failure : std::uint8_t { none, branch, conversion, inexact_number, constant_function, constant_overflow };

/// One operation on the tape: the function, its arguments' positions, and its constant parameters.
struct entry {
  fn function = fn::constant;
  int arity = 0;
  std::array<int, 3> args{-1, -1, -1};
  rational value{};  // a constant's
  int leaf = -1;     // a leaf's position among trace's leaves
  std::array<int, 8> axes{};
  int naxes = 0;
  bool keep = false;
  friend constexpr bool operator==(const entry&, const entry&) = default;
};

constexpr std::uint64_t hash(const entry& e) {
  std::uint64_t h = 1469598103934665603ULL;
  const auto mix = [&](std::int64_t v) { h = (h ^ static_cast<std::uint64_t>(v)) * 1099511628211ULL; };
  mix(static_cast<int>(e.function));
  for (int a : e.args) mix(a);
  mix(e.value.num);
  mix(e.value.den);
  mix(e.leaf);
  for (int i = 0; i < e.naxes; ++i) mix(e.axes[static_cast<std::size_t>(i)]);
  mix(e.keep);
  return h;
}

/// The recording: entries in the order they were made (arguments before their users), each
/// distinct operation once (a hash table finds repeats), and the first failure seen.
class tape {
 public:
  constexpr tape() = default;
  tape(const tape&) = delete;
  tape& operator=(const tape&) = delete;
  constexpr ~tape() {
    delete[] entries_;
    delete[] table_;
  }

  constexpr int push(const entry& e) {
    if (2 * (size_ + 1) > slots_) grow();
    std::size_t slot = hash(e) & static_cast<std::size_t>(slots_ - 1);
    while (table_[slot] >= 0) {
      if (entries_[table_[slot]] == e) return table_[slot];
      slot = (slot + 1) & static_cast<std::size_t>(slots_ - 1);
    }
    entries_[size_] = e;
    table_[slot] = size_;
    return size_++;
  }
  constexpr void fail(failure why) {
    if (error == failure::none) error = why;
  }
  [[nodiscard]] constexpr int size() const { return size_; }
  [[nodiscard]] constexpr const entry& operator[](int i) const { return entries_[i]; }

  failure error = failure::none;

 private:
  constexpr void grow() {
    const int slots = slots_ == 0 ? 64 : 2 * slots_;
    auto* entries = new entry[static_cast<std::size_t>(slots / 2)];
    for (int i = 0; i < size_; ++i) entries[i] = entries_[i];
    delete[] entries_;
    entries_ = entries;
    delete[] table_;
    table_ = new int[static_cast<std::size_t>(slots)];
    for (int i = 0; i < slots; ++i) table_[i] = -1;
    slots_ = slots;
    for (int i = 0; i < size_; ++i) {
      std::size_t slot = hash(entries_[i]) & static_cast<std::size_t>(slots_ - 1);
      while (table_[slot] >= 0) slot = (slot + 1) & static_cast<std::size_t>(slots_ - 1);
      table_[slot] = i;
    }
  }
  entry* entries_ = nullptr;
  int* table_ = nullptr;
  int size_ = 0;
  int slots_ = 0;
};

/// A double's exact value as a rational, where it fits 64 bits (a double is m·2^e; 0.1 is
/// 3602879701896397/2^55).
constexpr std::optional<rational> exact(double d) {
  if (d != d || d - d != 0) return std::nullopt;  // NaN, ±∞
  if (d == 0) return rational{};
  const auto bits = std::bit_cast<std::uint64_t>(d);
  const auto biased = static_cast<int>((bits >> 52U) & 0x7FFU);
  std::uint64_t mantissa = bits & ((std::uint64_t{1} << 52U) - 1);
  int exponent = biased - 1075;
  if (biased == 0)
    exponent = -1074;
  else
    mantissa |= std::uint64_t{1} << 52U;
  while ((mantissa & 1U) == 0) mantissa >>= 1U, ++exponent;
  const auto m = static_cast<std::int64_t>(mantissa) * ((bits >> 63U) != 0 ? -1 : 1);
  if (exponent >= 0) return exponent <= 62 ? rational::try_make(static_cast<__int128>(m) << exponent, 1) : std::nullopt;
  return -exponent <= 62 ? rational::try_make(m, __int128{1} << -exponent) : std::nullopt;
}

template <class N>
constexpr std::optional<rational> exact_number(N n) {
  if constexpr (std::is_integral_v<N>) {
    if constexpr (std::is_unsigned_v<N> && sizeof(N) >= sizeof(std::int64_t))
      if (n > static_cast<N>(INT64_MAX)) return std::nullopt;
    return rational::try_make(static_cast<__int128>(n), 1);
  } else {
    const auto d = static_cast<double>(n);
    if (static_cast<N>(d) != n) return std::nullopt;  // a long double beyond double's precision
    return exact(d);
  }
}

/// A parameter that takes a tracer by a user-defined conversion, so that a user's own function
/// template of the same name (a leaky relu of their own) wins over kobai's: the elementwise
/// functions that have no std:: namesake take their argument this way.
template <class T>
struct by_conversion {
  const T& value;
  constexpr by_conversion(const T& v) : value(v) {}  // NOLINT(google-explicit-constructor)
};
constexpr bool kobai_only(fn f) {
  return f == fn::sigmoid || f == fn::softplus || f == fn::relu || f == fn::sign || f == fn::detach;
}
template <fn F, class T>
using argument = std::conditional_t<kobai_only(F), by_conversion<T>, const T&>;
template <class T>
constexpr const T& argument_value(const T& a) {
  return a;
}
template <class T>
constexpr const T& argument_value(by_conversion<T> a) {
  return a.value;
}

/// Fails the constant evaluation of a trace (the function is not constexpr): a plain number with
/// no exact value, or one that did not fit, was branched on or converted.
inline void a_traced_function_branched_on_or_converted_a_number_without_an_exact_value() {}

/// A plain number or an exact kobai constant: what may stand next to a tracer.
template <class T>
concept number = std::is_arithmetic_v<T> || is_constant<T>;

struct access;

}  // namespace detail::tracing

/// The one argument type of a traced function. It is a number known exactly (a literal, T(0),
/// T acc{}) or a value recorded on the trace's tape; operators, the functions found by
/// argument-dependent lookup (using std::exp; exp(x)), and kobai's tensor functions record onto
/// the tape. Branching on a recorded value, or converting it to a plain number, fails the trace
/// with a message that says what to write instead.
class tracer {
 public:
  constexpr tracer() = default;
  template <detail::tracing::number N>
  constexpr tracer(N n) {  // NOLINT(google-explicit-constructor): T acc = 0 in generic code
    if constexpr (is_constant<N>) {
      value_ = N::value;
    } else if (const auto r = detail::tracing::exact_number(n)) {
      value_ = *r;
    } else {
      error_ = detail::tracing::failure::inexact_number;
    }
  }

  /// Branching on a traced value (if, ?:, &&, std::max) cannot be traced: it fails the trace. A
  /// known number branches as itself.
  constexpr explicit operator bool() const {
    if (tape_ == nullptr) return known() != rational{};
    tape_->fail(detail::tracing::failure::branch);
    return false;
  }
  /// A traced value cannot become a double (std::exp(x) instead of exp(x)): it fails the trace.
  template <class D>
  requires std::same_as<D, double>
  constexpr operator D() const {  // NOLINT(google-explicit-constructor)
    if (tape_ == nullptr) return known().value();
    tape_->fail(detail::tracing::failure::conversion);
    return 0.0;
  }
  /// !x, a 0/1 value as x == 0 is (branching on it is still a branch).
  friend constexpr tracer operator!(const tracer& a) { return a.apply(detail::tracing::fn::eq, tracer(0)); }

  constexpr tracer& operator+=(const tracer& b) { return *this = *this + b; }
  constexpr tracer& operator-=(const tracer& b) { return *this = *this - b; }
  constexpr tracer& operator*=(const tracer& b) { return *this = *this * b; }
  constexpr tracer& operator/=(const tracer& b) { return *this = *this / b; }

  friend constexpr tracer operator-(const tracer& a) { return a.apply(detail::tracing::fn::neg); }
  friend constexpr tracer operator+(const tracer& a) { return a; }

  // Each binary operator and function: tracer with tracer (a non-template, which wins over
  // std::max<T>), and tracer with a number (a template matching exactly, which wins over the
  // built-in operators and std::pow(double, double) that the conversion to double would allow).
#define KOBAI_TRACED_BINARY(name, id)                                                                            \
  friend constexpr tracer name(const tracer& a, const tracer& b) { return a.apply(detail::tracing::fn::id, b); } \
  template <detail::tracing::number N>                                                                           \
  friend constexpr tracer name(const tracer& a, N b) {                                                           \
    return a.apply(detail::tracing::fn::id, tracer(b));                                                          \
  }                                                                                                              \
  template <detail::tracing::number N>                                                                           \
  friend constexpr tracer name(N a, const tracer& b) {                                                           \
    return tracer(a).apply(detail::tracing::fn::id, b);                                                          \
  }
  KOBAI_TRACED_BINARY(operator+, add)
  KOBAI_TRACED_BINARY(operator-, sub)
  KOBAI_TRACED_BINARY(operator*, mul)
  KOBAI_TRACED_BINARY(operator/, div)
  KOBAI_TRACED_BINARY(operator<, lt)
  KOBAI_TRACED_BINARY(operator<=, le)
  KOBAI_TRACED_BINARY(operator>, gt)
  KOBAI_TRACED_BINARY(operator>=, ge)
  KOBAI_TRACED_BINARY(operator==, eq)
  KOBAI_TRACED_BINARY(operator!=, ne)
  KOBAI_TRACED_BINARY(pow, pow)
  KOBAI_TRACED_BINARY(min, min)
  KOBAI_TRACED_BINARY(max, max)
  KOBAI_TRACED_BINARY(fmin, min)
  KOBAI_TRACED_BINARY(fmax, max)
#undef KOBAI_TRACED_BINARY

  // The elementwise functions, found by argument-dependent lookup next to `using std::exp;`.
#define KOBAI_TRACED_UNARY(op)                                                               \
  friend constexpr tracer op(detail::tracing::argument<detail::tracing::fn::op, tracer> a) { \
    return detail::tracing::argument_value(a).apply(detail::tracing::fn::op);                \
  }
  KOBAI_UNARY_FUNCTIONS(KOBAI_TRACED_UNARY)
  KOBAI_TRACED_UNARY(sqrt)
#undef KOBAI_TRACED_UNARY
  friend constexpr tracer fabs(const tracer& a) { return a.apply(detail::tracing::fn::abs); }
  /// clamp(x, lo, hi) = where(x < lo, lo, where(x > hi, hi, x)), as kobai::clamp (a non-template,
  /// which wins over std::clamp<T>, whose branches cannot be traced).
  friend constexpr tracer clamp(const tracer& x, const tracer& lo, const tracer& hi);

  /// fma(a, b, c) = a·b + c, as a product and a sum (kobai rounds them separately).
  template <class A, class B, class C>
  requires((std::same_as<A, tracer> || detail::tracing::number<A>)&&(
      std::same_as<B, tracer> ||
      detail::tracing::number<B>)&&(std::same_as<C, tracer> ||
                                    detail::tracing::number<C>)&&(std::same_as<A, tracer> || std::same_as<B, tracer> ||
                                                                  std::same_as<C, tracer>)) friend constexpr tracer
      fma(A a, B b, C c) {
    return tracer(a) * tracer(b) + tracer(c);
  }

 private:
  friend struct detail::tracing::access;

  /// The function `id` of this and `rest`: folded exactly when every argument is a known number
  /// and the function has an exact value there, otherwise recorded on the tape.
  constexpr tracer apply(detail::tracing::fn id) const;
  constexpr tracer apply(detail::tracing::fn id, const tracer& b) const;
  /// Entry e applied to the n arguments at args.
  static constexpr tracer record(detail::tracing::entry e, const tracer* args, int n);

  /// A known number's exact value; a failure when it has none (a function of numbers without an
  /// exact value, or a number that did not fit).
  [[nodiscard]] constexpr rational known() const {
    if (error_ != detail::tracing::failure::none || pending_ != detail::tracing::fn::constant)
      detail::tracing::a_traced_function_branched_on_or_converted_a_number_without_an_exact_value();
    return value_;
  }

  detail::tracing::tape* tape_ = nullptr;  // null for a known number
  int index_ = -1;
  rational value_{};
  detail::tracing::failure error_ = detail::tracing::failure::none;
  // A function of known numbers without an exact value (exp(T(1)), sqrt(T(2)), pow(T(2), 0.5)): its
  // function and arguments, put on the tape when it meets a traced value.
  detail::tracing::fn pending_ = detail::tracing::fn::constant;
  int pending_arity_ = 0;
  std::array<rational, 3> pending_args_{};
};

namespace detail::tracing {

template <class Op>
constexpr std::optional<rational> fold_unary(rational a) {
  if constexpr (requires { Op::fold(a); })
    return Op::fold(a);
  else
    return std::nullopt;
}

/// The exact value of function f at known numbers, when it has one.
constexpr std::optional<rational> fold(fn f, const std::array<rational, 3>& v, failure& why) {
  const rational a = v[0], b = v[1];
  const auto arithmetic = [&](std::optional<rational> r) {
    if (!r) why = failure::constant_overflow;
    return r;
  };
  const auto truth = [](bool t) { return std::optional{rational{t ? 1 : 0, 1}}; };
  switch (f) {
    case fn::add:
      return arithmetic(rational::nearest(__int128{a.num} * b.den + __int128{b.num} * a.den, __int128{a.den} * b.den));
    case fn::sub:
      return arithmetic(rational::nearest(__int128{a.num} * b.den - __int128{b.num} * a.den, __int128{a.den} * b.den));
    case fn::mul:
      return arithmetic(rational::nearest(__int128{a.num} * b.num, __int128{a.den} * b.den));
    case fn::div:
      return arithmetic(rational::nearest(__int128{a.num} * b.den, __int128{a.den} * b.num));
    case fn::neg:
      return -a;
    case fn::lt:
      return truth(a < b);
    case fn::le:
      return truth(a <= b);
    case fn::gt:
      return truth(a > b);
    case fn::ge:
      return truth(a >= b);
    case fn::eq:
      return truth(a == b);
    case fn::ne:
      return truth(a != b);
    case fn::min:
      return b < a ? b : a;
    case fn::max:
      return a < b ? b : a;
    case fn::where:
      return a != rational{} ? b : v[2];
    case fn::pow: {
      if (!b.is_integer() || (a == rational{} && b.num < 0) || b.num > 64 || b.num < -64) break;
      std::optional<rational> r = rational{1, 1};
      const rational base = b.num < 0 ? rational{a.den, a.num} : a;
      for (std::int64_t i = 0; i < (b.num < 0 ? -b.num : b.num) && r; ++i)
        r = rational::nearest(__int128{r->num} * base.num, __int128{r->den} * base.den);
      return arithmetic(r);
    }
#define KOBAI_TRACED_FOLD(op)                            \
  case fn::op:                                           \
    if (const auto r = fold_unary<ops::op>(a)) return r; \
    break;
      KOBAI_UNARY_FUNCTIONS(KOBAI_TRACED_FOLD)
#undef KOBAI_TRACED_FOLD
    default:
      break;
  }
  why = failure::constant_function;
  return std::nullopt;
}

/// What trace() and the tensor functions reach inside a tracer.
struct access {
  static constexpr tracer leaf(tape& t, int position) {
    tracer x;
    x.tape_ = &t;
    entry e;
    e.function = fn::leaf;
    e.leaf = position;
    x.index_ = t.push(e);
    return x;
  }
  // The position of x's entry on tape t (a known number is recorded as a constant there).
  static constexpr int recorded(tape& t, const tracer& x) {
    if (x.tape_ != nullptr) return x.index_;
    if (x.error_ != failure::none) t.fail(x.error_);
    if (x.pending_ != fn::constant) {  // the function of numbers, on constant entries
      entry e;
      e.function = x.pending_;
      e.arity = x.pending_arity_;
      for (int k = 0; k < e.arity; ++k) {
        entry c;
        c.value = x.pending_args_[static_cast<std::size_t>(k)];
        e.args[static_cast<std::size_t>(k)] = t.push(c);
      }
      return t.push(e);
    }
    entry e;
    e.value = x.value_;
    return t.push(e);
  }
  // A tensor function with template arguments (axes, a position): recorded, never folded.
  template <class... Args>
  static constexpr tracer call(fn f, std::array<int, 8> axes, int naxes, bool keep, const Args&... args) {
    entry e;
    e.function = f;
    e.axes = axes;
    e.naxes = naxes;
    e.keep = keep;
    const std::array<tracer, sizeof...(Args)> list{tracer(args)...};
    return tracer::record(e, list.data(), static_cast<int>(list.size()));
  }
};

}  // namespace detail::tracing

constexpr tracer tracer::apply(detail::tracing::fn id) const {
  detail::tracing::entry e;
  e.function = id;
  return record(e, this, 1);
}
constexpr tracer tracer::apply(detail::tracing::fn id, const tracer& b) const {
  detail::tracing::entry e;
  e.function = id;
  const std::array<tracer, 2> list{*this, b};
  return record(e, list.data(), 2);
}

constexpr tracer tracer::record(detail::tracing::entry e, const tracer* args, int n) {
  using namespace detail::tracing;  // NOLINT(google-build-using-namespace)
  tape* t = nullptr;
  failure error = failure::none;
  for (int k = 0; k < n; ++k) {
    if (args[k].tape_ != nullptr) t = args[k].tape_;
    if (error == failure::none) error = args[k].error_;
  }
  tracer result;
  if (t == nullptr) {  // known numbers: the exact value, or the function kept for the tape
    std::array<rational, 3> values{};
    bool nested = false;  // a function of a function of numbers without an exact value
    for (int k = 0; k < n; ++k) {
      values[static_cast<std::size_t>(k)] = args[k].value_;
      nested = nested || args[k].pending_ != fn::constant;
    }
    if (error == failure::none && (nested || e.naxes != 0)) {
      error = failure::constant_function;
    } else if (error == failure::none) {
      if (const auto value = fold(e.function, values, error)) {
        result.value_ = *value;
      } else if (error == failure::constant_function) {
        error = failure::none;
        result.pending_ = e.function;
        result.pending_arity_ = n;
        result.pending_args_ = values;
      }
    }
    result.error_ = error;
    return result;
  }
  e.arity = n;
  for (int k = 0; k < n; ++k) e.args[static_cast<std::size_t>(k)] = access::recorded(*t, args[k]);
  result.tape_ = t;
  result.index_ = t->push(e);
  return result;
}

/// A tracer, or the type of a traced argument.
template <class T>
concept traced = std::same_as<std::remove_cvref_t<T>, tracer>;
/// Arguments of a traced function call: tracers and numbers, at least one tracer.
template <class... A>
concept traced_arguments = ((traced<A> || detail::tracing::number<std::remove_cvref_t<A>>)&&...) && (traced<A> || ...);

// kobai's functions on tracers, found by argument-dependent lookup and by qualification alike
// (kobai::where, kobai::sum<1>): each records itself and replays as the function of the same name.

/// where(c, a, b) on tracers; on plain numbers c ? a : b, so generic code runs on doubles too.
template <class C, class A, class B>
requires traced_arguments<C, A, B>
constexpr tracer where(const C& c, const A& a, const B& b) {
  return detail::tracing::access::call(detail::tracing::fn::where, {}, 0, false, c, a, b);
}
template <detail::plain_number C, detail::plain_number A, detail::plain_number B>
constexpr auto where(C c, A a, B b) {
  return c ? std::common_type_t<A, B>(a) : std::common_type_t<A, B>(b);
}
/// clamp(x, lo, hi) on tracers: where(x < lo, lo, where(x > hi, hi, x)), as kobai::clamp.
template <class X, class L, class H>
requires traced_arguments<X, L, H>
constexpr tracer clamp(const X& x, const L& lo, const H& hi) {
  const tracer t(x);
  return where(t < tracer(lo), tracer(lo), where(t > tracer(hi), tracer(hi), t));
}

#define KOBAI_TRACED_TENSOR_UNARY(name)                                               \
  template <traced A>                                                                 \
  constexpr tracer name(const A& a) {                                                 \
    return detail::tracing::access::call(detail::tracing::fn::name, {}, 0, false, a); \
  }
KOBAI_TRACED_TENSOR_UNARY(transpose)
KOBAI_TRACED_TENSOR_UNARY(flatten)
KOBAI_TRACED_TENSOR_UNARY(numel)
#undef KOBAI_TRACED_TENSOR_UNARY
#define KOBAI_TRACED_TENSOR_BINARY(name)                                                 \
  template <class A, class B>                                                            \
  requires traced_arguments<A, B>                                                        \
  constexpr tracer name(const A& a, const B& b) {                                        \
    return detail::tracing::access::call(detail::tracing::fn::name, {}, 0, false, a, b); \
  }
KOBAI_TRACED_TENSOR_BINARY(matmul)
KOBAI_TRACED_TENSOR_BINARY(dot)
KOBAI_TRACED_TENSOR_BINARY(reshape_as)
KOBAI_TRACED_TENSOR_BINARY(mse)
KOBAI_TRACED_TENSOR_BINARY(bce_with_logits)
KOBAI_TRACED_TENSOR_BINARY(cross_entropy)
#undef KOBAI_TRACED_TENSOR_BINARY

template <int P, traced A>
constexpr tracer unsqueeze(const A& a) {
  return detail::tracing::access::call(detail::tracing::fn::unsqueeze, {P}, 1, false, a);
}
// The reductions over axes, with and without keepdims: sum<1>(x), mean(x), max<0>(x, keepdims); each
// is the kobai function `name`, recorded as fn::id.
#define KOBAI_TRACED_REDUCTIONS(X) \
  X(sum, sum) X(prod, prod) X(mean, mean) X(max, amax) X(min, amin) X(logsumexp, logsumexp)
#define KOBAI_TRACED_AXES(name, id)                                                                      \
  template <int... Axes, traced A>                                                                       \
  constexpr tracer name(const A& a) {                                                                    \
    static_assert(sizeof...(Axes) <= 8, "kobai::trace: a traced reduction names at most 8 axes");        \
    return detail::tracing::access::call(detail::tracing::fn::id, {Axes...}, sizeof...(Axes), false, a); \
  }                                                                                                      \
  template <int... Axes, traced A>                                                                       \
  constexpr tracer name(const A& a, keepdims_t) {                                                        \
    static_assert(sizeof...(Axes) <= 8, "kobai::trace: a traced reduction names at most 8 axes");        \
    return detail::tracing::access::call(detail::tracing::fn::id, {Axes...}, sizeof...(Axes), true, a);  \
  }
KOBAI_TRACED_REDUCTIONS(KOBAI_TRACED_AXES)
#undef KOBAI_TRACED_AXES
template <int... Axes, traced A>
constexpr tracer softmax(const A& a) {
  static_assert(sizeof...(Axes) <= 8, "kobai::trace: a traced reduction names at most 8 axes");
  return detail::tracing::access::call(detail::tracing::fn::softmax, {Axes...}, sizeof...(Axes), false, a);
}

namespace detail::tracing {

/// The recorded graph: the entries the result depends on, in order, the result last.
template <std::size_t N>
struct graph {
  std::array<entry, N> entries{};
  failure error = failure::none;
};

/// Calls Fn with one leaf tracer per argument; returns the result's position on the tape.
template <class Fn, std::size_t... K>
constexpr int run(tape& t, std::index_sequence<K...>) {
  return access::recorded(t, tracer(Fn{}(access::leaf(t, static_cast<int>(K))...)));
}

/// The entries that the one at `root` depends on, renumbered in order into `out` (when given);
/// returns their count.
constexpr int compact(const tape& t, int root, entry* out) {
  const int n = t.size();
  int* position = new int[static_cast<std::size_t>(n)];
  for (int i = 0; i < n; ++i) position[i] = -1;
  position[root] = 0;
  for (int i = root; i >= 0; --i)
    if (position[i] >= 0)
      for (int k = 0; k < t[i].arity; ++k) position[t[i].args[static_cast<std::size_t>(k)]] = 0;
  int count = 0;
  for (int i = 0; i <= root; ++i) {
    if (position[i] < 0) continue;
    position[i] = count;
    if (out != nullptr) {
      out[count] = t[i];
      for (int k = 0; k < t[i].arity; ++k) {
        auto& arg = out[count].args[static_cast<std::size_t>(k)];
        arg = position[arg];
      }
    }
    ++count;
  }
  delete[] position;
  return count;
}

template <class Fn, std::size_t Leaves>
constexpr int traced_size() {
  tape t;
  const int root = run<Fn>(t, std::make_index_sequence<Leaves>{});
  return compact(t, root, nullptr);
}

template <class Fn, std::size_t Leaves>
constexpr auto record() {
  constexpr int n = traced_size<Fn, Leaves>();
  graph<static_cast<std::size_t>(n)> g;
  tape t;
  const int root = run<Fn>(t, std::make_index_sequence<Leaves>{});
  compact(t, root, g.entries.data());
  g.error = t.error;
  return g;
}

template <class Fn, std::size_t Leaves>
inline constexpr auto recorded_graph = record<Fn, Leaves>();

/// Whether calling Fn at compile time succeeds: it fails when Fn calls a function that is not
/// constexpr (std::exp(x) on clang, a helper without constexpr) or passes the compiler's limits.
template <class Fn, std::size_t Leaves>
concept evaluates = requires {
  typename std::integral_constant<int, traced_size<Fn, Leaves>()>;
}
&&requires {  // and the recording itself, which does a little more work (near the limits)
  typename std::integral_constant<int, (record<Fn, Leaves>(), 0)>;
};

template <class Fn, class Leaves, int I>
struct entry_at {
  static constexpr const entry& e = recorded_graph<Fn, Leaves::size>.entries[static_cast<std::size_t>(I)];
};

template <fn F, bool Keep, int... Axes, class A>
constexpr auto apply_axes(A a) {
  if constexpr (F == fn::unsqueeze)
    return kobai::unsqueeze<Axes...>(a);
  else if constexpr (F == fn::softmax)
    return kobai::softmax<Axes...>(a);
#define KOBAI_TRACED_REPLAY_AXES(name, id)                                          \
  else if constexpr (F == fn::id && Keep) return kobai::name<Axes...>(a, keepdims); \
  else if constexpr (F == fn::id) return kobai::name<Axes...>(a);
  KOBAI_TRACED_REDUCTIONS(KOBAI_TRACED_REPLAY_AXES)
#undef KOBAI_TRACED_REPLAY_AXES
  else static_assert(dependent_false<A>, "kobai internal error: a traced function without a replay");
}
#undef KOBAI_TRACED_REDUCTIONS

/// Entry E's function applied to the replayed arguments, through kobai's function of that name.
template <class E, class A>
constexpr auto replay_function(A a) {
  constexpr fn f = E::e.function;
  if constexpr (f == fn::neg)
    return -a;
  else if constexpr (f == fn::sqrt)
    return kobai::sqrt(a);
  else if constexpr (f == fn::transpose)
    return kobai::transpose(a);
  else if constexpr (f == fn::flatten)
    return kobai::flatten(a);
  else if constexpr (f == fn::numel)
    return kobai::numel(a);
  else if constexpr (f >= fn::unsqueeze)
    return [a]<std::size_t... J>(std::index_sequence<J...>) {
      return apply_axes<E::e.function, E::e.keep, E::e.axes[J]...>(a);
    }
  (std::make_index_sequence<static_cast<std::size_t>(E::e.naxes)>{});
#define KOBAI_TRACED_REPLAY(op) else if constexpr (f == fn::op) return kobai::op(a);
  KOBAI_UNARY_FUNCTIONS(KOBAI_TRACED_REPLAY)
#undef KOBAI_TRACED_REPLAY
  else static_assert(dependent_false<A>, "kobai internal error: a traced function without a replay");
}
template <class E, class A, class B>
constexpr auto replay_function(A a, B b) {
  constexpr fn f = E::e.function;
  if constexpr (f == fn::add)
    return a + b;
  else if constexpr (f == fn::sub)
    return a - b;
  else if constexpr (f == fn::mul)
    return a * b;
  else if constexpr (f == fn::div)
    return a / b;
  else if constexpr (f == fn::lt)
    return a < b;
  else if constexpr (f == fn::le)
    return a <= b;
  else if constexpr (f == fn::gt)
    return a > b;
  else if constexpr (f == fn::ge)
    return a >= b;
  else if constexpr (f == fn::eq)
    return a == b;
  else if constexpr (f == fn::ne)
    return a != b;
  else if constexpr (f == fn::pow)
    return kobai::pow(a, b);
  else if constexpr (f == fn::min)
    return kobai::min(a, b);
  else if constexpr (f == fn::max)
    return kobai::max(a, b);
  else if constexpr (f == fn::matmul)
    return kobai::matmul(a, b);
  else if constexpr (f == fn::dot)
    return kobai::dot(a, b);
  else if constexpr (f == fn::reshape_as)
    return kobai::reshape_as(a, b);
  else if constexpr (f == fn::mse)
    return kobai::mse(a, b);
  else if constexpr (f == fn::bce_with_logits)
    return kobai::bce_with_logits(a, b);
  else if constexpr (f == fn::cross_entropy)
    return kobai::cross_entropy(a, b);
  else
    static_assert(dependent_false<A>, "kobai internal error: a traced function without a replay");
}
template <class E, class C, class A, class B>
constexpr auto replay_function(C c, A a, B b) {
  static_assert(E::e.function == fn::where, "kobai internal error: a traced function without a replay");
  return kobai::where(c, a, b);
}

/// Entry I as a kobai expression: a constant, a leaf, or a function of earlier entries.
template <class Fn, class Leaves, int I>
constexpr auto replay() {
  using E = entry_at<Fn, Leaves, I>;
  constexpr entry e = E::e;
  if constexpr (e.function == fn::constant)
    return constant<e.value>{};
  else if constexpr (e.function == fn::leaf)
    return typename Leaves::template at<static_cast<std::size_t>(e.leaf)>{};
  else if constexpr (e.arity == 1)
    return replay_function<E>(replay<Fn, Leaves, e.args[0]>());
  else if constexpr (e.arity == 2)
    return replay_function<E>(replay<Fn, Leaves, e.args[0]>(), replay<Fn, Leaves, e.args[1]>());
  else
    return replay_function<E>(replay<Fn, Leaves, e.args[0]>(), replay<Fn, Leaves, e.args[1]>(),
                              replay<Fn, Leaves, e.args[2]>());
}

/// Every entry replayed in order, so that each replay finds its arguments' already made and the
/// compiler's nesting stays shallow however long the graph; the last is the result.
template <class Fn, class Leaves, std::size_t... I>
constexpr auto replay_all(std::index_sequence<I...>) {
  using replayed = type_list<decltype(replay<Fn, Leaves, static_cast<int>(I)>())...>;
  return typename replayed::template at<sizeof...(I) - 1>{};
}

}  // namespace detail::tracing

/// The kobai expression that fn computes, traced at compile time: fn is called during constant
/// evaluation with one tracer per leaf, and everything it does to them (arithmetic, locals, loops
/// as they run, helper functions, literal numbers as exact constants) becomes the expression type
/// the same formula written by hand would have:
///   kobai::trace([](auto a, auto b) { return rosenbrock(a, b); }, var<"x">, var<"y">)
/// fn is a captureless lambda or a default-constructible function object; run-time parameters are
/// input<> leaves. Branching on a traced value (if, ?:, std::max) cannot be traced: write
/// kobai::where(x > 0, a, b), max(x, y), min(x, y) or abs(x), found by argument-dependent lookup.
template <class Fn, class... Leaves>
constexpr auto trace(Fn, Leaves...) {
  using namespace detail::tracing;  // NOLINT(google-build-using-namespace)
  constexpr bool leaves = (is_leaf<Leaves> && ...);
  static_assert(leaves,
                "kobai::trace: after the function come the leaves its arguments stand for, var<\"x\"> or "
                "input<\"k\">, of any rank");
  constexpr bool object = std::is_class_v<Fn>;
  static_assert(!leaves || object,
                "kobai::trace: pass a lambda or a function object, not a function or a function pointer: wrap "
                "the function as [](auto a) { return f(a); }");
  constexpr bool function = object && std::is_empty_v<Fn> && std::is_default_constructible_v<Fn>;
  static_assert(!leaves || !object || function,
                "kobai::trace: the function must be a captureless lambda or an empty, default-constructible "
                "function object: it runs at compile time, where captured values and members do not exist; pass "
                "run-time parameters as input<> leaves");
  constexpr bool generic = !requires { &Fn::operator(); };  // a call operator template
  static_assert(!leaves || !function || generic,
                "kobai::trace: the function's parameters must be of a template type (auto, or T of template "
                "<class T>), one per leaf: a double parameter would only see numbers");
  if constexpr (!leaves || !function || !generic) {
    return literal<0>;
  } else if constexpr (!std::is_invocable_v<Fn, decltype(void(Leaves{}), tracer{})...>) {
    static_assert(dependent_false<Fn>,
                  "kobai::trace: the function must take one argument per leaf and compile with kobai::tracer "
                  "arguments (an error above, if any, says where it does not)");
    return literal<0>;
  } else if constexpr (!std::is_convertible_v<std::invoke_result_t<Fn, decltype(void(Leaves{}), tracer{})...>,
                                              tracer>) {
    static_assert(dependent_false<Fn>,
                  "kobai::trace: the function must return a value of its argument type, or a number");
    return literal<0>;
  } else if constexpr (!evaluates<Fn, sizeof...(Leaves)>) {
    static_assert(dependent_false<Fn>,
                  "kobai::trace: the function could not be evaluated at compile time. Either it calls a function "
                  "that is not constexpr (a helper without constexpr, or a math function called qualified on a "
                  "traced value: write using std::exp; exp(x), not std::exp(x)), or it branches on or converts a "
                  "plain number without an exact value (sqrt(T(2)) > 1, or one that did not fit, such as "
                  "T(1e-30)), or its graph passes the compiler's constant-evaluation limits: raise them with "
                  "-fconstexpr-ops-limit=N and -fconstexpr-loop-limit=N (g++) or -fconstexpr-steps=N (clang++)");
    return literal<0>;
  } else {
    constexpr auto& g = recorded_graph<Fn, sizeof...(Leaves)>;
    static_assert(g.error != failure::branch,
                  "kobai::trace: the function branches on a traced value (if, ?:, &&, ||, !, or std::max, "
                  "std::min, std::clamp on a traced value), which has no value at compile time. Write "
                  "kobai::where(x > 0, a, b), or call max(x, y), min(x, y), clamp(x, lo, hi) unqualified");
    static_assert(g.error != failure::conversion,
                  "kobai::trace: a traced value was converted to a plain number. Call math functions unqualified, "
                  "so that argument-dependent lookup finds kobai's (using std::exp; exp(x), not std::exp(x)); "
                  "kobai traces exp, log, log1p, expm1, sin, cos, tan, tanh, erf, sqrt, pow, abs, min, max, fma, "
                  "clamp, sigmoid, softplus, relu, sign and where");
    static_assert(g.error != failure::inexact_number,
                  "kobai::trace: a number in the function does not fit kobai's exact 64-bit rationals (a double "
                  "is m/2^k exactly: k may be at most 62 and m below 2^63, so 1e-30, 1e30, NaN and infinity do "
                  "not fit, nor do most doubles below 1e-3). Write it as an exact decimal constant (1e-8_c), "
                  "rescale the formula, or bind the number as an input<> leaf");
    static_assert(g.error != failure::constant_function,
                  "kobai::trace: a function of plain numbers whose arguments are themselves such functions (as in "
                  "exp(sqrt(T(2)))) has no exact value to trace. Apply one function at a time to a number, or "
                  "write the constant as a kobai expression (exp(sqrt(2_c))) outside the function");
    static_assert(g.error != failure::constant_overflow,
                  "kobai::trace: arithmetic on the function's numbers alone divided by zero, passed 2^63, or "
                  "fell below what a fraction of 64-bit terms holds within 2^-60 (about 1e-19)");
    if constexpr (g.error != failure::none)
      return literal<0>;
    else
      return replay_all<Fn, type_list<Leaves...>>(std::make_index_sequence<g.entries.size()>{});
  }
}

constexpr tracer clamp(const tracer& x, const tracer& lo, const tracer& hi) {
  return where(x < lo, lo, where(x > hi, hi, x));
}

}  // namespace kobai

/// std::numeric_limits of a traced value: double's, as generic code expects, each value a known
/// number (epsilon() is 2^-52 exactly; min(), max() and infinity() do not fit a 64-bit rational, so
/// a trace that uses them fails with the message that says so).
template <>
struct std::numeric_limits<kobai::tracer> : std::numeric_limits<double> {
  static constexpr kobai::tracer min() noexcept { return std::numeric_limits<double>::min(); }
  static constexpr kobai::tracer max() noexcept { return std::numeric_limits<double>::max(); }
  static constexpr kobai::tracer lowest() noexcept { return std::numeric_limits<double>::lowest(); }
  static constexpr kobai::tracer epsilon() noexcept { return std::numeric_limits<double>::epsilon(); }
  static constexpr kobai::tracer round_error() noexcept { return std::numeric_limits<double>::round_error(); }
  static constexpr kobai::tracer infinity() noexcept { return std::numeric_limits<double>::infinity(); }
  static constexpr kobai::tracer quiet_NaN() noexcept { return std::numeric_limits<double>::quiet_NaN(); }
  static constexpr kobai::tracer signaling_NaN() noexcept { return std::numeric_limits<double>::signaling_NaN(); }
  static constexpr kobai::tracer denorm_min() noexcept { return std::numeric_limits<double>::denorm_min(); }
};
