// autograd_basics: gradients of scalars, several variables, a tensor tutorial and a vector-Jacobian
// product. Run with --json for one JSON object.
#include <cstdio>

#include "autograd_basics.hpp"
#include "common.hpp"

namespace {
std::string list(const std::vector<double>& values) {
  std::string text = "[";
  for (double v : values) {
    if (text.size() > 1) text += ", ";
    text += std::to_string(v);
  }
  text += "]";
  return text;
}
}  // namespace

int main(int argc, char** argv) {
  return example::run(argc, argv, [](int argc, char** argv) {
    const auto r = example::autograd_basics::compute();
    if (example::wants_json(argc, argv)) {
      example::json_object out;
      out.add("pow4_grad_at_5", r.pow4_grad_at_5);
      out.add("affine_y", r.affine_y);
      out.add("affine_grads", {r.affine_grads[0], r.affine_grads[1]});
      out.add("tutorial_out", r.tutorial_out);
      out.add("tutorial_grad", r.tutorial_grad);
      out.add("vjp_grad", r.vjp_grad);
      std::printf("%s\n", out.str().c_str());
      return 0;
    }
    std::printf("d/dx x^4 at x = 5               %g\n", r.pow4_grad_at_5);
    std::printf("y = w*x + b at w=2, x=5, b=1    %g\n", r.affine_y);
    std::printf("[dy/dw, dy/db]                  [%g, %g]\n", r.affine_grads[0], r.affine_grads[1]);
    std::printf("mean(3(x+2)^2), x = ones(2,2)   %g\n", r.tutorial_out);
    std::printf("its gradient, row-major         %s\n", list(r.tutorial_grad).c_str());
    std::printf("vjp of x*2^k, k = 10            %s\n", list(r.vjp_grad).c_str());
    return 0;
  });
}
