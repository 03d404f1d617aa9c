// The digits demo: a correct MLP reaches a held-out accuracy that an untrained one (or one trained
// by a broken gradient) does not; the run is reproducible from its seed and sound on a second run.
#include <doctest/doctest.h>

#include "../../examples/digits.hpp"

namespace {
example::digits::settings settings(std::size_t epochs, std::uint64_t seed = 0) {
  example::digits::settings s;
  s.csv = KOBAI_DIGITS_CSV;
  s.epochs = epochs;
  s.seed = seed;
  return s;
}
}  // namespace

TEST_CASE("the MLP learns the digits: held-out accuracy above 93%, chance without training") {
  const auto untrained = example::digits::compute(settings(0));
  CHECK(untrained.train_rows == 1437);
  CHECK(untrained.test_rows == 360);
  CHECK(untrained.final_test_accuracy < 0.3);  // ten classes: about 10% before any step

  const auto trained = example::digits::compute(settings(20));
  REQUIRE(trained.loss.size() == 20);
  CHECK(trained.final_test_accuracy > 0.93);
  CHECK(trained.train_accuracy > 0.97);
  CHECK(trained.loss.back() < 0.25 * trained.loss.front());
  CHECK(trained.test_loss.back() < trained.test_loss.front());
  CHECK(trained.rows_per_second > 0);

  // the same seed gives the same run; another seed another split and initialisation, as good
  const auto again = example::digits::compute(settings(20));
  CHECK(again.loss == trained.loss);
  CHECK(again.final_test_accuracy == trained.final_test_accuracy);
  const auto other = example::digits::compute(settings(20, 7));
  CHECK(other.loss != trained.loss);
  CHECK(other.final_test_accuracy > 0.93);
}
