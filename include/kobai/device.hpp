// Kept for existing code: the header is kobai/device_program.hpp (and kobai/backend.hpp).
#pragma once

#include "kobai/device_program.hpp"
