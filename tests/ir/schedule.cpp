// The scheduler: how many fused loops a program takes, and what each loop computes.
#include <doctest/doctest.h>

#include "kobai/ir/schedule.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto x = input<"x", 1>;
constexpr auto t = input<"t", 1>;
constexpr auto w = var<"w">;
constexpr auto b = var<"b">;
constexpr auto W = var<"W", 1>;
}  // namespace

TEST_CASE("linear regression: loss, dL/dw and dL/db come out of one loop") {
  constexpr auto loss = mse(w * x + b, t);
  constexpr auto grads = grad(loss, w, b);
  CHECK(ir::loop_count(loss, std::get<0>(grads), std::get<1>(grads)) == 1);
  using loop = ir::schedule<decltype(loss), std::tuple_element_t<0, decltype(grads)>,
                            std::tuple_element_t<1, decltype(grads)>>::loop_at<0>;
  CHECK(loop::reductions::size == 3);  // Σr², Σr·x, Σr with r = w·x + b − t
  CHECK(loop::outputs::size == 0);     // every output is a scalar
}

TEST_CASE("logistic regression with BCE on logits: one loop") {
  constexpr auto loss = bce_with_logits(w * x + b, t);
  CHECK(ir::loop_count(loss, grad(loss, w), grad(loss, b)) == 1);
}

TEST_CASE("a reduction feeding elementwise work over its own data starts a new loop") {
  CHECK(ir::loop_count(mean(pow<2>(x - mean(x)))) == 2);  // variance of mean-centred data
  CHECK(ir::loop_count(x / sum(x)) == 2);                 // normalisation: the output needs the total
  CHECK(ir::loop_count(sum(log(x / sum(x)))) == 2);
  CHECK(ir::loop_count(sum(x / sum(exp(x)))) == 1);  // = sum(x)/sum(exp(x)): scalar factors leave the sum
  CHECK(ir::loop_count(mean(x) * mean(t)) == 1);     // independent reductions share a loop
}

TEST_CASE("elementwise and scalar-only programs") {
  CHECK(ir::loop_count(exp(x) * t, x + t) == 1);
  CHECK(ir::loop_count(w * b + 1_c) == 0);
  CHECK(ir::loop_count(grad(sum(W), W)) == 1);  // expand(1, W): a tensor of ones
}

TEST_CASE("phases: scalars before and between loops, tensors in loops, sums after their loop") {
  static_assert(ir::phase<std::remove_cvref_t<decltype(w)>> == 0);
  static_assert(ir::phase<std::remove_cvref_t<decltype(x)>> == 1);
  static_assert(ir::phase<decltype(sum(x))> == 2);
  static_assert(ir::phase<decltype(numel(x))> == 0);  // known from the shapes alone
  static_assert(ir::phase<decltype(x - mean(x))> == 3);
  static_assert(ir::phase<decltype(w * sum(x))> == 2);
  CHECK(ir::schedule<decltype(mean(pow<2>(x - mean(x))))>::loop_phases.first[1] == 3);
}
