// The GPU executor against the CPU (executor.hpp) on programs that read one tensor along two axes
// (ir/uses.hpp): the kernels bind every instance of a leaf to the one buffer the user passed.
#include "executor.hpp"

TEST_CASE("a Gram matrix's parameter gradient and a quadratic form, whose leaves are read along two axes") {
  constexpr auto Z = var<"Z", 2>;
  constexpr auto G = input<"G", 2>;
  constexpr auto v = var<"v", 1>;
  constexpr auto gram_loss = sum(G * matmul(Z, transpose(Z)));
  constexpr auto form = dot(v, matmul(G, v));
  const auto bind = [&](const auto& p, unsigned call) {
    const std::size_t n = 37 + call, d = 5 + 2 * call;  // new extents on the second call
    return std::tuple{Z = to_device(random_tensor<double, 2>({n, d}, 7 + 100 * call), p.backend()),
                      G = to_device(random_tensor<double, 2>({n, n}, 8 + 100 * call), p.backend()),
                      v = to_device(random_tensor<double, 1>({n}, 9 + 100 * call), p.backend())};
  };
  CHECK(difference_from_cpu(bind, gram_loss, grad(gram_loss, Z), matmul(Z, transpose(Z)), form, grad(form, v)) <=
        1e-12);
}

TEST_CASE("a sum read along two axes is computed once and read again from memory: Z·Z and max<0>(tril(Z))") {
  // Z = U·V is read as Z[i, k] and as Z[k, j]; the second reading is a view of the first's stored
  // value (ops::reread), written out by a kernel and read by the later ones.
  constexpr auto U = input<"U", 2>;
  constexpr auto V = var<"V", 2>;
  constexpr auto G = input<"G", 2>;
  constexpr auto v = var<"v", 1>;
  constexpr auto Z = matmul(U, V);
  constexpr auto square_loss = sum(G * matmul(Z, Z));
  constexpr auto top = sum(max<0>(tril(matmul(tanh(unsqueeze<1>(v) * unsqueeze<0>(v)), G)), keepdims));
  const auto bind = [&](const auto& p, unsigned call) {
    const std::size_t n = 29 + call, d = 4 + 3 * call;  // new extents on the second call
    return std::tuple{U = to_device(random_tensor<double, 2>({n, d}, 11 + 100 * call), p.backend()),
                      V = to_device(random_tensor<double, 2>({d, n}, 12 + 100 * call), p.backend()),
                      G = to_device(random_tensor<double, 2>({n, n}, 13 + 100 * call), p.backend()),
                      v = to_device(random_tensor<double, 1>({n}, 14 + 100 * call), p.backend())};
  };
  CHECK(difference_from_cpu(bind, square_loss, grad(square_loss, V), matmul(Z, Z), top, grad(top, v)) <= 1e-12);
}
