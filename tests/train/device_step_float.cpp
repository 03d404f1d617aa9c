// compile_step on a device in float: the device step gives the host step's losses and parameters.
#include <doctest/doctest.h>

#include "device_step.hpp"

using namespace device_step_test;

TEST_CASE("a device step gives the host step's losses and parameters, in float") {
  check_against_host<float>(train::adam({.learning_rate = 2e-2}), 1e-4);
}
