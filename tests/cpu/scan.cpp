// kobai::scan (issue 16, loops over time): recurrences over a number of steps known at run time.
// - An RK4 integrator of the harmonic oscillator over 1000 steps, against the analytic solution
//   and its derivatives with respect to the initial state and the frequency.
// - ADBench's diagonal LSTM: scan_lstm.cpp (a file of its own, so that each compiles in under 30 s).
// - Checkpointing: the same bits with every segment length, and the memory it saves.
// - Values emitted by each step (jax's ys), against the recurrence written here as a loop.
// Each runs twice, the second time with new data and another number of steps.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "../heap_count.hpp"
#include "kobai/cpu/scan.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {

// q'' = −ω² q as q' = p, p' = −ω² q; one classical Runge–Kutta step of size dt.
constexpr auto q = var<"q">;
constexpr auto p = var<"p">;
constexpr auto w = var<"omega">;
constexpr auto dt = input<"dt">;
constexpr auto half = literal<1, 2>;
constexpr auto k1q = p;
constexpr auto k1p = -(w * w) * q;
constexpr auto k2q = p + half * dt * k1p;
constexpr auto k2p = -(w * w) * (q + half * dt * k1q);
constexpr auto k3q = p + half * dt * k2p;
constexpr auto k3p = -(w * w) * (q + half * dt * k2q);
constexpr auto k4q = p + dt * k3p;
constexpr auto k4p = -(w * w) * (q + dt * k3q);
constexpr auto sixth = literal<1, 6>;
constexpr auto next_q = q + dt * sixth * (k1q + 2_c * k2q + 2_c * k3q + k4q);
constexpr auto next_p = p + dt * sixth * (k1p + 2_c * k2p + 2_c * k3p + k4p);

}  // namespace

TEST_CASE("scan: RK4 over 1000 steps against the analytic solution and its gradient") {
  auto oscillator = scan(carry(q, next_q), carry(p, next_p), final_loss(q));
  for (int call = 0; call < 2; ++call) {
    const std::size_t steps = call == 0 ? 1000 : 1500;
    const double q0 = call == 0 ? 0.7 : -0.4, p0 = call == 0 ? -0.2 : 0.9, omega = call == 0 ? 1.3 : 0.8;
    const double step = 10.0 / static_cast<double>(steps), time = 10.0;
    oscillator.steps(steps);
    const auto r = oscillator.gradient(q = q0, p = p0, w = omega, dt = step);
    const double c = std::cos(omega * time), s = std::sin(omega * time);
    // q(T) = q0 cos ωT + (p0/ω) sin ωT; p(T) = −q0 ω sin ωT + p0 cos ωT
    INFO("call " << call);
    CHECK(std::abs(r.loss - (q0 * c + p0 / omega * s)) < 1e-7);
    CHECK(std::abs(r.final(q) - r.loss) == 0);
    CHECK(std::abs(r.final(p) - (-q0 * omega * s + p0 * c)) < 1e-7);
    CHECK(std::abs(r.gradient(q) - c) < 1e-7);
    CHECK(std::abs(r.gradient(p) - s / omega) < 1e-7);
    const double d_omega = -q0 * time * s + p0 * (time * c / omega - s / (omega * omega));
    CHECK(std::abs(r.gradient(w) - d_omega) < 1e-6);
    // The forward run alone gives the same loss and state.
    const auto value = oscillator(q = q0, p = p0, w = omega, dt = step);
    CHECK(value.loss == r.loss);
    CHECK(value.final(p) == r.final(p));
  }
}

TEST_CASE("scan: the number of steps is a run-time fact, checked") {
  constexpr auto s = var<"s", 1>;
  constexpr auto u = input<"u", 1>;
  constexpr auto v = input<"v", 1>;
  auto walk = scan(carry(s, s + u * v), over(u, v), final_loss(sum(s)));
  const xt::xtensor<double, 2> us = {{1, 2}, {3, 4}, {5, 6}}, vs = {{1, 1}, {2, 2}}, v3 = {{1, 1}, {2, 2}, {0, 1}};
  const xt::xtensor<double, 1> s0 = {10, 20};
  CHECK_THROWS_WITH_AS(walk(s = s0, u = us, v = vs), "kobai::scan: the sequence 'v' has 2 steps where 3 were given",
                       kobai::shape_error);
  const auto r = walk.gradient(s = s0, u = us, v = v3);  // s_T = s_0 + Σ u⊙v
  CHECK(r.final(s)(0) == 10 + 1 + 6 + 0);
  CHECK(r.final(s)(1) == 20 + 2 + 8 + 6);
  CHECK(r.loss == 17 + 36);
  CHECK(r.gradient(s)(0) == 1);
  CHECK(r.gradient(s)(1) == 1);
  auto no_sequence = scan(carry(s, s * 2_c), final_loss(sum(s)));
  CHECK_THROWS_WITH_AS(no_sequence(s = s0), "kobai::scan: no sequence gives the number of steps; set it with .steps(n)",
                       kobai::error);
  no_sequence.steps(0);  // no step: the final loss of the initial state
  CHECK(no_sequence(s = s0).loss == 30);
  no_sequence.steps(3);
  const auto doubled = no_sequence.gradient(s = s0);
  CHECK(doubled.loss == 240);
  CHECK(doubled.gradient(s)(0) == 8);
}

TEST_CASE("scan: checkpointing keeps every k-th state, recomputes the rest, and gives the same bits") {
  constexpr auto h = var<"h", 1>;
  constexpr auto W = var<"W", 2>;
  constexpr auto x = input<"x", 1>;
  auto rnn = scan(carry(h, tanh(matmul(W, h) + x)), over(x), step_loss(sum(h * h)), final_loss(sum(h)));
  std::mt19937 generator(7);
  std::normal_distribution<double> normal;
  for (const std::size_t steps : {std::size_t{400}, std::size_t{23}}) {  // the second call: new data, new steps
    constexpr std::size_t n = 32;
    auto xs = xt::xtensor<double, 2>::from_shape({steps, n});
    auto h0 = xt::xtensor<double, 1>::from_shape({n});
    auto w0 = xt::xtensor<double, 2>::from_shape({n, n});
    for (auto& v : xs) v = normal(generator);
    for (auto& v : h0) v = normal(generator);
    for (auto& v : w0) v = 0.3 * normal(generator) / std::sqrt(double(n));
    reset_peak_bytes();
    const auto kept = rnn.checkpoint_every(1).gradient(h = h0, x = xs, W = w0);
    const long every_state = peak_bytes();
    for (const std::size_t every : {std::size_t{0}, std::size_t{7}, steps - 1, steps, std::size_t{1000}}) {
      CAPTURE(every);
      reset_peak_bytes();
      const auto r = rnn.checkpoint_every(every).gradient(h = h0, x = xs, W = w0);
      const long checkpointed = peak_bytes();
      CHECK(r.loss == kept.loss);
      CHECK(r.final(h) == kept.final(h));
      CHECK(r.gradient(h) == kept.gradient(h));
      CHECK(r.gradient(W) == kept.gradient(W));
      // ⌈√400⌉ = 20: 20 checkpoints and one segment of 20 states, against 400 states
      if (every == 0 && steps == 400) CHECK(checkpointed * 4 < every_state);
    }
  }
}

TEST_CASE("scan: values emitted by each step, stacked over the steps, against a loop written here") {
  constexpr auto h = var<"h", 1>;
  constexpr auto W = var<"W", 2>;
  constexpr auto x = input<"x", 1>;
  auto rnn = scan(carry(h, tanh(matmul(W, h) + x)), over(x), emit(h * 2_c, sum(h * x)), final_loss(sum(h)));
  std::mt19937 generator(9);
  std::normal_distribution<double> normal;
  for (const std::size_t steps : {std::size_t{17}, std::size_t{5}}) {  // the second call: new data, new steps
    const std::size_t n = 6 + steps % 4;
    auto xs = xt::xtensor<double, 2>::from_shape({steps, n});
    auto h0 = xt::xtensor<double, 1>::from_shape({n});
    auto w0 = xt::xtensor<double, 2>::from_shape({n, n});
    for (auto& v : xs) v = normal(generator);
    for (auto& v : h0) v = normal(generator);
    for (auto& v : w0) v = 0.5 * normal(generator);
    const auto forward = rnn(h = h0, x = xs, W = w0);
    const auto both = rnn.checkpoint_every(3).gradient(h = h0, x = xs, W = w0);
    const auto& doubled = forward.emitted<0>();
    const auto& dots = forward.emitted<1>();
    REQUIRE(doubled.shape() == std::array<std::size_t, 2>{steps, n});
    REQUIRE(dots.shape() == std::array<std::size_t, 1>{steps});
    CHECK(both.emitted<0>() == doubled);  // (recomputed segments emit nothing twice)
    CHECK(both.emitted<1>() == dots);
    std::vector<double> state(h0.begin(), h0.end());
    for (std::size_t t = 0; t < steps; ++t) {  // y from the state before step t
      double dot = 0;
      for (std::size_t i = 0; i < n; ++i) {
        CHECK(doubled(t, i) == doctest::Approx(2 * state[i]).epsilon(1e-14));
        dot += state[i] * xs(t, i);
      }
      CHECK(dots(t) == doctest::Approx(dot).epsilon(1e-12));
      std::vector<double> next(n);
      for (std::size_t i = 0; i < n; ++i) {
        double z = xs(t, i);
        for (std::size_t j = 0; j < n; ++j) z += w0(i, j) * state[j];
        next[i] = std::tanh(z);
      }
      state = next;
    }
    for (std::size_t i = 0; i < n; ++i) CHECK(forward.final(h)(i) == doctest::Approx(state[i]).epsilon(1e-12));
  }
}
