// digits: the main demo (scripts/demo). An MLP classifier trained with Adam on scikit-learn's
// handwritten digits: a progress line on a terminal, the loss and held-out accuracy per epoch, the
// final held-out accuracy and where it ran. --json prints one JSON object; --data PATH reads
// another copy of digits.csv; --epochs N.
#include <cstdio>
#include <string>

#include "common.hpp"
#include "digits.hpp"

int main(int argc, char** argv) {
  return example::run(argc, argv, [](int argc, char** argv) {
    example::digits::settings s;
    bool given = false;
    s.csv = example::option(argc, argv, "--data", &given);
    if (!given) s.csv = KOBAI_DIGITS_CSV;
    const std::string epochs = example::option(argc, argv, "--epochs", &given);
    if (given) s.epochs = std::stoul(epochs);
    const bool json = example::wants_json(argc, argv);
    if (!json) {
      std::printf("kobai demo: an MLP 64 -> 32 (tanh) -> 10 on scikit-learn's handwritten digits (%s)\n",
                  s.csv.c_str());
      s.progress = kobai::train::progress_display::automatic;
      s.print_epochs = true;
    }
    const auto r = example::digits::compute(s);
    if (json) {
      example::json_object out;
      out.add("train_rows", static_cast<double>(r.train_rows));
      out.add("test_rows", static_cast<double>(r.test_rows));
      out.add("loss", r.loss);
      out.add("test_loss", r.test_loss);
      out.add("test_accuracy", r.test_accuracy);
      out.add("final_test_accuracy", r.final_test_accuracy);
      out.add("train_accuracy", r.train_accuracy);
      out.add("rows_per_second", r.rows_per_second);
      out.add_text("where", r.where);
      std::printf("%s\n", out.str().c_str());
      return 0;
    }
    std::printf("%zu rows trained on, %zu held out; Adam, batches of %zu, %zu epochs\n", r.train_rows, r.test_rows,
                s.batch_size, s.epochs);
    std::printf("held-out accuracy %.1f%% (training rows %.1f%%), %.0f rows/s per epoch (median)\n",
                100 * r.final_test_accuracy, 100 * r.train_accuracy, r.rows_per_second);
    std::printf("ran on %s\n", r.where.c_str());
    return 0;
  });
}
