// compile_step on a device in float: the device step gives the host step's losses and parameters
// (device_step.hpp runs both), with Adam.
#include <doctest/doctest.h>

#include "device_step.hpp"

TEST_CASE("a device step in float gives the host step's losses and parameters: Adam") {
  using namespace device_step_test;
  for (const unsigned seed : {1u, 2u}) {
    const against_host runs[] = {compare_with_host<float>(train::adam({.learning_rate = 2e-2}), 1e-4, seed)};
    for (const against_host& run : runs) {
      INFO("seed " << seed);
      REQUIRE(run.on_device);
      CHECK(run.values.size() == against_host_count);
      for (const comparison& c : run.values) CHECK_MESSAGE(c.agrees(), c.text());
      CHECK(run.moved);
      CHECK(run.kept_on_device);
    }
  }
}
