// Traced tensor code (kobai::trace with matrix leaves): an MLP loss written once as a template is
// the hand-written kobai expression, and its compiled loss and gradients match float64 loops on two
// calls with new data; the other tensor functions (sum<1>, mean, unsqueeze, softmax, cross-entropy,
// transpose, keepdims) trace to their hand-written forms.
#include "contractions.hpp"

using namespace kobai;
using namespace kobai::literals;
using namespace contraction_test;

namespace {
constexpr auto X = input<"X", 2>;  // (N, D)
constexpr auto Y = input<"Y", 2>;  // (N, 1)
constexpr auto W1 = var<"W1", 2>;  // (D, H)
constexpr auto b1 = var<"b1", 1>;  // (H)
constexpr auto W2 = var<"W2", 2>;  // (H, 1)
constexpr auto b2 = var<"b2", 1>;  // (1)

/// A one-hidden-layer regression MLP's loss, as generic code: kobai's tensor functions are found
/// by argument-dependent lookup on the traced arguments.
template <class T>
constexpr T mlp_loss(T x, T w1, T c1, T w2, T c2, T y) {
  const T hidden = tanh(matmul(x, w1) + c1);
  return mse(matmul(hidden, w2) + c2, y) + 0.001 * sum(w1 * w1);
}
constexpr auto traced_loss = trace([](auto... a) { return mlp_loss(a...); }, X, W1, b1, W2, b2, Y);
// The traced double 0.001 is its exact binary value, 1152921504606847/2^60.
constexpr auto hand_loss =
    mse(matmul(tanh(matmul(X, W1) + b1), W2) + b2, Y) + literal<1152921504606847, 1152921504606846976> * sum(W1 * W1);
static_assert(same(traced_loss, hand_loss));
static_assert(same(grad(traced_loss, W1), grad(hand_loss, W1)));

struct mlp_reference {
  double loss = 0;
  std::vector<double> dW1, db1, dW2, db2;
};
// The loss and its gradients by hand, in float64. 0.001 is the traced double, not 1/1000.
mlp_reference mlp_by_hand(const matrix& x, const matrix& y, const matrix& w1, const matrix& c1, const matrix& w2,
                          const matrix& c2) {
  const std::size_t n = x.rows, d = x.columns, h = w1.columns;
  mlp_reference r{0, std::vector<double>(d * h), std::vector<double>(h), std::vector<double>(h),
                  std::vector<double>(1)};
  std::vector<double> a(h);
  for (std::size_t i = 0; i < n; ++i) {
    double prediction = c2.data[0];
    for (std::size_t k = 0; k < h; ++k) {
      double s = c1.data[k];
      for (std::size_t j = 0; j < d; ++j) s += x(i, j) * w1(j, k);
      a[k] = std::tanh(s);
      prediction += a[k] * w2.data[k];
    }
    const double residual = prediction - y.data[i];
    r.loss += residual * residual / static_cast<double>(n);
    const double g = 2 * residual / static_cast<double>(n);
    r.db2[0] += g;
    for (std::size_t k = 0; k < h; ++k) {
      r.dW2[k] += g * a[k];
      const double da = g * w2.data[k] * (1 - a[k] * a[k]);
      r.db1[k] += da;
      for (std::size_t j = 0; j < d; ++j) r.dW1[j * h + k] += x(i, j) * da;
    }
  }
  for (std::size_t e = 0; e < d * h; ++e) {
    r.loss += 0.001 * w1.data[e] * w1.data[e];
    r.dW1[e] += 2 * 0.001 * w1.data[e];
  }
  return r;
}
}  // namespace

TEST_CASE_TEMPLATE("a traced MLP loss and its gradients against float64 loops, twice with new data", T, float, double) {
  auto step =
      compile(traced_loss, grad(traced_loss, W1), grad(traced_loss, b1), grad(traced_loss, W2), grad(traced_loss, b2));
  unsigned seed = 700;
  for (int call = 0; call < 2; ++call, seed += 10) {
    const std::size_t n = 33 + 20 * static_cast<std::size_t>(call), d = 5, h = 7;
    const matrix x = rounded<T>(random_matrix(n, d, 1.0, seed)), y = rounded<T>(random_matrix(n, 1, 1.0, seed + 1));
    const matrix w1 = rounded<T>(random_matrix(d, h, 0.5, seed + 2)),
                 c1 = rounded<T>(random_matrix(1, h, 0.2, seed + 3));
    const matrix w2 = rounded<T>(random_matrix(h, 1, 0.4, seed + 4)),
                 c2 = rounded<T>(random_matrix(1, 1, 0.1, seed + 5));
    const mlp_reference want = mlp_by_hand(x, y, w1, c1, w2, c2);
    const auto [L, dW1, db1, dW2, db2] = step(X = tensor<T>(x), Y = tensor<T>(y), W1 = tensor<T>(w1),
                                              b1 = vector<T>(c1), W2 = tensor<T>(w2), b2 = vector<T>(c2));
    INFO("call " << call << ", N = " << n);
    CHECK(relative_error(static_cast<double>(L), want.loss) < tolerance<T>);
    CHECK(relative_error(dW1, want.dW1) < tolerance<T>);
    CHECK(relative_error(db1, want.db1) < tolerance<T>);
    CHECK(relative_error(dW2, want.dW2) < tolerance<T>);
    CHECK(relative_error(db2, want.db2) < tolerance<T>);
  }
}

namespace {
template <class T>
constexpr T classifier(T x, T w, T c, T y) {
  const T logits = matmul(x, w) + unsqueeze<0>(c);
  return cross_entropy(logits, y) + 0.5 * mean(w * w);
}
constexpr auto W = var<"W", 2>;
constexpr auto c = var<"c", 1>;
static_assert(same(trace([](auto... a) { return classifier(a...); }, X, W, c, Y),
                   cross_entropy(matmul(X, W) + unsqueeze<0>(c), Y) + 0.5_c * mean(W * W)));

template <class T>
constexpr T reductions(T z, T u) {
  return sum(sum<1>(z) * u) + max(logsumexp<1>(z)) + sum(softmax<0>(z)) + sum(matmul(transpose(z), z)) +
         min(sum<1>(z, keepdims)) + sum(mean<0>(z, keepdims) * z) + sum(max<0>(z, keepdims) - min<-1>(z)) + dot(u, u) +
         numel(z) * mean(flatten(z)) + sum(prod<1>(z, keepdims)) + prod(u);
}
constexpr auto Zs = var<"Z", 2>;
constexpr auto u = var<"u", 1>;
static_assert(same(trace([](auto z, auto v) { return reductions(z, v); }, Zs, u),
                   sum(sum<1>(Zs) * u) + max(logsumexp<1>(Zs)) + sum(softmax<0>(Zs)) + sum(matmul(transpose(Zs), Zs)) +
                       min(sum<1>(Zs, keepdims)) + sum(mean<0>(Zs, keepdims) * Zs) +
                       sum(max<0>(Zs, keepdims) - min<-1>(Zs)) + dot(u, u) + numel(Zs) * mean(flatten(Zs)) +
                       sum(prod<1>(Zs, keepdims)) + prod(u)));
}  // namespace
