// compile_step on a device in double: the device step gives the host step's losses and parameters
// (the test case: device_step.hpp).
#include <doctest/doctest.h>

#include "device_step.hpp"

TEST_CASE_TEMPLATE_INVOKE(device_against_host, double);
