// kobai::scan on ADBench's diagonal LSTM in double (the test case: scan_lstm.hpp).
#include "scan_lstm.hpp"

TEST_CASE_TEMPLATE_INVOKE(lstm_test, double);
