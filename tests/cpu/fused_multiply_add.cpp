// A value computed again in another loop nest has the same bits, also where the compiler may fuse
// a product and a sum into one multiply-add (built with -mfma -ffp-contract=fast in the AVX2 and
// AVX-512 builds of this file, tests/CMakeLists.txt): the gradient of min and max compares each
// element with the extreme, which a nest computed from its own copy of the element. Found by the
// differential fuzzer (seed 9201, program 27): with FMA, the gradient of a column's minimum came
// out 0 where the two copies of w1² + 1 differed in their last bit.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "contractions.hpp"

using namespace kobai;
using namespace kobai::literals;
using namespace contraction_test;

TEST_CASE("the gradient of a minimum and a maximum over an axis of a product and a sum, on every configuration") {
  constexpr auto w0 = var<"w0", 3>;
  constexpr auto w1 = var<"w1", 3>;
  constexpr auto e = pow<1, 3>(softplus(w0) + literal<1, 10>) / (pow<2>(w1) + 1_c);  // (I, J, K)
  constexpr auto lowest = mean(min<1>(e));
  constexpr auto highest = mean(max<1>(e));
  auto program = compile(lowest, highest, grad(lowest, w0, w1), grad(highest, w0, w1));
  std::mt19937_64 generator(9201027630ULL);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (const auto& shape : {std::array<std::size_t, 3>{8, 3, 5}, {8, 3, 5}, {17, 257, 1}, {33, 7, 17}}) {
    const std::size_t I = shape[0], J = shape[1], K = shape[2];
    auto a = xt::xtensor<double, 3>::from_shape({I, J, K}), b = a;
    for (double& v : a) v = uniform(generator);
    for (double& v : b) v = uniform(generator);
    // by hand: e and ∂e/∂w0, ∂e/∂w1; each column's extreme passes 1/(I·K) of the mean to it
    auto value = [&](std::size_t f) {
      const double s = std::log1p(std::exp(a.data()[f]));
      return std::cbrt(s + 0.1) / (b.data()[f] * b.data()[f] + 1);
    };
    std::vector<double> want_low(I * J * K, 0.0), want_high(I * J * K, 0.0), want_low1 = want_low,
                                                                             want_high1 = want_low;
    double low = 0, high = 0;
    const double share = 1.0 / static_cast<double>(I * K);
    for (std::size_t i = 0; i < I; ++i)
      for (std::size_t k = 0; k < K; ++k) {
        std::size_t at_low = 0, at_high = 0;
        for (std::size_t j = 0; j < J; ++j) {
          const std::size_t f = (i * J + j) * K + k;
          if (value(f) < value((i * J + at_low) * K + k)) at_low = j;
          if (value(f) > value((i * J + at_high) * K + k)) at_high = j;
        }
        for (const auto& [j, sum, d0, d1] :
             {std::tuple{at_low, &low, &want_low, &want_low1}, std::tuple{at_high, &high, &want_high, &want_high1}}) {
          const std::size_t f = (i * J + j) * K + k;
          const double s = std::log1p(std::exp(a.data()[f])), q = b.data()[f] * b.data()[f] + 1;
          *sum += value(f) * share;
          (*d0)[f] = share * std::cbrt(s + 0.1) / (3 * (s + 0.1)) / (1 + std::exp(-a.data()[f])) / q;
          (*d1)[f] = -share * value(f) * 2 * b.data()[f] / q;
        }
      }
    for (const configuration& setting : configurations) {
      configure(program, setting);
      const auto [L, H, dL0, dL1, dH0, dH1] = program(w0 = a, w1 = b);
      INFO("shape " << I << " × " << J << " × " << K << ", " << setting);
      CHECK(relative_error(L, low) < 1e-13);
      CHECK(relative_error(H, high) < 1e-13);
      CHECK(relative_error(dL0, want_low) < 1e-12);
      CHECK(relative_error(dL1, want_low1) < 1e-12);
      CHECK(relative_error(dH0, want_high) < 1e-12);
      CHECK(relative_error(dH1, want_high1) < 1e-12);
    }
  }
}
