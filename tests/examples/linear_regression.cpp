// The linear_regression example against a hand-written SGD loop and closed-form least squares.
#include <doctest/doctest.h>

#include "../../examples/linear_regression.hpp"

TEST_CASE("five SGD steps match the same steps written by hand") {
  const auto r = example::linear_regression::compute();
  const double x[] = {1, 2, 3}, t[] = {2, 4, 6};
  double w = 0.5, b = 0;
  for (int step = 0; step < 5; ++step) {
    double gw = 0, gb = 0;  // dL/dw = 2/n Σ r·x, dL/db = 2/n Σ r
    for (int i = 0; i < 3; ++i) {
      const double residual = w * x[i] + b - t[i];
      gw += 2 * residual * x[i] / 3;
      gb += 2 * residual / 3;
    }
    w -= 0.01 * gw;
    b -= 0.01 * gb;
  }
  CHECK(r.sgd5_w_b[0] == doctest::Approx(w).epsilon(1e-12));
  CHECK(r.sgd5_w_b[1] == doctest::Approx(b).epsilon(1e-12));
  for (int i = 0; i < 3; ++i) CHECK(r.sgd5_pred[i] == doctest::Approx(w * x[i] + b).epsilon(1e-12));
}

TEST_CASE("the fit converges to the least-squares solution") {
  const auto r = example::linear_regression::compute();
  // The same data, and the closed-form ordinary least squares in double.
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  const std::size_t n = 100'000;
  std::vector<double> x(n), t(n);
  for (std::size_t i = 0; i < n; ++i) {
    const float xi = normal(rng);
    x[i] = xi;
    t[i] = 2 * xi + 0.1f * normal(rng);
  }
  double mx = 0, mt = 0;
  for (std::size_t i = 0; i < n; ++i) mx += x[i] / n, mt += t[i] / n;
  double sxt = 0, sxx = 0;
  for (std::size_t i = 0; i < n; ++i) sxt += (x[i] - mx) * (t[i] - mt), sxx += (x[i] - mx) * (x[i] - mx);
  const double w_star = sxt / sxx, b_star = mt - w_star * mx;
  CHECK(r.fit_w == doctest::Approx(w_star).epsilon(1e-4));
  CHECK(r.fit_b == doctest::Approx(b_star).scale(1).epsilon(1e-4));
  // The loss falls every epoch and ends at the noise floor, 0.1² = 0.01.
  for (std::size_t e = 1; e < r.fit_loss_history.size(); ++e) CHECK(r.fit_loss_history[e] <= r.fit_loss_history[e - 1]);
  CHECK(r.fit_loss_history.back() == doctest::Approx(0.01).epsilon(0.05));
  CHECK(r.fit_loss_history.size() < 200);  // it converged rather than ran out of epochs
}
