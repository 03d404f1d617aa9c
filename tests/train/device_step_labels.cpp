// compile_step on a device with class labels held as integers: the device executor copies and
// checks them itself, and the step passes them through as the host step does. The same step object
// type also runs with device::cpu (the device program's CPU form, its tensors in host memory).
#include <doctest/doctest.h>

#include <cstdint>
#include <utility>

#include "device_step.hpp"

using namespace device_step_test;

TEST_CASE("a device step with integer class labels gives the host step's losses, on the device and the CPU") {
  constexpr auto labels = input<"labels", 1, std::int64_t>;
  constexpr auto by_label = cross_entropy(g * matmul(tanh(matmul(X, W1) + b1), W2), labels);
  for (const auto& [rows, where] : {std::pair{std::size_t{19}, under_test()}, std::pair{std::size_t{40}, under_test()},
                                    std::pair{std::size_t{23}, device::cpu}}) {  // with new data and extents
    const auto data = classes<double>(rows, static_cast<unsigned>(rows));
    auto y = xt::xtensor<std::int64_t, 1>::from_shape({rows});
    for (std::size_t i = 0; i < rows; ++i)
      for (std::int64_t c = 0; c < 3; ++c)
        if (data.targets(i, static_cast<std::size_t>(c)) == 1) y(i) = c;
    auto host = train::compile_step(by_label, train::parameters(W1, b1, W2, g), train::sgd({.learning_rate = 0.3}));
    auto device =
        train::compile_step(where, by_label, train::parameters(W1, b1, W2, g), train::sgd({.learning_rate = 0.3}));
    REQUIRE(device.where() == where);
    initialise(host, 8);
    initialise(device, 8);
    for (int k = 0; k < 5; ++k) {
      const double expected = host(X = data.features, labels = y);
      CHECK(device(X = data.features, labels = y) == doctest::Approx(expected).epsilon(1e-12));
    }
    CHECK(host.parameter(g) != 0.9);
    CHECK(device.get(g) == doctest::Approx(host.parameter(g)).epsilon(1e-12));
  }
}
