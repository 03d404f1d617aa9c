// Tensor algebra on the CPU (tensor_algebra.hpp): gradients through broadcasting and reductions against finite
// differences.
#include "tensor_algebra.hpp"

TEST_CASE("gradients through broadcasting and axis reductions match finite differences") {
  CHECK(gradcheck(sum(pow<2>(A * u - 1_c)), A = Av, u = uv).passed());                     // u broadcast over rows
  CHECK(gradcheck(sum(exp(unsqueeze<1>(r) * unsqueeze<0>(u))), r = rv, u = uv).passed());  // outer product
  CHECK(gradcheck(sum(tanh(A - mean<1>(A, keepdims))), A = Av).passed());
  CHECK(gradcheck(sum(sin(sum<0>(A)) * u) + sum(sum<1>(A, keepdims) * A), A = Av, u = uv).passed());
  CHECK(gradcheck(sum(max<1>(A) * r) + sum(min<0>(A) * u), A = Av, r = rv, u = uv).passed());
  CHECK(gradcheck(sum(logsumexp<1>(A) * r) + logsumexp(A), A = Av, r = rv).passed());
}
