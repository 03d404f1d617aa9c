// The driver probe: without a driver it says why in one line; with one it names the device.
#include <doctest/doctest.h>

#include <dlfcn.h>

#include <string>

#include "kobai/runtime/cuda_driver.hpp"

TEST_CASE("the probe either finds a device or says why, in one line") {
  const auto& driver = kobai::runtime::cuda_driver::instance();
  if (driver.available()) {
    MESSAGE("CUDA device: " << driver.device_name() << ", sm_" << driver.architecture() << ", driver "
                            << driver.driver_version());
    CHECK(!driver.device_name().empty());
    CHECK(driver.architecture() >= 50);
    CHECK(driver.why().empty());
  } else {
    MESSAGE("no CUDA here: " << driver.why());
    CHECK(!driver.why().empty());
    CHECK(driver.why().find('\n') == std::string::npos);
    CHECK(driver.architecture() == 0);
  }
}

TEST_CASE("only libcuda.so.1 is ever loaded, never the toolkit's stub") {
  (void)kobai::runtime::cuda_driver::instance();
  // RTLD_NOLOAD answers whether a library is already in the process without loading it.
  CHECK(dlopen("libcuda.so", RTLD_NOW | RTLD_NOLOAD) == nullptr);
  const auto& driver = kobai::runtime::cuda_driver::instance();
  const bool driver_loaded = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD) != nullptr;
  if (driver.available()) CHECK(driver_loaded);
  if (driver.why().starts_with("no libcuda.so.1")) CHECK(!driver_loaded);
}
