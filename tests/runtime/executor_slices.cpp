// The GPU executor against the CPU (executor.hpp) on integer leaves: take's gather and its
// scatter-add gradient (repeated indices), class labels held as integers, and indices outside
// their axis refused on the host before any kernel runs. Integer leaves are bound to host
// containers on every backend. (select, narrow, concat and stack: executor_joins.cpp.)
#include <cstdint>

#include "executor.hpp"

namespace {
constexpr auto E = var<"E", 2>;
constexpr auto V = var<"V", 2>;
constexpr auto idx = input<"idx", 1, std::int64_t>;
constexpr auto labels = input<"labels", 1, std::int64_t>;

// n integers in [0, length) of type I, every one of them at least once when n allows.
template <class I, std::size_t R = 1>
xt::xtensor<I, R> indices(const std::array<std::size_t, R>& shape, std::size_t length, unsigned seed) {
  std::mt19937 generator(seed);
  auto t = xt::xtensor<I, R>::from_shape(shape);
  for (std::size_t i = 0; i < t.size(); ++i)
    t.data()[i] = static_cast<I>(i < length && t.size() >= 2 * length ? i : generator() % length);
  return t;
}
}  // namespace

TEST_CASE("take<0>: an embedding classifier's step, the table's gradient a scatter-add, on the device") {
  constexpr auto rows = take<0>(E, idx);
  constexpr auto loss = cross_entropy(matmul(rows, V), labels);
  const auto bind = [&](const auto& p, unsigned call) {
    const std::size_t vocabulary = 9 + call, width = 5 + 2 * call, classes = 4 + call, n = 37 + 11 * call;
    return std::tuple{E = to_device(random_tensor<double, 2>({vocabulary, width}, 31 + 100 * call), p.backend()),
                      V = to_device(random_tensor<double, 2>({width, classes}, 32 + 100 * call), p.backend()),
                      idx = indices<std::int64_t>({n}, vocabulary, 33 + 100 * call),
                      labels = indices<std::int64_t>({n}, classes, 34 + 100 * call)};
  };
  CHECK(difference_from_cpu(bind, rows, loss, grad(loss, E), grad(loss, V)) <= 1e-12);
}

TEST_CASE("take<1> with a matrix of int32 indices from a computed table, differentiated twice, on the device") {
  constexpr auto J = input<"J", 2, std::int32_t>;
  constexpr auto R = input<"R", 3>;
  constexpr auto picked = take<1>(2_c * E + 1_c, J);  // (rows, J's rows, J's columns)
  constexpr auto f = sum(pow<3>(picked) * R) + sum(E * E);
  const auto bind = [&](const auto& p, unsigned call) {
    const std::size_t rows = 4 + call, length = 7 + call, a = 3 + call, b = 5;
    return std::tuple{E = to_device(random_tensor<float, 2>({rows, length}, 41 + 100 * call), p.backend()),
                      J = indices<std::int32_t, 2>({a, b}, length, 42 + 100 * call),
                      R = to_device(random_tensor<float, 3>({rows, a, b}, 43 + 100 * call), p.backend())};
  };
  CHECK(difference_from_cpu(bind, picked, f, grad(f, E), grad(sum(grad(f, E)), E)) <= 1e-5);
}

TEST_CASE("cross-entropy against integer class labels, and one_hot of them, on the device") {
  constexpr auto M = var<"M", 2>;
  constexpr auto loss = cross_entropy(M, labels);
  const auto bind = [&](const auto& p, unsigned call) {
    const std::size_t n = 29 + 4 * call, classes = 7 + call;
    return std::tuple{M = to_device(random_tensor<double, 2>({n, classes}, 61 + 100 * call), p.backend()),
                      labels = indices<std::int64_t>({n}, classes, 62 + 100 * call)};
  };
  CHECK(difference_from_cpu(bind, loss, grad(loss, M), one_hot(labels, M)) <= 1e-12);
}

TEST_CASE("indices outside their axis on the device: an error naming the leaf, before anything runs") {
  constexpr auto loss = sum(take<0>(E, idx)) + cross_entropy(V, labels);
  auto program = compile(device::emulated, loss, grad(loss, E));
  const auto e = to_device(random_tensor<double, 2>({4, 3}, 71), program.backend());
  const auto v = to_device(random_tensor<double, 2>({2, 5}, 72), program.backend());
  const xt::xtensor<std::int64_t, 1> good_rows = {0, 3, 3}, good_labels = {4, 0};
  const xt::xtensor<std::int64_t, 1> bad_rows = {0, 4, 1}, bad_labels = {5, 0}, negative = {0, -1, 2};
  CHECK_THROWS_WITH_AS(program(E = e, V = v, idx = bad_rows, labels = good_labels),
                       "kobai: 'idx' holds 4 at element 1, an index out of range for take<0>'s axis of extent 4",
                       binding_error);
  CHECK_THROWS_WITH_AS(program(E = e, V = v, idx = negative, labels = good_labels),
                       "kobai: 'idx' holds -1 at element 1, an index out of range for take<0>'s axis of extent 4",
                       binding_error);
  CHECK_THROWS_WITH_AS(program(E = e, V = v, idx = good_rows, labels = bad_labels),
                       doctest::Contains("'labels' holds 5 at element 0, an index out of range"), binding_error);
  // a good call after the refused ones: rows 0, 3, 3 of E (row 3 twice in the gradient)
  const auto [value, gradient] = program(E = e, V = v, idx = good_rows, labels = good_labels);
  const auto table = to_host(e), dE = to_host(gradient);
  const auto host_v = to_host(v);
  double want = 0;
  for (std::size_t r : {0, 3, 3})
    for (std::size_t j = 0; j < 3; ++j) want += table(r, j);
  for (std::size_t i = 0; i < 2; ++i) {  // cross-entropy, the mean over rows of −log softmax at the label
    double total = 0;
    for (std::size_t j = 0; j < 5; ++j) total += std::exp(host_v(i, j));
    want += (std::log(total) - host_v(i, static_cast<std::size_t>(good_labels(i)))) / 2;
  }
  CHECK(value == doctest::Approx(want).epsilon(1e-12));
  for (std::size_t j = 0; j < 3; ++j) {
    CHECK(dE(0, j) == 1);
    CHECK(dE(1, j) == 0);
    CHECK(dE(2, j) == 0);
    CHECK(dE(3, j) == 2);
  }
}
