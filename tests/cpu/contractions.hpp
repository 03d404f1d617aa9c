// Steps whose rows hold contractions (softmax classifiers, MLPs, Gaussian mixtures), as users train
// them: each against a float64 reference written here with plain loops (the forward pass and its
// gradient derived by hand, or central differences), in float and double, on 1 and 3 threads, with
// rows in blocks and row by row, at extents that leave every tail (1, 7, 17, 33, 257), and on a
// second call with new data. (The helpers shared by tests/cpu/contractions_*.cpp.)
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <ostream>
#include <random>
#include <utility>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

namespace contraction_test {

/// A row-major float64 matrix for the references.
struct matrix {
  std::size_t rows = 0, columns = 0;
  std::vector<double> data;
  matrix(std::size_t r, std::size_t c) : rows(r), columns(c), data(r * c) {}
  matrix(std::size_t r, std::size_t c, std::vector<double> values) : rows(r), columns(c), data(std::move(values)) {}
  double& operator()(std::size_t i, std::size_t j) { return data[i * columns + j]; }
  double operator()(std::size_t i, std::size_t j) const { return data[i * columns + j]; }
};

/// Values in [-scale, scale] from a seed: the same numbers for every precision.
inline matrix random_matrix(std::size_t r, std::size_t c, double scale, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> value(-scale, scale);
  matrix m(r, c);
  for (double& v : m.data) v = value(generator);
  return m;
}
/// One-hot targets: row i has its 1 in a column drawn from the seed.
inline matrix one_hot(std::size_t n, std::size_t classes, unsigned seed) {
  std::mt19937 generator(seed);
  matrix m(n, classes);
  for (std::size_t i = 0; i < n; ++i) m(i, generator() % classes) = 1;
  return m;
}

template <class T>
xt::xtensor<T, 2> tensor(const matrix& m) {
  auto t = xt::xtensor<T, 2>::from_shape({m.rows, m.columns});
  for (std::size_t e = 0; e < m.data.size(); ++e) t.data()[e] = static_cast<T>(m.data[e]);
  return t;
}
template <class T>
xt::xtensor<T, 1> vector(const matrix& m) {  // a 1 × n matrix as a vector
  auto t = xt::xtensor<T, 1>::from_shape({m.data.size()});
  for (std::size_t e = 0; e < m.data.size(); ++e) t.data()[e] = static_cast<T>(m.data[e]);
  return t;
}
/// The matrix's values as the precision under test rounds them, so the reference sees the same inputs.
template <class T>
matrix rounded(matrix m) {
  for (double& v : m.data) v = static_cast<double>(static_cast<T>(v));
  return m;
}

/// Largest difference over the largest magnitude of the reference (or 1).
template <class Tensor>
double relative_error(const Tensor& got, const std::vector<double>& want) {
  double worst = 0, scale = 1;
  for (double w : want) scale = std::max(scale, std::abs(w));
  REQUIRE(got.size() == want.size());
  for (std::size_t e = 0; e < want.size(); ++e)
    worst = std::max(worst, std::abs(static_cast<double>(got.data()[e]) - want[e]));
  return worst / scale;
}
inline double relative_error(double got, double want) { return std::abs(got - want) / std::max(1.0, std::abs(want)); }

/// float agrees to 2e-5 of the largest magnitude, double to 1e-11.
template <class T>
constexpr double tolerance = std::is_same_v<T, float> ? 2e-5 : 1e-11;

/// Softmax cross-entropy of logits z (one row) with probability targets y: its value and
/// ∂/∂z = (softmax(z)·Σy − y), before the mean over rows.
inline double cross_entropy_row(const std::vector<double>& z, const double* y, std::vector<double>& dz) {
  const double top = *std::max_element(z.begin(), z.end());
  double total = 0, mass = 0, dot = 0;
  for (std::size_t c = 0; c < z.size(); ++c) {
    total += std::exp(z[c] - top);
    mass += y[c];
    dot += y[c] * z[c];
  }
  const double lse = top + std::log(total);
  dz.resize(z.size());
  for (std::size_t c = 0; c < z.size(); ++c) dz[c] = std::exp(z[c] - lse) * mass - y[c];
  return lse * mass - dot;
}

/// Every configuration a step is checked in: thread count and block mode.
struct configuration {
  unsigned threads;
  bool blocks;
  friend std::ostream& operator<<(std::ostream& out, const configuration& c) {
    return out << c.threads << (c.threads == 1 ? " thread, " : " threads, ")
               << (c.blocks ? "rows in blocks" : "row by row");
  }
};
inline constexpr configuration configurations[] = {{1, true}, {3, true}, {1, false}, {3, false}};

/// A program set up to run in configuration `setting`, with one row per task (every split taken).
template <class Program>
void configure(Program& program, const configuration& setting) {
  program.threads(setting.threads).grain(1).blocks(setting.blocks ? Program::block_extent : 0);
}

}  // namespace contraction_test
