// kobai::scan on ADBench's diagonal LSTM (two layers, the objective summed over the sequence),
// against the benchmark's algorithm written here in float64 loops, every gradient by central
// differences; twice, the second time with new data and another number of steps. Included by
// scan_lstm.cpp (double) and scan_lstm_float.cpp, so that each compiles in under 30 s.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <type_traits>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/scan.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;

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

// One value kobai computed and its reference: they agree when |got - expected| < bound.
struct lstm_comparison {
  std::string what;
  double got = 0, expected = 0, bound = 0;
};

// The objective and every gradient element kobai gives in T, each with its float64 reference, over
// two calls (the second with new data and another number of steps). The test cases that check
// them are in scan_lstm.cpp (double) and scan_lstm_float.cpp (float).
template <class T>
std::vector<lstm_comparison> lstm_comparisons() {
  std::vector<lstm_comparison> comparisons;
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
    const std::string at =
        "call " + std::to_string(call) + " (b = " + std::to_string(b) + ", c = " + std::to_string(c) + "): ";
    const double objective = lstm_objective(d);
    comparisons.push_back(
        {at + "objective", static_cast<double>(r.loss), objective, tolerance * (1 + std::abs(objective))});
    // Every element of every parameter and of the initial state, by central differences.
    auto compare = [&](std::vector<double> lstm_data::*member, const auto& got, const char* name) {
      if (got.size() != (d.*member).size()) {
        comparisons.push_back(
            {at + name + " size", static_cast<double>(got.size()), static_cast<double>((d.*member).size()), 0.5});
        return;
      }
      for (std::size_t e = 0; e < got.size(); ++e) {
        lstm_data plus = d, minus = d;
        const double h = 1e-6;
        (plus.*member)[e] += h;
        (minus.*member)[e] -= h;
        const double fd = (lstm_objective(plus) - lstm_objective(minus)) / (2 * h);
        comparisons.push_back({at + name + "[" + std::to_string(e) + "] against central differences",
                               static_cast<double>(got.data()[e]), fd, tolerance * (1 + std::abs(fd)) + 1e-8});
      }
    };
    compare(&lstm_data::w1, r.gradient(W1), "W1");
    compare(&lstm_data::b1, r.gradient(B1), "B1");
    compare(&lstm_data::w2, r.gradient(W2), "W2");
    compare(&lstm_data::b2, r.gradient(B2), "B2");
    compare(&lstm_data::extra, r.gradient(E), "extra");
    compare(&lstm_data::h1, r.gradient(h1), "h1");
    compare(&lstm_data::c1, r.gradient(c1), "c1");
    compare(&lstm_data::h2, r.gradient(h2), "h2");
    compare(&lstm_data::c2, r.gradient(c2), "c2");
  }
  return comparisons;
}

// Per call: the objective, then 4b elements of each of W1, B1, W2, B2, 3b of extra and b of each
// initial state; b = 4, then 6.
constexpr std::size_t lstm_comparison_count = (1 + 23 * 4) + (1 + 23 * 6);

}  // namespace
