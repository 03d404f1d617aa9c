// kobai::scan on ADBench's diagonal LSTM in float (scan_lstm.hpp).
#include "scan_lstm.hpp"

TEST_CASE("scan: ADBench's LSTM, the objective and every gradient, in float") { check_lstm<float>(); }
