// Index tensors (expr/indices.hpp) and integer leaves: arange, eye_like, tril/triu with their
// gradient, argmax/argmin (ties, NaN, keepdims), one_hot, and cross_entropy with int64 and int32
// class labels in a softmax classifier's step, against loops written here; out-of-range and
// inexact labels as errors naming the leaf. Each program runs in every configuration and twice,
// the second time with new data and new extents.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "contractions.hpp"
#include "kobai/ir/plan.hpp"

using namespace kobai;
using namespace kobai::literals;
using namespace contraction_test;

namespace {
constexpr auto A = var<"A", 2>;
constexpr auto X = input<"X", 2>;
constexpr auto W = var<"W", 2>;
constexpr auto b = var<"b", 1>;
constexpr auto labels64 = input<"y", 1, std::int64_t>;
constexpr auto labels32 = input<"y", 1, std::int32_t>;

template <class Tensor>
std::vector<double> values_of(const Tensor& t) {
  return {t.data(), t.data() + t.size()};
}
}  // namespace

TEST_CASE_TEMPLATE("arange, eye_like, tril and triu take their extents from a tensor's axes", T, float, double) {
  constexpr auto masked = sum(tril<-1>(A) * A) + sum(triu<1>(A));
  auto program = compile(arange<0>(A), arange<-1>(A), eye_like(A), tril(A), triu<1>(A), masked, grad(masked, A));
  unsigned seed = 1;
  for (const auto& [rows, columns] : {std::pair<std::size_t, std::size_t>{3, 5}, {6, 2}, {1, 1}, {17, 17}})
    for (int call = 0; call < 2; ++call, ++seed) {
      const std::size_t n = rows + call, m = columns + 2 * call;  // the second call: new extents
      const matrix a = rounded<T>(random_matrix(n, m, 1.0, seed));
      std::vector<double> along_rows(n), along_columns(m), eye(n * m), lower(n * m), upper(n * m), gradient(n * m);
      double value = 0;
      for (std::size_t i = 0; i < n; ++i) along_rows[i] = static_cast<double>(i);
      for (std::size_t j = 0; j < m; ++j) along_columns[j] = static_cast<double>(j);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j) {
          const std::size_t e = i * m + j;
          eye[e] = i == j ? 1 : 0;
          lower[e] = j <= i ? a(i, j) : 0;
          upper[e] = j >= i + 1 ? a(i, j) : 0;
          if (j + 1 <= i) {  // tril<-1>: strictly below the diagonal
            value += a(i, j) * a(i, j);
            gradient[e] += 2 * a(i, j);
          }
          if (j >= i + 1) {
            value += a(i, j);
            gradient[e] += 1;
          }
        }
      for (const configuration& setting : configurations) {
        configure(program, setting);
        const auto [r, c, I, L, U, f, dA] = program(A = tensor<T>(a));
        INFO(n << " × " << m << ", call " << call << ", " << setting);
        CHECK(values_of(r) == along_rows);
        CHECK(values_of(c) == along_columns);
        CHECK(values_of(I) == eye);
        CHECK(relative_error(L, lower) == 0);
        CHECK(relative_error(U, upper) == 0);
        CHECK(relative_error(static_cast<double>(f), value) < tolerance<T>);
        CHECK(relative_error(dA, gradient) < tolerance<T>);
      }
    }
}

TEST_CASE_TEMPLATE("argmax and argmin: the first extremum along an axis, a NaN counted as the extremum", T, float,
                   double) {
  auto program = compile(argmax<1>(A), argmin<0>(A), argmax<-1>(A, keepdims), argmin<1>(A, keepdims));
  unsigned seed = 30;
  for (const auto& [rows, columns] : {std::pair<std::size_t, std::size_t>{4, 7}, {9, 1}, {1, 12}, {33, 10}})
    for (int call = 0; call < 2; ++call, ++seed) {
      const std::size_t n = rows + call, m = columns + call;
      matrix a = random_matrix(n, m, 1.0, seed);
      for (double& v : a.data) v = std::round(v * 3);  // few distinct values: ties
      if (n > 2 && m > 2) a(2, 1) = std::numeric_limits<double>::quiet_NaN();
      auto first = [&](std::size_t outer, std::size_t count, auto at, bool largest) {
        std::size_t best = 0;
        for (std::size_t k = 0; k < count; ++k) {
          const double v = at(outer, k), w = at(outer, best);
          if (std::isnan(w)) break;
          if (std::isnan(v) || (largest ? v > w : v < w)) best = k;
        }
        return static_cast<double>(best);
      };
      auto by_row = [&](std::size_t i, std::size_t j) { return a(i, j); };
      auto by_column = [&](std::size_t j, std::size_t i) { return a(i, j); };
      std::vector<double> max_in_rows(n), min_in_columns(m), min_in_rows(n);
      for (std::size_t i = 0; i < n; ++i) max_in_rows[i] = first(i, m, by_row, true);
      for (std::size_t i = 0; i < n; ++i) min_in_rows[i] = first(i, m, by_row, false);
      for (std::size_t j = 0; j < m; ++j) min_in_columns[j] = first(j, n, by_column, false);
      for (const configuration& setting : configurations) {
        configure(program, setting);
        const auto [rmax, cmin, rmax_kept, rmin_kept] = program(A = tensor<T>(a));
        INFO(n << " × " << m << ", call " << call << ", " << setting);
        CHECK(values_of(rmax) == max_in_rows);
        CHECK(values_of(cmin) == min_in_columns);
        REQUIRE(rmax_kept.dimension() == 2);
        CHECK(rmax_kept.shape(1) == 1);
        CHECK(values_of(rmax_kept) == max_in_rows);
        CHECK(values_of(rmin_kept) == min_in_rows);
      }
    }
}

// A softmax classifier's step with class labels: the loss, dW and db against the formula by hand,
// ∂/∂z = (softmax(z) − onehot(y))/n, and the same loss written with one-hot probability targets.
template <class T, class Label, class Labels>
void check_classifier(Labels y) {
  constexpr auto logits = matmul(X, W) + b;
  constexpr auto loss = cross_entropy(logits, y);
  auto step = compile(loss, grad(loss, W, b), argmax<-1>(logits), one_hot(y, logits));
  unsigned seed = 50;
  for (const auto& [rows, features, classes] :
       {std::tuple<std::size_t, std::size_t, std::size_t>{37, 5, 3}, {1, 1, 1}, {130, 8, 10}})
    for (int call = 0; call < 2; ++call, seed += 4) {
      const std::size_t n = rows + 3 * call, d = features, c = classes + call;  // the second call: new extents
      const matrix x = rounded<T>(random_matrix(n, d, 1.0, seed));
      const matrix w = rounded<T>(random_matrix(d, c, 1.0, seed + 1));
      const matrix bias = rounded<T>(random_matrix(1, c, 1.0, seed + 2));
      const matrix targets = contraction_test::one_hot(n, c, seed + 3);
      xt::xtensor<Label, 1> label = xt::xtensor<Label, 1>::from_shape({n});
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < c; ++k)
          if (targets(i, k) == 1) label(i) = static_cast<Label>(k);
      double value = 0;
      matrix dw(d, c), dz(n, c);
      std::vector<double> db(c), predicted(n), hot(targets.data);
      for (std::size_t i = 0; i < n; ++i) {
        std::vector<double> z(c), g;
        for (std::size_t k = 0; k < c; ++k) {
          z[k] = bias.data[k];
          for (std::size_t e = 0; e < d; ++e) z[k] += x(i, e) * w(e, k);
        }
        predicted[i] = static_cast<double>(std::max_element(z.begin(), z.end()) - z.begin());
        value += cross_entropy_row(z, &targets.data[i * c], g) / static_cast<double>(n);
        for (std::size_t k = 0; k < c; ++k) dz(i, k) = g[k] / static_cast<double>(n);
      }
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < c; ++k) {
          db[k] += dz(i, k);
          for (std::size_t e = 0; e < d; ++e) dw(e, k) += x(i, e) * dz(i, k);
        }
      for (const configuration& setting : configurations) {
        configure(step, setting);
        const auto [L, dW, dB, P, H] = step(X = tensor<T>(x), W = tensor<T>(w), b = vector<T>(bias), y = label);
        INFO(n << " rows, " << c << " classes, call " << call << ", " << setting);
        CHECK(relative_error(static_cast<double>(L), value) < tolerance<T>);
        CHECK(relative_error(dW, dw.data) < tolerance<T>);
        CHECK(relative_error(dB, db) < tolerance<T>);
        CHECK(values_of(P) == predicted);
        CHECK(values_of(H) == hot);
      }
    }
}

TEST_CASE_TEMPLATE("cross_entropy with int64 class labels: a softmax classifier's step", T, float, double) {
  check_classifier<T, std::int64_t>(labels64);
}
TEST_CASE_TEMPLATE("cross_entropy with int32 class labels: a softmax classifier's step", T, float, double) {
  check_classifier<T, std::int32_t>(labels32);
}

TEST_CASE("class labels fuse like probability targets: the same loops") {
  constexpr auto logits = matmul(X, W) + b;
  constexpr auto by_label = cross_entropy(logits, labels64);
  constexpr auto by_probability = cross_entropy(logits, input<"Y", 2>);
  CHECK(ir::loop_count(by_label, grad(by_label, W), grad(by_label, b)) ==
        ir::loop_count(by_probability, grad(by_probability, W), grad(by_probability, b)));
}

TEST_CASE("only one_hot's comparison checks indices; a target that is not an integer leaf stays probabilities") {
  // An integer leaf compared with an arange by == is a value like any other: fixed points of y counted.
  auto fixed_points = compile(sum(labels64 == arange<0>(labels64)));
  CHECK(fixed_points(labels64 = xt::xtensor<std::int64_t, 1>{0, -1, 2, 7}) == 2.0);
  // A target with one axis fewer that is not an integer leaf broadcasts as probabilities, one row for every sample.
  constexpr auto Z = var<"Z", 2>;
  constexpr auto prior = input<"prior", 1>;
  auto loss = compile(cross_entropy(Z, prior));
  const xt::xtensor<double, 2> z = {{1, 2, 3}, {0, -1, 4}, {2, 2, 2}};
  const xt::xtensor<double, 1> p = {0.2, 0.3, 0.5};
  double want = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const double lse = std::log(std::exp(z(i, 0)) + std::exp(z(i, 1)) + std::exp(z(i, 2)));
    for (std::size_t c = 0; c < 3; ++c) want += p(c) * (lse - z(i, c)) / 3;
  }
  CHECK(loss(Z = z, prior = p) == doctest::Approx(want).epsilon(1e-12));
}

TEST_CASE("labels out of range, and integers a float program cannot hold, are errors naming the leaf") {
  constexpr auto Z = var<"Z", 2>;
  auto program = compile(cross_entropy(Z, labels64), grad(cross_entropy(Z, labels64), Z));
  const xt::xtensor<double, 2> z = xt::zeros<double>({3, 4});
  for (const std::int64_t wrong : {4, 17, -1}) {
    const xt::xtensor<std::int64_t, 1> y = {0, wrong, 3};
    try {
      (void)program(Z = z, labels64 = y);
      FAIL("a label of " << wrong << " was accepted");
    } catch (const kobai::binding_error& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK(message.find("'y' holds " + std::to_string(wrong) + " at element 1") != std::string::npos);
      CHECK(message.find("extent 4") != std::string::npos);
    }
  }
  const xt::xtensor<std::int64_t, 1> good = {0, 3, 2};
  const auto [loss, dz] = program(Z = z, labels64 = good);  // the same program still runs
  CHECK(static_cast<double>(loss) == doctest::Approx(std::log(4.0)));
  CHECK(dz(1, 3) == doctest::Approx((0.25 - 1) / 3));

  // Integer leaves are read as the program's element type, exactly: 2^25 + 1 is past float's integers.
  constexpr auto v = input<"v", 1>;
  auto weighted = compile(sum(labels64 * v));
  const xt::xtensor<std::int64_t, 1> large = {1, (std::int64_t{1} << 25) + 1};
  CHECK(weighted(labels64 = large, v = xt::xtensor<double, 1>{1, 1}) == 33554434.0);
  try {
    (void)weighted(labels64 = large, v = xt::xtensor<float, 1>{1, 1});
    FAIL("2^25 + 1 was read as a float");
  } catch (const kobai::binding_error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("'y' holds 33554433 at element 1, past the integers float holds exactly") != std::string::npos);
  }
}

TEST_CASE_TEMPLATE("arange<\"n\">() takes its extent from a number given at run time: a polynomial fit and eye(n, m)",
                   T, float, double) {
  // y = Σ_k c_k t^k with the exponents k = arange<"K">() (before, users bound 0, 1, …, K − 1 as
  // data), its loss and gradient; and eye(n, m) from two aranges of numbers.
  constexpr auto k = arange<"K">();
  constexpr auto t = input<"t", 1>;
  constexpr auto target = input<"target", 1>;
  constexpr auto c = var<"c", 1>;
  constexpr auto fit = sum(pow<2>(sum<1>(unsqueeze<0>(c) * pow(unsqueeze<1>(t), unsqueeze<0>(k))) - target));
  constexpr auto rows = arange<"n">();
  constexpr auto columns = arange<"m">();
  auto program = compile(fit, grad(fit, c), k * 2_c);
  auto eye = compile(unsqueeze<1>(rows) == unsqueeze<0>(columns));
  unsigned seed = 40;
  for (const std::size_t degree : {1U, 4U, 9U})
    for (int call = 0; call < 2; ++call, seed += 3) {
      const std::size_t points = 5 + 7 * static_cast<std::size_t>(call), K = degree + static_cast<std::size_t>(call);
      const matrix ts = rounded<T>(random_matrix(1, points, 0.5, seed)),
                   ys = rounded<T>(random_matrix(1, points, 1, seed + 1));
      const matrix cs = rounded<T>(random_matrix(1, K, 1.0, seed + 2));
      std::vector<double> ts_shifted(points), gradient(K), doubled(K);
      double loss = 0;
      for (std::size_t i = 0; i < points; ++i) {
        ts_shifted[i] = static_cast<double>(static_cast<T>(ts.data[i] + 0.6));  // in (0.1, 1.1)
        double y = 0;
        for (std::size_t j = 0; j < K; ++j) y += cs.data[j] * std::pow(ts_shifted[i], static_cast<double>(j));
        loss += (y - ys.data[i]) * (y - ys.data[i]);
        for (std::size_t j = 0; j < K; ++j)
          gradient[j] += 2 * (y - ys.data[i]) * std::pow(ts_shifted[i], static_cast<double>(j));
      }
      for (std::size_t j = 0; j < K; ++j) doubled[j] = 2.0 * static_cast<double>(j);
      for (const configuration& setting : configurations) {
        configure(program, setting);
        const auto [L, dc, twice] =
            program(k = K, t = vector<T>(matrix(1, points, ts_shifted)), target = vector<T>(ys), c = vector<T>(cs));
        INFO("K = " << K << ", " << points << " points, call " << call << ", " << setting);
        CHECK(relative_error(static_cast<double>(L), loss) < tolerance<T>);
        CHECK(relative_error(dc, gradient) < tolerance<T>);
        CHECK(values_of(twice) == doubled);
      }
      const std::size_t n = degree + 1, m = 2 * degree + static_cast<std::size_t>(call);
      const auto identity = eye(rows = n, columns = static_cast<int>(m));
      REQUIRE(identity.shape(0) == n);
      REQUIRE(identity.shape(1) == m);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j) CHECK(identity(i, j) == (i == j ? 1.0 : 0.0));
    }
  // The number must agree with the tensors it meets, and be a count.
  CHECK_THROWS_WITH_AS(program(k = 3, t = xt::xtensor<double, 1>{0.5, 0.7}, target = xt::xtensor<double, 1>{1, 2},
                               c = xt::xtensor<double, 1>{1, 2}),
                       doctest::Contains("'K'"), shape_error);
  CHECK_THROWS_WITH_AS(eye(rows = -2, columns = 3),
                       "kobai: 'n' (arange) is bound to -2; bind the number of elements, 0 or more", binding_error);
}
