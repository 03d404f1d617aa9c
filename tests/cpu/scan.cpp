// kobai::scan (issue 16, loops over time): recurrences over a number of steps known at run time.
// - An RK4 integrator of the harmonic oscillator over 1000 steps, against the analytic solution
//   and its derivatives with respect to the initial state and the frequency.
// - ADBench's diagonal LSTM (two layers, the objective summed over the sequence), against the
//   benchmark's algorithm written here in float64 loops, every gradient by central differences.
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

namespace {

// ADBench's LSTM (lstm_model, lstm_predict, lstm_objective) with l = 2 layers of b cells: each
// layer's weights and biases are (4, b) tensors (forget, input, output gates, change), the extra
// parameters (3, b) (input scale, output scale, output bias), the state (2l, b) (hidden, cell).
struct lstm_data {
  std::size_t b = 0, c = 0;  // cells, sequence length
  std::vector<double> w1, b1, w2, b2, extra, h1, c1, h2, c2, sequence;
};

double logistic(double x) { return 1 / (1 + std::exp(-x)); }

void lstm_model(std::size_t b, const double* weight, const double* bias, double* hidden, double* cell,
                const double* input) {
  std::vector<double> forget(b), ingate(b), outgate(b), change(b);
  for (std::size_t i = 0; i < b; ++i) {
    forget[i] = logistic(input[i] * weight[i] + bias[i]);
    ingate[i] = logistic(hidden[i] * weight[b + i] + bias[b + i]);
    outgate[i] = logistic(input[i] * weight[2 * b + i] + bias[2 * b + i]);
    change[i] = std::tanh(hidden[i] * weight[3 * b + i] + bias[3 * b + i]);
  }
  for (std::size_t i = 0; i < b; ++i) cell[i] = cell[i] * forget[i] + ingate[i] * change[i];
  for (std::size_t i = 0; i < b; ++i) hidden[i] = outgate[i] * std::tanh(cell[i]);
}

double lstm_objective(lstm_data d) {  // by value: the state is updated in place
  const std::size_t b = d.b;
  double total = 0;
  std::size_t count = 0;
  const double* input = d.sequence.data();
  std::vector<double> x2(b), ypred(b);
  for (std::size_t t = 0; t + 1 < d.c; ++t) {
    for (std::size_t i = 0; i < b; ++i) x2[i] = input[i] * d.extra[i];
    lstm_model(b, d.w1.data(), d.b1.data(), d.h1.data(), d.c1.data(), x2.data());
    lstm_model(b, d.w2.data(), d.b2.data(), d.h2.data(), d.c2.data(), d.h1.data());
    for (std::size_t i = 0; i < b; ++i) ypred[i] = d.h2[i] * d.extra[b + i] + d.extra[2 * b + i];
    double largest = ypred[0], sum = 0;
    for (double y : ypred) largest = std::max(largest, y);
    for (double y : ypred) sum += std::exp(y - largest);
    const double lse = largest + std::log(sum);
    const double* gold = d.sequence.data() + (t + 1) * b;
    for (std::size_t i = 0; i < b; ++i) total += gold[i] * (ypred[i] - lse);
    count += b;
    input = gold;
  }
  return -total / static_cast<double>(count);
}

lstm_data random_lstm(std::size_t b, std::size_t c, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  auto draw = [&](std::size_t n) {
    std::vector<double> v(n);
    for (double& e : v) e = uniform(rng);
    return v;
  };
  return {b,           c,       draw(4 * b), draw(4 * b), draw(4 * b), draw(4 * b),
          draw(3 * b), draw(b), draw(b),     draw(b),     draw(b),     draw(c * b)};
}

template <class T, std::size_t R>
xt::xtensor<T, R> as_tensor(const std::vector<double>& v, std::array<std::size_t, R> shape, std::size_t offset = 0) {
  auto out = xt::xtensor<T, R>::from_shape(shape);
  for (std::size_t e = 0; e < out.size(); ++e) out.data()[e] = static_cast<T>(v[offset + e]);
  return out;
}

constexpr auto W1 = var<"W1", 2>;
constexpr auto B1 = var<"B1", 2>;
constexpr auto W2 = var<"W2", 2>;
constexpr auto B2 = var<"B2", 2>;
constexpr auto E = var<"extra", 2>;
constexpr auto h1 = var<"h1", 1>;
constexpr auto c1 = var<"c1", 1>;
constexpr auto h2 = var<"h2", 1>;
constexpr auto c2 = var<"c2", 1>;
constexpr auto x = input<"x", 1>;
constexpr auto y = input<"y", 1>;
constexpr auto scale = input<"scale">;

// One layer of lstm_model: the new cell and hidden state.
template <class Wt, class Bs, class H, class C, class In>
constexpr auto lstm_cell(Wt weight, Bs bias, H hidden, C cell, In in) {
  const auto forget = sigmoid(in * select<0, 0>(weight) + select<0, 0>(bias));
  const auto ingate = sigmoid(hidden * select<0, 1>(weight) + select<0, 1>(bias));
  const auto change = tanh(hidden * select<0, 3>(weight) + select<0, 3>(bias));
  return cell * forget + ingate * change;
}
template <class Wt, class Bs, class C, class In>
constexpr auto lstm_hidden(Wt weight, Bs bias, C new_cell, In in) {
  return sigmoid(in * select<0, 2>(weight) + select<0, 2>(bias)) * tanh(new_cell);
}
constexpr auto in1 = x * select<0, 0>(E);
constexpr auto next_c1 = lstm_cell(W1, B1, h1, c1, in1);
constexpr auto next_h1 = lstm_hidden(W1, B1, next_c1, in1);
constexpr auto next_c2 = lstm_cell(W2, B2, h2, c2, next_h1);
constexpr auto next_h2 = lstm_hidden(W2, B2, next_c2, next_h1);
constexpr auto ypred = next_h2 * select<0, 1>(E) + select<0, 2>(E);
constexpr auto step_term = -sum(y * (ypred - logsumexp(ypred))) * scale;

}  // namespace

TEST_CASE_TEMPLATE("scan: ADBench's LSTM, the objective and every gradient", T, double, float) {
  auto lstm = scan(carry(h1, next_h1), carry(c1, next_c1), carry(h2, next_h2), carry(c2, next_c2), over(x, y),
                   step_loss(step_term));
  for (int call = 0; call < 2; ++call) {
    const std::size_t b = call == 0 ? 4 : 6, c = call == 0 ? 9 : 23;
    lstm_data d = random_lstm(b, c, 11 + static_cast<unsigned>(call));
    if constexpr (std::is_same_v<T, float>)  // the reference sees the inputs as float holds them
      for (auto* v : {&d.w1, &d.b1, &d.w2, &d.b2, &d.extra, &d.h1, &d.c1, &d.h2, &d.c2, &d.sequence})
        for (double& e : *v) e = static_cast<float>(e);
    const auto xs = as_tensor<T, 2>(d.sequence, {c - 1, b});
    const auto ys = as_tensor<T, 2>(d.sequence, {c - 1, b}, b);
    const auto r = lstm.gradient(
        W1 = as_tensor<T, 2>(d.w1, {4, b}), B1 = as_tensor<T, 2>(d.b1, {4, b}), W2 = as_tensor<T, 2>(d.w2, {4, b}),
        B2 = as_tensor<T, 2>(d.b2, {4, b}), E = as_tensor<T, 2>(d.extra, {3, b}), h1 = as_tensor<T, 1>(d.h1, {b}),
        c1 = as_tensor<T, 1>(d.c1, {b}), h2 = as_tensor<T, 1>(d.h2, {b}), c2 = as_tensor<T, 1>(d.c2, {b}), x = xs,
        y = ys, scale = static_cast<T>(1.0 / static_cast<double>((c - 1) * b)));
    const double tolerance = std::is_same_v<T, double> ? 1e-7 : 2e-4;
    INFO("call " << call << ", b = " << b << ", c = " << c);
    const double objective = lstm_objective(d);
    CHECK(std::abs(static_cast<double>(r.loss) - objective) < tolerance * (1 + std::abs(objective)));
    // Every element of every parameter and of the initial state, by central differences.
    auto check = [&](std::vector<double> lstm_data::*member, const auto& got, const char* name) {
      REQUIRE(got.size() == (d.*member).size());
      for (std::size_t e = 0; e < got.size(); ++e) {
        lstm_data plus = d, minus = d;
        const double h = 1e-6;
        (plus.*member)[e] += h;
        (minus.*member)[e] -= h;
        const double fd = (lstm_objective(plus) - lstm_objective(minus)) / (2 * h);
        INFO(name << "[" << e << "]: kobai " << got.data()[e] << ", central differences " << fd);
        CHECK(std::abs(static_cast<double>(got.data()[e]) - fd) < tolerance * (1 + std::abs(fd)) + 1e-8);
      }
    };
    check(&lstm_data::w1, r.gradient(W1), "W1");
    check(&lstm_data::b1, r.gradient(B1), "B1");
    check(&lstm_data::w2, r.gradient(W2), "W2");
    check(&lstm_data::b2, r.gradient(B2), "B2");
    check(&lstm_data::extra, r.gradient(E), "extra");
    check(&lstm_data::h1, r.gradient(h1), "h1");
    check(&lstm_data::c1, r.gradient(c1), "c1");
    check(&lstm_data::h2, r.gradient(h2), "h2");
    check(&lstm_data::c2, r.gradient(c2), "c2");
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
