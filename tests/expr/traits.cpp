// is_leaf, is_differentiable, depends_on and node_count: PyTorch's is_leaf and requires_grad.
#include <doctest/doctest.h>

#include "kobai/expr/graph.hpp"
#include "kobai/expr/literals.hpp"
#include "kobai/expr/operators.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto w = var<"w">;
constexpr auto b = var<"b">;
constexpr auto x = input<"x", 1>;
}  // namespace

static_assert(is_leaf<decltype(w)> && is_leaf<decltype(x)>);
static_assert(!is_leaf<decltype(w * x)> && !is_leaf<decltype(2_c)>);
static_assert(is_var<std::remove_cv_t<decltype(w)>> && is_input<std::remove_cv_t<decltype(x)>>);

static_assert(is_differentiable<decltype(w)>);
static_assert(!is_differentiable<decltype(x)>);
static_assert(is_differentiable<decltype(w * x + b)>);
static_assert(!is_differentiable<decltype(exp(x))>);
static_assert(!is_differentiable<decltype(detach(w * x))>);
static_assert(!is_differentiable<decltype(w > 0_c)>);  // comparisons carry no gradient
static_assert(is_differentiable<decltype(detach(w) + b)>);

static_assert(depends_on<decltype(w * x + b), std::remove_cv_t<decltype(b)>>);
static_assert(!depends_on<decltype(w * x), std::remove_cv_t<decltype(b)>>);

static_assert(decltype(w)::rank == 0 && decltype(x)::rank == 1 && decltype(w * x + b)::rank == 1);

TEST_CASE("node_count counts each distinct subexpression once") {
  // exp(w·x) appears twice but is one node: w, x, w·x, exp(w·x), the square.
  constexpr auto e = exp(w * x) * exp(w * x);
  CHECK(node_count(e) == 5);
  CHECK(node_count(w) == 1);
  CHECK(node_count(w * x + b) == 5);
  CHECK(node_count(w * x, w * x + b) == 5);  // shared across outputs
}
