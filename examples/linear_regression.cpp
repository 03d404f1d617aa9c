// linear_regression: SGD with fused steps (loss and both gradients in one pass over the data).
// --json prints one JSON object.
#include <cstdio>

#include "common.hpp"
#include "linear_regression.hpp"

int main(int argc, char** argv) {
  return example::run(argc, argv, [](int argc, char** argv) {
    const auto r = example::linear_regression::compute();
    if (example::wants_json(argc, argv)) {
      example::json_object out;
      out.add("sgd5_w_b", r.sgd5_w_b);
      out.add("sgd5_pred", r.sgd5_pred);
      out.add("fit_w", r.fit_w);
      out.add("fit_b", r.fit_b);
      out.add("fit_loss_history", r.fit_loss_history);
      out.add_text("fit_backend", r.fit_backend);
      std::printf("%s\n", out.str().c_str());
      return 0;
    }
    std::printf("5 SGD steps on x = [1, 2, 3], t = [2, 4, 6]: w = %.6f, b = %.6f\n", r.sgd5_w_b[0], r.sgd5_w_b[1]);
    std::printf("  predictions [%.6f, %.6f, %.6f]\n", r.sgd5_pred[0], r.sgd5_pred[1], r.sgd5_pred[2]);
    std::printf("fit t = 2x + 0.1 noise, N = 100000, one fused step per epoch, %s:\n", r.fit_backend.c_str());
    for (std::size_t e = 0; e < r.fit_loss_history.size(); ++e)
      if (e < 5 || e + 1 == r.fit_loss_history.size())
        std::printf("  epoch %3zu  loss %.8f\n", e + 1, r.fit_loss_history[e]);
    std::printf("  w = %.6f, b = %.6f after %zu epochs\n", r.fit_w, r.fit_b, r.fit_loss_history.size());
    return 0;
  });
}
