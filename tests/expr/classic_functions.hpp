// Classic test functions for optimisation, each written once as ordinary generic numeric code,
// template <class T> T f(T...): plain literals, locals of type T, loops, helpers, and math functions
// found by argument-dependent lookup. Traced code runs at compile time, so they and their helpers
// are constexpr (for a template this costs nothing where T is double). Shared by tests/expr/trace.cpp
// and the compile-cost benchmark bench/compile/traced.cpp.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <numbers>

namespace functions {

template <class T>
constexpr T rosenbrock(T x, T y) {
  return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
}

/// Σᵢ 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)², a loop over the terms.
template <class T, std::size_t N>
constexpr T extended_rosenbrock(const std::array<T, N>& v) {
  T total = 0;
  for (std::size_t i = 0; i + 1 < N; ++i) {
    const T step = v[i + 1] - v[i] * v[i];
    total += 100 * step * step + (1 - v[i]) * (1 - v[i]);
  }
  return total;
}

template <class T>
constexpr T square(T v) {
  return v * v;
}

template <class T>
constexpr T beale(T x, T y) {
  return square(1.5 - x + x * y) + square(2.25 - x + x * y * y) + square(2.625 - x + x * y * y * y);
}

template <class T>
constexpr T himmelblau(T x, T y) {
  return square(x * x + y - 11) + square(x + y * y - 7);
}

template <class T>
constexpr T booth(T x, T y) {
  return square(x + 2 * y - 7) + square(2 * x + y - 5);
}

template <class T>
constexpr T ackley(T x, T y) {
  using std::cos, std::exp, std::sqrt;
  constexpr double pi = std::numbers::pi;
  return -20 * exp(-0.2 * sqrt(0.5 * (x * x + y * y))) - exp(0.5 * (cos(2 * pi * x) + cos(2 * pi * y))) +
         std::numbers::e + 20;
}

inline constexpr std::array<double, 5> coefficients{1.0, -2.0, 0.5, 3.0, -0.75};  // c₀ … c₄

/// Σₖ cₖ xᵏ by Horner's rule, a loop from the highest coefficient.
template <class T>
constexpr T horner(T x) {
  T p = coefficients.back();
  for (std::size_t k = coefficients.size() - 1; k-- > 0;) p = p * x + coefficients[k];
  return p;
}

inline constexpr std::array<double, 8> features{0.5, -1.25, 2.0, 0.3, -0.7, 1.5, -2.0, 0.1};
inline constexpr std::array<double, 8> labels{1, 0, 1, 1, 0, 1, 0, 0};

/// The log-likelihood of logistic regression over a fixed data set: Σ yᵢzᵢ − log(1 + e^zᵢ).
template <class T>
constexpr T log_likelihood(T w, T b) {
  using std::exp, std::log;
  T total = 0;
  for (std::size_t i = 0; i < features.size(); ++i) {
    const T z = w * features[i] + b;
    total += labels[i] * z - log(1 + exp(z));
  }
  return total;
}

}  // namespace functions
