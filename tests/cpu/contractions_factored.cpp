// Sums over rows of a product with a factor every row shares (Σ_n W·g[n] = W·Σ_n g[n]): the
// simplifier moves that factor out of the fold over the rows (expr/reductions.hpp), so these
// check the moved forms' values and shapes against float64 loops written here, on every
// configuration and on a second call with new data and new extents.
#include "contractions.hpp"

using namespace kobai;
using namespace contraction_test;

TEST_CASE("a centred linear map's gradient: the shared weights move out of the sum over rows") {
  constexpr auto X = input<"X", 2>;                                   // (N, D)
  constexpr auto W = var<"W", 2>;                                     // (J, D)
  constexpr auto mu = var<"mu", 1>;                                   // (D)
  constexpr auto y = sum<2>(unsqueeze<0>(W) * unsqueeze<1>(X - mu));  // (N, J): W (x − μ)
  constexpr auto loss = sum(tanh(y));
  auto step = compile(loss, grad(loss, W), grad(loss, mu));
  for (const auto& extents : {std::array<std::size_t, 3>{1, 1, 1}, {7, 3, 5}, {33, 17, 4}, {257, 2, 9}}) {
    const std::size_t n = extents[0], j = extents[1], d = extents[2];
    unsigned seed = static_cast<unsigned>(n * 100 + j * 10 + d);
    for (int call = 0; call < 2; ++call, seed += 5) {
      const matrix x = random_matrix(n, d, 1.0, seed), w = random_matrix(j, d, 0.5, seed + 1),
                   m = random_matrix(1, d, 0.5, seed + 2);
      // by hand: t = tanh(W (x − μ)), dW = Σ_n (1 − t²)(x − μ)ᵀ, dμ = −Σ_n Σ_j (1 − t²) W[j, ·]
      double want = 0;
      std::vector<double> dW(j * d, 0.0), dmu(d, 0.0);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t r = 0; r < j; ++r) {
          double z = 0;
          for (std::size_t c = 0; c < d; ++c) z += w(r, c) * (x(i, c) - m.data[c]);
          const double t = std::tanh(z), g = 1 - t * t;
          want += t;
          for (std::size_t c = 0; c < d; ++c) {
            dW[r * d + c] += g * (x(i, c) - m.data[c]);
            dmu[c] -= g * w(r, c);
          }
        }
      for (const configuration& setting : configurations) {
        configure(step, setting);
        const auto [value, gW, gmu] = step(X = tensor<double>(x), W = tensor<double>(w), mu = vector<double>(m));
        INFO("N = " << n << ", J = " << j << ", D = " << d << ", call " << call << ", " << setting);
        REQUIRE(gW.shape() == std::array<std::size_t, 2>{j, d});
        REQUIRE(gmu.shape() == std::array<std::size_t, 1>{d});
        CHECK(relative_error(value, want) < 1e-12);
        CHECK(relative_error(gW, dW) < 1e-12);
        CHECK(relative_error(gmu, dmu) < 1e-12);
      }
    }
  }
}

TEST_CASE("a fold folded again, with a factor shared along each, and its gradients, in float and double") {
  constexpr auto A = var<"A", 2>;                                            // (M, J), shared by the rows n
  constexpr auto B = var<"B", 2>;                                            // (N, J), shared by the rows m
  constexpr auto C = input<"C", 3>;                                          // (N, M, J)
  constexpr auto S = sum<0>(sum<0>(unsqueeze<0>(A) * unsqueeze<1>(B) * C));  // (J): Σ_m A ⊙ Σ_n B ⊙ C
  constexpr auto loss = sum(pow<2>(S));
  static_assert(decltype(S)::rank == 1);
  auto step = compile(S, loss, grad(loss, A), grad(loss, B));
  auto check = [&]<class T>(T) {
    for (const auto& extents : {std::array<std::size_t, 3>{1, 1, 1}, {5, 3, 17}, {33, 6, 2}}) {
      const std::size_t n = extents[0], m = extents[1], j = extents[2];
      unsigned seed = static_cast<unsigned>(n * 100 + m * 10 + j);
      for (int call = 0; call < 2; ++call, seed += 3) {
        const matrix a = rounded<T>(random_matrix(m, j, 1.0, seed)), b = rounded<T>(random_matrix(n, j, 1.0, seed + 1)),
                     c = rounded<T>(random_matrix(n * m, j, 1.0, seed + 2));
        auto Cv = xt::xtensor<T, 3>::from_shape({n, m, j});
        std::copy(c.data.begin(), c.data.end(), Cv.begin());
        // by hand: S[k] = Σ_n Σ_m A[m,k] B[n,k] C[n,m,k], dA = 2 S[k] Σ_n B C, dB = 2 S[k] Σ_m A C
        std::vector<double> s(j, 0.0), dA(m * j, 0.0), dB(n * j, 0.0);
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t r = 0; r < m; ++r)
            for (std::size_t k = 0; k < j; ++k) s[k] += a(r, k) * b(i, k) * c(i * m + r, k);
        double want = 0;
        for (double e : s) want += e * e;
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t r = 0; r < m; ++r)
            for (std::size_t k = 0; k < j; ++k) {
              dA[r * j + k] += 2 * s[k] * b(i, k) * c(i * m + r, k);
              dB[i * j + k] += 2 * s[k] * a(r, k) * c(i * m + r, k);
            }
        for (const configuration& setting : configurations) {
          configure(step, setting);
          const auto [gotS, value, gA, gB] = step(A = tensor<T>(a), B = tensor<T>(b), C = Cv);
          INFO("N = " << n << ", M = " << m << ", J = " << j << ", call " << call << ", " << setting);
          REQUIRE(gotS.shape() == std::array<std::size_t, 1>{j});
          CHECK(relative_error(gotS, s) < tolerance<T>);
          CHECK(relative_error(static_cast<double>(value), want) < tolerance<T>);
          CHECK(relative_error(gA, dA) < tolerance<T>);
          CHECK(relative_error(gB, dB) < tolerance<T>);
        }
      }
    }
  };
  check(0.0);
  check(0.0f);
}
