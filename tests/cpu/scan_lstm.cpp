// kobai::scan on ADBench's diagonal LSTM in double: the objective and every gradient against the
// benchmark's algorithm in float64 loops and central differences (scan_lstm.hpp computes them).
#include "scan_lstm.hpp"

TEST_CASE("scan: ADBench's LSTM in double, the objective and every gradient") {
  const std::vector<lstm_comparison> comparisons = lstm_comparisons<double>();
  CHECK(comparisons.size() == lstm_comparison_count);
  for (const lstm_comparison& c : comparisons) {
    INFO(c.what << ": kobai " << c.got << ", reference " << c.expected);
    CHECK(std::abs(c.got - c.expected) < c.bound);
  }
}
