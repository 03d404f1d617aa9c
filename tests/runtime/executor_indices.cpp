// The GPU executor against the CPU (executor.hpp) on index tensors (expr/indices.hpp) and reshape<E...>: arange's
// memory on the device, masks from it, argmax, and cross-entropy against one_hot of class labels held as values.
#include "executor.hpp"

TEST_CASE("arange, tril, eye_like, argmax and class-label cross-entropy on the device, as on the CPU") {
  constexpr auto M = var<"M", 2>;
  constexpr auto labels = input<"labels", 1>;  // class indices held as values (integer leaves: executor_slices.cpp)
  constexpr auto masked = sum(tril<-1>(M) * M) + sum(eye_like(M) * exp(M));
  constexpr auto loss = cross_entropy(M, one_hot(labels, M));
  const auto bind = [&](const auto& p, unsigned call) {
    const std::size_t n = 29 + 4 * call, classes = 7 + call;  // new extents on the second call
    auto y = xt::xtensor<double, 1>::from_shape({n});
    for (std::size_t i = 0; i < n; ++i) y(i) = static_cast<double>((i * 5 + call) % classes);
    return std::tuple{M = to_device(random_tensor<double, 2>({n, classes}, 11 + 100 * call), p.backend()),
                      labels = to_device(y, p.backend())};
  };
  CHECK(difference_from_cpu(bind, arange<0>(M), arange<1>(M), masked, grad(masked, M), argmax<1>(M), loss,
                            grad(loss, M)) <= 1e-12);
}

TEST_CASE("reshape to extents given as numbers, of a leaf and of a computed value, on the device as on the CPU") {
  constexpr auto flat = var<"flat", 1>;
  constexpr auto points = reshape<-1, 3>(flat);
  constexpr auto f = sum(sqrt(sum<1>(points * points) + 1_c)) + sum(reshape<3, -1>(exp(flat)) * reshape<3, -1>(flat));
  const auto bind = [&](const auto& p, unsigned call) {
    return std::tuple{flat = to_device(random_tensor<double, 1>({3 * (41 + 3 * call)}, 13 + 100 * call), p.backend())};
  };
  CHECK(difference_from_cpu(bind, points, f, grad(f, flat), reshape<3, -1>(exp(flat))) <= 1e-12);
}

TEST_CASE("arange<\"n\">() with its extent bound as a number, on the device as on the CPU") {
  constexpr auto k = arange<"K">();
  constexpr auto t = input<"t", 1>;
  constexpr auto c = var<"c", 1>;
  constexpr auto fit = sum(pow<2>(sum<1>(unsqueeze<0>(c) * pow(unsqueeze<1>(t), unsqueeze<0>(k)))));
  const auto bind = [&](const auto& p, unsigned call) {
    const std::size_t points = 31 + 6 * call, degree = 5 + 2 * call;  // new extents on the second call
    auto ts = xt::xtensor<double, 1>::from_shape({points});
    for (std::size_t i = 0; i < points; ++i) ts(i) = 0.1 + static_cast<double>(i) / static_cast<double>(points);
    return std::tuple{k = degree, t = to_device(ts, p.backend()),
                      c = to_device(random_tensor<double, 1>({degree}, 21 + 100 * call), p.backend())};
  };
  CHECK(difference_from_cpu(bind, fit, grad(fit, c), k * 2_c) <= 1e-12);
}
