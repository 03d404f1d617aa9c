// autograd_basics: gradients of scalars, several variables, and a vector-Jacobian product.
// Run with --json for one JSON object.
#include <cstdio>

#include "autograd_basics.hpp"
#include "json.hpp"

int main(int argc, char** argv) {
  const auto r = example::autograd_basics::compute();
  if (example::wants_json(argc, argv)) {
    example::json_object out;
    out.add("pow4_grad_at_5", r.pow4_grad_at_5);
    out.add("affine_y", r.affine_y);
    out.add("affine_grads", {r.affine_grads[0], r.affine_grads[1]});
    out.add("vjp_grad", r.vjp_grad);
    std::printf("%s\n", out.str().c_str());
    return 0;
  }
  std::printf("d/dx x^4 at x = 5            %g\n", r.pow4_grad_at_5);
  std::printf("y = w*x + b at (2, 5, 1)     %g\n", r.affine_y);
  std::printf("[dy/dw, dy/db]               [%g, %g]\n", r.affine_grads[0], r.affine_grads[1]);
  std::printf("vjp of x*2^k, k = 10         [%g, %g, %g]\n", r.vjp_grad[0], r.vjp_grad[1], r.vjp_grad[2]);
}
