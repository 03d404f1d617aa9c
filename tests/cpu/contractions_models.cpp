// Contractions (contractions.hpp): a two-hidden-layer MLP, and a Gaussian mixture's log-likelihood
// with its inverse covariances given by Cholesky factors.
#include "contractions.hpp"

using namespace kobai;
using namespace kobai::literals;
using namespace contraction_test;

namespace {
constexpr auto X = input<"X", 2>;  // (N, D)

// The MLP D → H tanh → H tanh → 1 with MSE against t, by hand with every gradient.
struct deep_reference {
  double loss = 0;
  std::vector<double> dW1, dW2, dw3;
};
deep_reference deep_by_hand(const matrix& x, const matrix& t, const matrix& w1, const matrix& w2, const matrix& w3) {
  const std::size_t n = x.rows, d = x.columns, h = w1.columns;
  deep_reference r{0, std::vector<double>(d * h), std::vector<double>(h * h), std::vector<double>(h)};
  std::vector<double> a(h), b(h), da(h), db(h);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < h; ++k) {
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) s += x(i, j) * w1(j, k);
      a[k] = std::tanh(s);
    }
    double prediction = 0;
    for (std::size_t k = 0; k < h; ++k) {
      double s = 0;
      for (std::size_t j = 0; j < h; ++j) s += a[j] * w2(j, k);
      b[k] = std::tanh(s);
      prediction += b[k] * w3.data[k];
    }
    const double residual = prediction - t.data[i];
    r.loss += residual * residual / static_cast<double>(n);
    const double g = 2 * residual / static_cast<double>(n);
    for (std::size_t k = 0; k < h; ++k) {
      r.dw3[k] += g * b[k];
      db[k] = g * w3.data[k] * (1 - b[k] * b[k]);
    }
    for (std::size_t j = 0; j < h; ++j) {
      da[j] = 0;
      for (std::size_t k = 0; k < h; ++k) {
        da[j] += db[k] * w2(j, k);
        r.dW2[j * h + k] += a[j] * db[k];
      }
      da[j] *= 1 - a[j] * a[j];
      for (std::size_t m = 0; m < d; ++m) r.dW1[m * h + j] += x(i, m) * da[j];
    }
  }
  return r;
}

// The mixture's log-likelihood (without the constant −N·D/2·log 2π) by hand, in float64: Q_k is
// lower triangular with diagonal exp(L_k[j, j]) and L_k's entries below it.
double mixture_by_hand(const matrix& x, const std::vector<double>& alphas, const std::vector<double>& means,
                       const std::vector<double>& factors) {
  const std::size_t n = x.rows, d = x.columns, k = alphas.size();
  auto logsumexp = [](const std::vector<double>& v) {
    const double top = *std::max_element(v.begin(), v.end());
    double total = 0;
    for (double e : v) total += std::exp(e - top);
    return top + std::log(total);
  };
  double total = -static_cast<double>(n) * logsumexp(alphas);
  std::vector<double> inner(k);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t m = 0; m < k; ++m) {
      double squares = 0, logdet = 0;
      for (std::size_t j = 0; j < d; ++j) {
        double y = 0;
        for (std::size_t l = 0; l <= j; ++l) {
          const double q = factors[(m * d + j) * d + l];
          y += (l == j ? std::exp(q) : q) * (x(i, l) - means[m * d + l]);
        }
        squares += y * y;
        logdet += factors[(m * d + j) * d + j];
      }
      inner[m] = alphas[m] + logdet - 0.5 * squares;
    }
    total += logsumexp(inner);
  }
  return total;
}
}  // namespace

TEST_CASE_TEMPLATE("an MLP D → H tanh → H tanh → 1: the H × H contraction and its gradients, in blocks and row by row",
                   T, float, double) {
  constexpr auto t = input<"t", 1>;
  constexpr auto W1 = var<"W1", 2>;
  constexpr auto W2 = var<"W2", 2>;
  constexpr auto w3 = var<"w3", 1>;
  constexpr auto loss = mse(matmul(tanh(matmul(tanh(matmul(X, W1)), W2)), w3), t);
  auto step = compile(loss, grad(loss, W1), grad(loss, W2), grad(loss, w3));
  unsigned seed = 300;
  for (std::size_t n : {7U, 257U})
    for (std::size_t h : {1U, 17U, 33U}) {
      const std::size_t d = 7;
      for (int call = 0; call < 2; ++call, seed += 10) {
        const matrix x = rounded<T>(random_matrix(n, d, 1.0, seed)),
                     target = rounded<T>(random_matrix(1, n, 1.0, seed + 1));
        const matrix w1 = rounded<T>(random_matrix(d, h, 0.5, seed + 2)),
                     w2 = rounded<T>(random_matrix(h, h, 0.3, seed + 3));
        const matrix w3v = rounded<T>(random_matrix(1, h, 0.4, seed + 4));
        const deep_reference want = deep_by_hand(x, target, w1, w2, w3v);
        for (const configuration& setting : configurations) {
          step.threads(setting.threads).grain(1).blocks(setting.blocks ? decltype(step)::block_extent : 0);
          const auto [L, dW1, dW2, dw3] = step(X = tensor<T>(x), t = vector<T>(target), W1 = tensor<T>(w1),
                                               W2 = tensor<T>(w2), w3 = vector<T>(w3v));
          INFO("N = " << n << ", H = " << h << ", call " << call << ", " << setting);
          CHECK(relative_error(static_cast<double>(L), want.loss) < tolerance<T>);
          CHECK(relative_error(dW1, want.dW1) < tolerance<T>);
          CHECK(relative_error(dW2, want.dW2) < tolerance<T>);
          CHECK(relative_error(dw3, want.dw3) < tolerance<T>);
        }
      }
    }
}

TEST_CASE("a Gaussian mixture's log-likelihood and its gradients against float64 loops and central differences") {
  constexpr auto alphas = var<"alphas", 1>;          // (K)
  constexpr auto means = var<"means", 2>;            // (K, D)
  constexpr auto L = var<"L", 3>;                    // (K, D, D): log-diagonal and strictly lower factors
  constexpr auto eye = input<"eye", 2>;              // (D, D)
  constexpr auto lower = input<"lower", 2>;          // (D, D): 1 below the diagonal
  constexpr auto Q = eye * exp(L) + lower * L;       // (K, D, D)
  constexpr auto centred = unsqueeze<1>(X) - means;  // (N, K, D)
  constexpr auto y = sum<3>(unsqueeze<0>(Q) * unsqueeze<2>(centred));              // (N, K, D): Q_k (x − μ_k)
  constexpr auto inner = alphas + sum<1, 2>(eye * L) - 0.5_c * sum<2>(pow<2>(y));  // (N, K)
  constexpr auto objective = sum(logsumexp<1>(inner)) - numel(sum<1>(X)) * logsumexp(alphas);
  auto step = compile(objective, grad(objective, alphas), grad(objective, means), grad(objective, L));
  for (std::size_t n : {1U, 33U, 257U})
    for (const auto& shape : {std::pair<std::size_t, std::size_t>{1, 1}, {3, 4}, {5, 7}}) {
      const std::size_t k = shape.first, d = shape.second;  // not a structured binding: INFO captures them
      unsigned seed = static_cast<unsigned>(n * 100 + k * 10 + d);
      for (int call = 0; call < 2; ++call, seed += 7) {
        const matrix x = random_matrix(n, d, 1.0, seed);
        std::vector<double> a = random_matrix(1, k, 0.5, seed + 1).data, mu = random_matrix(k, d, 0.5, seed + 2).data,
                            f = random_matrix(k * d, d, 0.3, seed + 3).data;
        matrix identity(d, d), below(d, d);
        for (std::size_t j = 0; j < d; ++j)
          for (std::size_t l = 0; l < d; ++l) identity(j, l) = j == l ? 1 : 0, below(j, l) = l < j ? 1 : 0;
        auto Lv = xt::xtensor<double, 3>::from_shape({k, d, d});
        std::copy(f.begin(), f.end(), Lv.begin());
        const double want = mixture_by_hand(x, a, mu, f);
        // central differences of the hand-written objective, every parameter
        auto derivative = [&](std::vector<double>& p, std::size_t e) {
          const double saved = p[e], step_size = 1e-6 * std::max(1.0, std::abs(saved));
          p[e] = saved + step_size;
          const double up = mixture_by_hand(x, a, mu, f);
          p[e] = saved - step_size;
          const double down = mixture_by_hand(x, a, mu, f);
          p[e] = saved;
          return (up - down) / (2 * step_size);
        };
        std::vector<double> da(k), dmu(k * d), dL(k * d * d);
        for (std::size_t e = 0; e < k; ++e) da[e] = derivative(a, e);
        for (std::size_t e = 0; e < k * d; ++e) dmu[e] = derivative(mu, e);
        for (std::size_t e = 0; e < k * d * d; ++e) dL[e] = derivative(f, e);
        for (const configuration& setting : configurations) {
          step.threads(setting.threads).grain(1).blocks(setting.blocks ? decltype(step)::block_extent : 0);
          const auto [value, ga, gmu, gL] = step(X = tensor<double>(x), alphas = vector<double>(matrix{1, k, a}),
                                                 means = tensor<double>(matrix{k, d, mu}), L = Lv,
                                                 eye = tensor<double>(identity), lower = tensor<double>(below));
          INFO("N = " << n << ", K = " << k << ", D = " << d << ", call " << call << ", " << setting);
          CHECK(relative_error(value, want) < 1e-11);
          CHECK(relative_error(ga, da) < 1e-7);
          CHECK(relative_error(gmu, dmu) < 1e-7);
          CHECK(relative_error(gL, dL) < 1e-7);
        }
      }
    }
}
