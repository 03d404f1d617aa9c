// The planner: how many top-level loops over the data a program takes, and how its loop nests
// are shaped (loop order, where reductions complete, which buffers they need).
#include <doctest/doctest.h>

#include "kobai/ir/plan.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto x = input<"x", 1>;
constexpr auto t = input<"t", 1>;
constexpr auto w = var<"w">;
constexpr auto b = var<"b">;
constexpr auto W = var<"W", 1>;
constexpr auto X = input<"X", 2>;
constexpr auto v = var<"v", 1>;

template <class... Outputs>
constexpr auto plan_of(Outputs...) {
  return ir::program_plan<Outputs...>::value;
}
template <class E, class... Outputs>
constexpr int node_index(E, Outputs...) {
  return static_cast<int>(index_of<E, typename ir::program_plan<Outputs...>::order>);
}
// The number of instructions of a kind.
template <std::size_t N>
constexpr int count(const ir::plan_data<N>& plan, ir::instr op) {
  int n = 0;
  for (int i = 0; i < plan.size; ++i) n += plan.code[static_cast<std::size_t>(i)].op == op ? 1 : 0;
  return n;
}
}  // namespace

TEST_CASE("linear regression: loss, dL/dw and dL/db come out of one loop") {
  constexpr auto loss = mse(w * x + b, t);
  constexpr auto grads = grad(loss, w, b);
  constexpr auto plan = plan_of(loss, std::get<0>(grads), std::get<1>(grads));
  CHECK(plan.loops == 1);
  CHECK(count(plan, ir::instr::accumulate) == 3);  // Σr², Σr·x, Σr with r = w·x + b − t
  CHECK(count(plan, ir::instr::store) == 0);       // every output is a scalar
}

TEST_CASE("logistic regression with BCE on logits: one loop") {
  constexpr auto loss = bce_with_logits(w * x + b, t);
  CHECK(ir::loop_count(loss, grad(loss, w), grad(loss, b)) == 1);
}

TEST_CASE("logistic regression with D features: one pass over the rows, the logit completes per row") {
  constexpr auto z = matmul(X, v) + b;  // X: (N, D), v: (D)
  constexpr auto loss = bce_with_logits(z, t);
  constexpr auto dv = grad(loss, v);
  constexpr auto db = grad(loss, b);
  constexpr auto plan = plan_of(loss, dv, db);
  CHECK(plan.loops == 1);
  CHECK(plan.classes == 2);
  // The loop over rows is outside the loop over features, so z[n] = Σ_d X[n,d]·v[d] completes
  // inside one row (a local scalar, no buffer over N), and dv accumulates a D-vector per task.
  constexpr int rows = plan.cls[static_cast<std::size_t>(node_index(X, loss, dv, db))][0];
  constexpr int features = plan.cls[static_cast<std::size_t>(node_index(X, loss, dv, db))][1];
  CHECK(plan.position[rows] == 0);
  CHECK(plan.position[features] == 1);
  constexpr int logit = node_index(sum<1>(X * v), loss, dv, db);
  CHECK_FALSE(plan.global[logit]);
  CHECK(plan.buffer_dims[logit] == 0);
  constexpr int gradient = node_index(dv, loss, dv, db);
  CHECK(plan.global[gradient]);
  CHECK(plan.buffer_dims[gradient] == std::uint64_t{1} << features);
}

TEST_CASE("matrix products: rows of B streamed in row-major order into a buffer over one row of A·B") {
  constexpr auto A = input<"A", 2>;
  constexpr auto B = input<"B", 2>;
  constexpr auto product = matmul(A, B);
  constexpr auto plan = plan_of(product);
  CHECK(plan.loops == 1);
  CHECK(count(plan, ir::instr::store) == 1);
  constexpr int sum_node = node_index(product, product);
  CHECK_FALSE(plan.global[sum_node]);
  // Loops (n, k, m), the leaves' row-major order: B is read along its rows (SIMD loads, no
  // gathers), and row n of A·B is accumulated over k in a buffer of M values.
  CHECK(std::popcount(plan.buffer_dims[sum_node]) == 1);
  CHECK((plan.buffer_dims[sum_node] >> plan.cls[static_cast<std::size_t>(sum_node)][1] & 1U) == 1);
  // f = Σ(P·B)² and dP = 2(P·B)·Bᵀ: per row n, per column m, (P·B)[n,m] completes in the loop
  // over k, then feeds f and a row buffer dP[n,:] in the same iteration. One pass over P.
  constexpr auto P = var<"P", 2>;
  constexpr auto f = sum(pow<2>(matmul(P, B)));
  CHECK(ir::loop_count(f, grad(f, P)) == 1);
}

TEST_CASE("a reduction feeding elementwise work over its own data starts a new loop") {
  CHECK(ir::loop_count(mean(pow<2>(x - mean(x)))) == 2);  // variance of mean-centred data
  CHECK(ir::loop_count(x / sum(x)) == 2);                 // normalisation: the output needs the total
  CHECK(ir::loop_count(sum(log(x / sum(x)))) == 2);
  CHECK(ir::loop_count(sum(x / sum(exp(x)))) == 1);    // = sum(x)/sum(exp(x)): scalar factors leave the sum
  CHECK(ir::loop_count(mean(x) * mean(exp(x))) == 1);  // independent reductions over one axis share a loop
  CHECK(ir::loop_count(mean(x) * mean(t)) == 2);       // x and t never meet: they may differ in length
  CHECK(ir::loop_count(logsumexp(x)) == 2);            // the max, then Σ exp(x − max)
}

TEST_CASE("row-wise reductions complete inside the row loop") {
  constexpr auto Z = input<"Z", 2>;
  constexpr auto Y = input<"Y", 2>;
  CHECK(ir::loop_count(sum<1>(Z)) == 1);
  CHECK(ir::loop_count(logsumexp<1>(Z)) == 1);                  // per row: max, then Σ exp
  CHECK(ir::loop_count(Z - mean<1>(Z, keepdims)) == 1);         // centring each row needs its mean first, in the row
  constexpr auto loss = mean(logsumexp<1>(Z) - sum<1>(Y * Z));  // cross-entropy on logits
  constexpr auto P = var<"P", 2>;
  constexpr auto ce = mean(logsumexp<1>(P) - sum<1>(Y * P));
  CHECK(ir::loop_count(loss) == 1);
  // The gradient (softmax(P) − Y)/N needs only its own row's logsumexp: loss and gradient in one
  // pass.
  CHECK(ir::loop_count(ce, grad(ce, P)) == 1);
}

TEST_CASE("elementwise and scalar-only programs") {
  CHECK(ir::loop_count(exp(x) * t, x + t) == 1);
  CHECK(ir::loop_count(w * b + 1_c) == 0);
  CHECK(ir::loop_count(grad(sum(W), W)) == 1);  // expand(1, W): a tensor of ones
}

TEST_CASE("broadcasting an (n, 1) against a (1, m) iterates both, in the leaves' order") {
  constexpr auto column = unsqueeze<1>(x);  // (n, 1)
  constexpr auto row = unsqueeze<0>(t);     // (1, m)
  constexpr auto grid = column * row;
  constexpr auto plan = plan_of(grid);
  CHECK(plan.classes == 2);
  CHECK(plan.loops == 1);
  CHECK(count(plan, ir::instr::enter) == 2);
}

TEST_CASE("a two-layer network: the hidden layer is kept per row, not per data set") {
  constexpr auto W1 = var<"W1", 2>;   // (D, H)
  constexpr auto w2 = var<"w2", 1>;   // (H)
  constexpr auto z1 = matmul(X, W1);  // (N, H)
  constexpr auto loss = mse(matmul(tanh(z1), w2), t);
  constexpr auto grads = grad(loss, W1, w2);
  constexpr auto plan = plan_of(loss, std::get<0>(grads), std::get<1>(grads));
  // Per row: z1[n, :] (a buffer of H), the prediction, then both gradients: one pass over X.
  CHECK(plan.loops == 1);
  constexpr int hidden = node_index(z1, loss, std::get<0>(grads), std::get<1>(grads));
  CHECK_FALSE(plan.global[hidden]);
  CHECK(std::popcount(plan.buffer_dims[hidden]) == 1);
}

// The number of times node n is computed in a plan.
template <std::size_t N>
constexpr int computes_of(const ir::plan_data<N>& plan, int n) {
  int found = 0;
  for (int i = 0; i < plan.size; ++i)
    found += plan.code[static_cast<std::size_t>(i)].op == ir::instr::compute &&
                     plan.code[static_cast<std::size_t>(i)].node == n
                 ? 1
                 : 0;
  return found;
}

TEST_CASE("a costly value that a deeper loop would recompute is computed once per element into a buffer") {
  // W4's network: the loops are (n, d, h), W1's row-major order. dL/dW1[d, h] reads tanh(z1[n, h])
  // under the loop over d, which would evaluate tanh D times per element; it is computed once per
  // row into a buffer over h instead, and the step stays one pass over X.
  constexpr auto W1 = var<"W1", 2>;  // (D, H)
  constexpr auto b1 = var<"b1", 1>;  // (H)
  constexpr auto w2 = var<"w2", 1>;  // (H)
  constexpr auto hidden = tanh(matmul(X, W1) + b1);
  constexpr auto loss = mse(matmul(hidden, w2) + b, t);
  constexpr auto grads = grad(loss, W1, b1, w2, b);
  constexpr auto gW1 = std::get<0>(grads);
  constexpr auto gb1 = std::get<1>(grads);
  constexpr auto gw2 = std::get<2>(grads);
  constexpr auto gb = std::get<3>(grads);
  constexpr auto plan = plan_of(loss, gW1, gb1, gw2, gb);
  constexpr int a = node_index(hidden, loss, gW1, gb1, gw2, gb);
  CHECK(plan.loops == 1);
  CHECK(plan.cached[a]);
  CHECK_FALSE(plan.global[a]);
  CHECK(std::popcount(plan.buffer_dims[a]) == 1);  // H values per row
  CHECK(computes_of(plan, a) == 1);

  // A costly value of the parameters alone (exp(v[d]) read for every row) is computed once per
  // step, in a loop over d of its own before the pass over the rows; dv = exp(v)·Σₙ X[n, :] is
  // written by a loop over d after it, reading the same buffer.
  constexpr auto scores = sum(matmul(X, exp(v)));
  constexpr auto dv = grad(scores, v);
  constexpr auto invariant = plan_of(scores, dv);
  constexpr int e = node_index(exp(v), scores, dv);
  CHECK(invariant.cached[e]);
  CHECK(invariant.global[e]);
  CHECK(invariant.loops == 3);
  CHECK(computes_of(invariant, e) == 1);

  // A value computed once per element where it is read is not buffered.
  constexpr auto logistic = bce_with_logits(matmul(X, v) + b, t);
  constexpr auto lv = grad(logistic, v);
  constexpr auto one_pass = plan_of(logistic, lv);
  bool any = false;
  for (bool c : one_pass.cached) any = any || c;
  CHECK_FALSE(any);
  CHECK(one_pass.loops == 1);
}

// The first instruction of kind `op` on node n, or -1.
template <std::size_t N>
constexpr int find(const ir::plan_data<N>& plan, ir::instr op, int n) {
  for (int i = 0; i < plan.size; ++i)
    if (plan.code[static_cast<std::size_t>(i)].op == op && plan.code[static_cast<std::size_t>(i)].node == n) return i;
  return -1;
}

TEST_CASE("the plan's invariant: every read of a stored value comes after the statement that completes it") {
  // f = Σ_h exp(s_h), s_h = Σ_n P[n,h]·v[h], with ∂f/∂v: exp(s) is cached; Σ_h exp(s_h) once read
  // the cache inside the loop that fills it, which the previous call had left behind.
  constexpr auto P = input<"P", 2>;
  constexpr auto f = sum(exp(sum<0>(P * v)));
  constexpr auto g = grad(f, v);
  using planned = ir::program_plan<decltype(f), decltype(g)>;
  constexpr auto plan = planned::value;
  static_assert(ir::verify(plan, planned::nodes).ok());
  constexpr int cache = index_of<decltype(exp(sum<0>(P * v))), planned::order>;
  constexpr int total = index_of<decltype(f), planned::order>;
  CHECK(plan.cached[cache]);
  // The total's loop starts after the cache's loop has ended.
  CHECK(find(plan, ir::instr::accumulate, total) > plan.code[static_cast<std::size_t>(plan.done[cache])].match);

  // The checker names each broken rule. The old plan's mistake: reading the cache inside the loop
  // that completes it.
  constexpr auto stale = [] {
    auto bad = planned::value;
    const int filler = find(bad, ir::instr::compute, cache);
    bad.code[static_cast<std::size_t>(filler)].operands[0] = {ir::source::reduction, cache, -1};
    return bad;
  }();
  constexpr auto stale_check = ir::verify(stale, planned::nodes);
  CHECK(stale_check.broken == ir::violation::rule::buffer_not_complete);
  CHECK(stale_check.node == cache);

  // A value read before the instruction that computes it.
  constexpr auto early = [] {
    auto bad = planned::value;
    for (int i = 0; i < bad.size; ++i)
      for (auto& o : bad.code[static_cast<std::size_t>(i)].operands)
        if (o.s == ir::source::value) {
          o.item = i + 1;
          return bad;
        }
    return bad;
  }();
  CHECK(ir::verify(early, planned::nodes).broken == ir::violation::rule::value_out_of_scope);

  // A row's local logit read outside the loop over rows: the logistic loss's root value made to
  // read z[n].
  constexpr auto z = matmul(X, v);
  constexpr auto loss = bce_with_logits(z + b, t);
  using logistic = ir::program_plan<decltype(loss)>;
  static_assert(ir::verify(logistic::value, logistic::nodes).ok());
  constexpr int logit = index_of<decltype(z), logistic::order>;
  CHECK_FALSE(logistic::value.global[logit]);
  constexpr auto outside = [] {
    auto bad = logistic::value;
    for (int i = bad.size - 1; i >= 0; --i)
      if (bad.code[static_cast<std::size_t>(i)].op == ir::instr::compute &&
          bad.code[static_cast<std::size_t>(i)].depth == 0) {
        bad.code[static_cast<std::size_t>(i)].operands[0] = {ir::source::reduction, logit, -1};
        return bad;
      }
    return bad;
  }();
  CHECK(ir::verify(outside, logistic::nodes).broken == ir::violation::rule::local_read_at_root);
}

TEST_CASE("the plan checker names every rule a mutated plan breaks") {
  // Two top-level loops: Σ_n exp(Σ_m exp(Z[n,m])), whose inner sums are local (per row), and Σ x·t;
  // and a flattened computed value read by a later loop (a written-out view).
  constexpr auto Z = input<"Z", 2>;
  constexpr auto rows = sum(exp(sum<1>(exp(Z))));
  constexpr auto other = sum(x * t);
  using two = ir::program_plan<decltype(rows), decltype(other)>;
  static_assert(ir::verify(two::value, two::nodes).ok());
  constexpr int row_sum = index_of<decltype(sum<1>(exp(Z))), two::order>;
  constexpr int total = index_of<decltype(other), two::order>;
  CHECK_FALSE(two::value.global[row_sum]);
  CHECK(two::value.loops == 2);

  // The other loop reads a row's sum: outside the iteration that completes it.
  constexpr auto elsewhere = [] {
    auto bad = two::value;
    bad.code[static_cast<std::size_t>(find(bad, ir::instr::accumulate, total))].operands[0] = {ir::source::reduction,
                                                                                               row_sum, -1};
    return bad;
  }();
  CHECK(ir::verify(elsewhere, two::nodes).broken == ir::violation::rule::buffer_out_of_scope);

  // A second accumulate of the row sum.
  constexpr auto twice = [] {
    auto bad = two::value;
    const int first = find(bad, ir::instr::accumulate, row_sum);
    bad.code[static_cast<std::size_t>(find(bad, ir::instr::accumulate, total))] =
        bad.code[static_cast<std::size_t>(first)];
    return bad;
  }();
  CHECK(ir::verify(twice, two::nodes).broken == ir::violation::rule::accumulate_misplaced);

  // An exit that is not its loop's: the first loop's exit made to name an accumulate as its enter.
  constexpr auto crossed = [] {
    auto bad = two::value;
    for (int i = 0; i < bad.size; ++i)
      if (bad.code[static_cast<std::size_t>(i)].op == ir::instr::exit) {
        bad.code[static_cast<std::size_t>(i)].match = find(bad, ir::instr::accumulate, total);
        return bad;
      }
    return bad;
  }();
  CHECK(ir::verify(crossed, two::nodes).broken == ir::violation::rule::loops_not_nested);

  // The row sum never reset: each row would add to the previous row's (or call's) sums.
  constexpr auto unreset = [] {
    auto bad = two::value;
    bad.code[static_cast<std::size_t>(find(bad, ir::instr::reset, row_sum))].node = total;
    return bad;
  }();
  CHECK(ir::verify(unreset, two::nodes).broken == ir::violation::rule::reset_misplaced);

  // The row sum marked global, though it completes inside the loop over rows: it would be read
  // from the tasks' folded results and never reset per row.
  constexpr auto regional = [] {
    auto bad = two::value;
    bad.global[static_cast<std::size_t>(row_sum)] = true;
    return bad;
  }();
  CHECK(ir::verify(regional, two::nodes).broken == ir::violation::rule::scope_mismatch);

  // The row sum never accumulated: its reads would see only the reset.
  constexpr auto uncomputed = [] {
    auto bad = two::value;
    bad.code[static_cast<std::size_t>(find(bad, ir::instr::accumulate, row_sum))].op = ir::instr::compute;
    return bad;
  }();
  CHECK(ir::verify(uncomputed, two::nodes).broken == ir::violation::rule::buffer_not_complete);

  // A flattened computed value whose writing loop is gone.
  constexpr auto flat = sum(flatten(exp(Z)) * sum(exp(Z)));
  using viewed = ir::program_plan<decltype(flat)>;
  static_assert(ir::verify(viewed::value, viewed::nodes).ok());
  constexpr int view = index_of<decltype(flatten(exp(Z))), viewed::order>;
  constexpr auto unwritten = [] {
    auto bad = viewed::value;
    bad.code[static_cast<std::size_t>(find(bad, ir::instr::materialize, view))].node = -1;
    return bad;
  }();
  CHECK(ir::verify(unwritten, viewed::nodes).broken == ir::violation::rule::view_not_written);

  // The total of a single top-level loop marked local: each task would read its own partial.
  constexpr int whole = index_of<decltype(sum(exp(Z))), viewed::order>;
  constexpr auto partial = [] {
    auto bad = viewed::value;
    bad.global[static_cast<std::size_t>(whole)] = false;
    return bad;
  }();
  CHECK(ir::verify(partial, viewed::nodes).broken == ir::violation::rule::scope_mismatch);
}
