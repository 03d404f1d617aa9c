// Construction-time simplification: type identity is math identity for the cases tests rely on.
#include <doctest/doctest.h>

#include <boost/hana/integral_constant.hpp>
#include <type_traits>

#include "kobai/expr/linalg.hpp"
#include "kobai/expr/literals.hpp"
#include "kobai/expr/operators.hpp"
#include "kobai/expr/reductions.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;
constexpr auto z = var<"z">;
constexpr auto t = input<"t">;
}  // namespace

// 0 and 1 identities.
static_assert(same(x + 0_c, x) && same(0_c + x, x));
static_assert(same(x * 1_c, x) && same(1_c * x, x));
static_assert(same(x * 0_c, 0_c) && same(0_c / x, 0_c));
static_assert(same(x - x, 0_c));
static_assert(same(pow<1>(x), x) && same(pow<0>(x), 1_c));

// Constant folding over rationals, exactly.
static_assert(same(1_c / 3_c + 1_c / 6_c, 0.5_c));
static_assert(same(2_c * x * 3_c, 6_c * x));
static_assert(same((x + 1_c) + 2_c, x + 3_c));
static_assert(same(pow<3>(2_c), 8_c) && same(pow<-2>(2_c), 0.25_c));
static_assert(same(exp(0_c), 1_c) && same(log(1_c), 0_c) && same(sin(0_c), 0_c) && same(cos(0_c), 1_c));
static_assert(same(sigmoid(0_c), 0.5_c) && same(relu(-3_c), 0_c) && same(abs(-3_c), 3_c));
static_assert(same(max(2_c, 5_c), 5_c) && same(min(2_c, 5_c), 2_c));

// Powers: x·x → x², exponents add, integer powers of powers multiply.
static_assert(same(x * x, pow<2>(x)));
static_assert(same(x * x * x, pow<3>(x)));
static_assert(same(pow<2>(x) * pow<3>(x), pow<5>(x)));
static_assert(same(x / x, 1_c));
static_assert(same(pow<3>(pow<2>(x)), pow<6>(x)));
static_assert(same(sqrt(x) * sqrt(x), x));
static_assert(same(pow<2>(3_c * x), 9_c * pow<2>(x)));
static_assert(same(x * y * x, pow<2>(x) * y));

// Like terms collect; constants are coefficients.
static_assert(same(x + x, 2_c * x));
static_assert(same(2_c * x + 3_c * x, 5_c * x));
static_assert(same(x * y + y * x, 2_c * (x * y)));
static_assert(same(x + y + x, 2_c * x + y));
static_assert(same(-(-x), x));

// Commutative operands take one canonical order.
static_assert(same(x + y, y + x));
static_assert(same(x * y, y* x));
static_assert(same(exp(x) * sin(y), sin(y) * exp(x)));
static_assert(!same(x - y, y - x));

// Structure that is not algebra stays distinct.
static_assert(!same(x + y, x* y));
static_assert(same(pow<2>(sqrt(x)), x));  // (x^½)² = x on the domain where √x is real

// where with a known condition, detach of data, and equal branches.
static_assert(same(where(1_c, x, y), x) && same(where(0_c, x, y), y));
static_assert(same(where(x > y, z, z), z));
static_assert(same(detach(t), t));
static_assert(same(detach(3_c), 3_c));
static_assert(!same(detach(x), x));

// Compile-time integers from the standard library and Boost.Hana are exact constants too. (Hana
// defines arithmetic operators for its own constants, so with Hana use them as function arguments.)
static_assert(same(x * std::integral_constant<int, 3>{}, 3_c * x));
static_assert(same(pow(x, boost::hana::int_c<3>), pow<3>(x)));
static_assert(same(max(x, boost::hana::int_c<0>), max(x, 0_c)));

// A constant that replaces a tensor expression keeps its shape: X − X is zeros shaped like X, not
// the scalar 0 (which would make sum(exp(X − X)) one term instead of numel(X)).
namespace {
constexpr auto X = input<"X", 2>;
constexpr auto v = var<"v", 1>;
}  // namespace
static_assert(same(X - X, X * 0_c) && decltype(X - X)::rank == 2 && detail::is_zero_valued<decltype(X - X)>);
static_assert(same(X / X, pow<0>(X)) && decltype(X / X)::rank == 2);
static_assert(same(exp(X - X), X / X));  // folds elementwise, keeping the shape
static_assert(same(X - X + x, x + X * 0_c) && decltype(X - X + x)::rank == 2);
static_assert(same(X - X + X, X) && same(v * 0_c + v, v));  // a tensor that covers the shape absorbs it
static_assert(same(where(X > x, y, y), y + X * 0_c) && decltype(where(X > x, y, y))::rank == 2);
static_assert(same(where(1_c, v, x), where(1_c, v, y)) && decltype(where(1_c, x, v))::rank == 1);
static_assert(same(x - x, 0_c) && same(x * 0_c, 0_c));  // scalars stay scalars

// A factor constant along a folded axis moves out of the fold over that axis: Σ_n v·X[n] = v·Σ_n X[n],
// also through a fold folded again (Σ_n Σ_d Q[k,d,e]·G[n,k,d] = Σ_d Q[k,d,e]·Σ_n G[n,k,d]). The
// result keeps the fold's shape; a kept axis, one fold over several axes, or a factor whose partner
// is broadcast too, stays.
namespace {
constexpr auto Q = var<"Q", 3>;    // (K, D, E)
constexpr auto G = input<"G", 3>;  // (N, K, D)
constexpr auto A = var<"A", 2>;
}  // namespace
static_assert(same(sum<0>(unsqueeze<0>(v) * X), v* sum<0>(X)));
static_assert(same(sum<0>(X * unsqueeze<0>(v) * 3_c), 3_c * (v * sum<0>(X))));
static_assert(detail::is_folded_sum<decltype(sum(unsqueeze<0>(v) * X))>);  // one fold over two axes stays
static_assert(same(sum<0>(sum<2>(unsqueeze<0>(Q) * unsqueeze<3>(G))), sum<1>(Q* sum<0>(unsqueeze<3>(G)))));
static_assert(decltype(sum<0>(sum<2>(unsqueeze<0>(Q) * unsqueeze<3>(G))))::rank == 2);
static_assert(same(sum<0>(sum<0>(unsqueeze<0>(A) * unsqueeze<1>(X) * G)), sum<0>(A* sum<0>(unsqueeze<1>(X) * G))));
static_assert(same(sum<1>(unsqueeze<0>(v) * X), sum<1>(X* unsqueeze<0>(v))) &&  // not folded along v's unit
              detail::is_folded_sum<decltype(sum<1>(unsqueeze<0>(v) * X))>);
static_assert(std::is_same_v<decltype(sum<0>(unsqueeze<0>(v) * X, keepdims))::op, ops::sum_over<1, true>>);  // kept
static_assert(detail::is_folded_sum<decltype(sum<0>(unsqueeze<0>(v) * v))>);  // v broadcast too: stays
static_assert(same(sum<0>(sum<1>(unsqueeze<1>(X) * G)), sum<0>(X* sum<1>(G))));
static_assert(same(sum<0>(sum<1>(unsqueeze<2>(A) * G)),  // nothing to move: two folds stay two
                   detail::make_reduction<detail::sum_op, 1, false>(sum<1>(G* unsqueeze<2>(A)))));

TEST_CASE("simplified nodes are empty literal types") {
  constexpr auto e = 3_c * pow<2>(x) + sin(y * x) - detach(exp(z));
  static_assert(std::is_empty_v<decltype(e)>);
  CHECK(sizeof(e) == 1);
}
