// Programs compiled in program_key_other.cpp, a second translation unit of the program_key test.
#pragma once

#include <xtensor/xtensor.hpp>

namespace program_key_other {
double times_two(const xt::xtensor<double, 1>& data);   // sum(x·2)
double times_five(const xt::xtensor<double, 1>& data);  // sum(x·5)
}  // namespace program_key_other
