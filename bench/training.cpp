// W9, training throughput: the digits MLP 64 → 32 (tanh) → 10 with cross-entropy, trained with
// Adam (lr 1e-2) in batches of 64 on scikit-learn's digits (data/digits.csv: 1,437 rows trained
// on, standardised), through kobai::train::compile_step and fit. Times whole epochs (each shuffled
// once, its batches bound without copies, the last short) at one thread and at every thread, and
// prints rows per second. With --out DIR it records the data, the initial parameters and the
// parameters after one epoch in file order, which bench/peers.py checks PyTorch eager against
// before timing its epochs on the same batches.
#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "../examples/digits.hpp"  // the model, its data preparation and initialisation
#include "harness.hpp"
#include "kobai/kobai.hpp"
#include "kobai/train.hpp"

namespace {

using namespace example::digits;
namespace train = kobai::train;
constexpr std::size_t batch_size = 64;

auto make_step() {
  auto step = train::compile_step<float>(loss, train::parameters(W1, b1, W2, b2), train::adam({.learning_rate = 1e-2}));
  initialise(step, 0);
  return step;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::recorder recorder(argc, argv);
  const prepared digits = prepare(KOBAI_DIGITS_CSV, 0);
  const auto& training = digits.training;
  const auto& targets = digits.training_targets;
  const std::size_t n = training.size();
  const auto data = train::data(X = training.features, Y = targets);

  {  // the reference for the peers: one epoch in file order from the initial parameters
    auto step = make_step();
    const std::string size = "_" + std::to_string(n);
    recorder.dump("w9_x" + size, training.features.data(), training.features.size());
    recorder.dump("w9_y" + size, targets.data(), targets.size());
    std::vector<float> numbers;
    std::apply(
        [&](const auto&... p) {
          (recorder.dump("W9_" + std::string(p.name.view()) + size, step.parameter(p).data(), step.parameter(p).size()),
           ...);
        },
        std::tuple{W1, b1, W2, b2});
    train::fit(step, data,
               {.epochs = 1, .batch_size = batch_size, .shuffle = false, .progress = train::progress_display::never});
    for (const auto* p : {&step.parameter(W1), &step.parameter(W2)})
      numbers.insert(numbers.end(), p->begin(), p->end());
    for (const auto* p : {&step.parameter(b1), &step.parameter(b2)})
      numbers.insert(numbers.end(), p->begin(), p->end());
    recorder.dump("W9" + size + "_kobai", numbers.data(), numbers.size());
  }

  std::printf("W9 digits MLP training, Adam, batches of %zu, float32: medians of 31 epochs of %zu rows\n", batch_size,
              n);
  const unsigned all = std::max(1U, std::thread::hardware_concurrency());
  for (unsigned threads : {1U, all}) {
    if (threads == all && all == 1) continue;
    auto step = make_step();
    step.threads(threads);
    std::vector<double> seconds;
    train::fit(step, data,
               {.epochs = 32,
                .batch_size = batch_size,
                .seed = 5,
                .progress = train::progress_display::never,
                .on_epoch = [&](const train::epoch_report& e) {
                  if (e.epoch > 1) seconds.push_back(e.seconds);  // the first epoch warms up
                }});
    std::nth_element(seconds.begin(), seconds.begin() + static_cast<std::ptrdiff_t>(seconds.size() / 2), seconds.end());
    const double epoch = seconds[seconds.size() / 2];
    std::printf("W9 %6zu %3u threads %10.3f ms per epoch %12.0f rows/s\n", n, threads, epoch * 1e3,
                static_cast<double>(n) / epoch);
    recorder.record("{\"workload\": \"W9\", \"n\": " + std::to_string(n) + ", \"threads\": " + std::to_string(threads) +
                    ", \"kobai_s\": " + bench::number(epoch) + "}");
  }
}
