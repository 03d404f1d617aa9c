// one_layer_bce: z = x·W + b with a mean binary cross-entropy on logits, and dL/dW, dL/db.
// Run with --json for one JSON object.
#include <cstdio>

#include "common.hpp"
#include "one_layer_bce.hpp"

int main(int argc, char** argv) {
  return example::run(argc, argv, [](int argc, char** argv) {
    const auto r = example::one_layer_bce::compute();
    if (example::wants_json(argc, argv)) {
      example::json_object out;
      out.add("bce_loss", r.bce_loss);
      out.add("bce_grad_w", r.bce_grad_w);
      out.add("bce_grad_b", r.bce_grad_b);
      std::printf("%s\n", out.str().c_str());
      return 0;
    }
    std::printf("loss = mean BCE(x·W + b, 0)   %.9g\n", r.bce_loss);
    std::printf("dL/dW (5×3):\n");
    for (std::size_t i = 0; i < 5; ++i)
      std::printf("  % .9f % .9f % .9f\n", r.bce_grad_w[3 * i], r.bce_grad_w[3 * i + 1], r.bce_grad_w[3 * i + 2]);
    std::printf("dL/db          % .9f % .9f % .9f\n", r.bce_grad_b[0], r.bce_grad_b[1], r.bce_grad_b[2]);
    return 0;
  });
}
