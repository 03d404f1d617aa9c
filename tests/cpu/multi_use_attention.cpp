// Single-head self-attention with Q, K and V all from one X (ir/uses.hpp: X is read along the
// query axis and the key axis of the scores): the loss and the gradients of X, Wq, Wk and Wv against
// a float64 reference written here with plain loops (the forward pass) and central differences, in
// double, on 1 and 3 threads, in blocks and row by row, and on a second call with new
// data and new extents.
#include <cmath>

#include "contractions.hpp"
#include "kobai/ir/plan.hpp"

using namespace kobai;
using namespace kobai::literals;
using namespace contraction_test;

namespace {
// Single-head self-attention, softmax(X·Wq·(X·Wk)ᵀ/√d)·X·Wv, with the loss Σ (O − T)² / 2. The
// reference: the forward pass with plain loops in float64, and every gradient by central differences.
struct attention_data {
  matrix x, wq, wk, wv, t;
};
double attention_loss(const attention_data& a) {
  const std::size_t n = a.x.rows, e = a.x.columns, d = a.wq.columns;
  matrix q(n, d), k(n, d), val(n, d);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t c = 0; c < d; ++c)
      for (std::size_t m = 0; m < e; ++m) {
        q(i, c) += a.x(i, m) * a.wq(m, c);
        k(i, c) += a.x(i, m) * a.wk(m, c);
        val(i, c) += a.x(i, m) * a.wv(m, c);
      }
  double loss = 0;
  std::vector<double> s(n);
  for (std::size_t i = 0; i < n; ++i) {
    double top = -INFINITY;
    for (std::size_t j = 0; j < n; ++j) {
      s[j] = 0;
      for (std::size_t c = 0; c < d; ++c) s[j] += q(i, c) * k(j, c);
      s[j] /= std::sqrt(static_cast<double>(d));
      top = std::max(top, s[j]);
    }
    double total = 0;
    for (std::size_t j = 0; j < n; ++j) total += std::exp(s[j] - top);
    for (std::size_t c = 0; c < d; ++c) {
      double o = 0;
      for (std::size_t j = 0; j < n; ++j) o += std::exp(s[j] - top) / total * val(j, c);
      loss += (o - a.t(i, c)) * (o - a.t(i, c)) / 2;
    }
  }
  return loss;
}
std::vector<double> central_difference(attention_data point, matrix attention_data::*parameter) {
  std::vector<double> gradient((point.*parameter).data.size());
  for (std::size_t e = 0; e < gradient.size(); ++e) {
    double& value = (point.*parameter).data[e];
    const double saved = value, h = 1e-5;
    value = saved + h;
    const double up = attention_loss(point);
    value = saved - h;
    const double down = attention_loss(point);
    value = saved;
    gradient[e] = (up - down) / (2 * h);
  }
  return gradient;
}
}  // namespace

TEST_CASE("single-head self-attention with Q, K and V from one X: the loss and every gradient") {
  using T = double;  // (float is checked on the smaller programs of tests/cpu/multi_use.cpp)
  constexpr auto Xv = var<"X", 2>;
  constexpr auto Wq = var<"Wq", 2>;
  constexpr auto Wk = var<"Wk", 2>;
  constexpr auto Wv = var<"Wv", 2>;
  constexpr auto Tt = input<"T", 2>;
  constexpr auto scores = matmul(matmul(Xv, Wq), transpose(matmul(Xv, Wk))) / 2_c;  // d = 4: √d = 2
  constexpr auto out = matmul(softmax<-1>(scores), matmul(Xv, Wv));
  constexpr auto loss = sum(pow<2>(out - Tt)) / 2_c;
  // One more than with three leaves X₁, X₂, X₃ for Q, K and V and their gradients added (13). (28 while each further
  // reading of a product summed it again, before ir/uses.hpp read its stored value; 21 while statements were placed in
  // node order alone, before ir/nests.hpp placed those that read a sum over the rows after those that read none.)
  CHECK(ir::loop_count(loss, grad(loss, Xv), grad(loss, Wq), grad(loss, Wk), grad(loss, Wv)) == 14);
  auto step = compile(loss, grad(loss, Xv, Wq, Wk, Wv));
  const double tolerance_here = 1e-8;  // central differences' truncation error is about h² = 1e-10
  unsigned seed = 200;
  for (std::size_t n : {1U, 5U, 19U})
    for (int call = 0; call < 2; ++call, seed += 5) {
      const std::size_t rows = n + call, e = 3 + static_cast<std::size_t>(call), d = 4;
      attention_data a{rounded<T>(random_matrix(rows, e, 1.0, seed)), rounded<T>(random_matrix(e, d, 0.8, seed + 1)),
                       rounded<T>(random_matrix(e, d, 0.8, seed + 2)), rounded<T>(random_matrix(e, d, 0.8, seed + 3)),
                       rounded<T>(random_matrix(rows, d, 1.0, seed + 4))};
      const double want = attention_loss(a);
      const std::vector<double> dx = central_difference(a, &attention_data::x),
                                dq = central_difference(a, &attention_data::wq),
                                dk = central_difference(a, &attention_data::wk),
                                dv = central_difference(a, &attention_data::wv);
      for (const configuration& setting : configurations) {
        configure(step, setting);
        const auto [L, dX, dWq, dWk, dWv] = step(Xv = tensor<T>(a.x), Wq = tensor<T>(a.wq), Wk = tensor<T>(a.wk),
                                                 Wv = tensor<T>(a.wv), Tt = tensor<T>(a.t));
        INFO("N = " << rows << ", E = " << e << ", call " << call << ", " << setting);
        CHECK(relative_error(static_cast<double>(L), want) < tolerance_here);
        CHECK(relative_error(dX, dx) < tolerance_here);
        CHECK(relative_error(dWq, dq) < tolerance_here);
        CHECK(relative_error(dWk, dk) < tolerance_here);
        CHECK(relative_error(dWv, dv) < tolerance_here);
      }
    }
}
