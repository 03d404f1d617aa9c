// Where programs run: device::cpu, device::cuda, device::automatic (CUDA when a driver, a device
// and NVRTC are present, else the CPU) or device::emulated, and select_backend, which resolves a
// choice to a backend and says why in one line. The choice is made once per process, in the
// runtime library (runtime/backend.cpp), so every shared library using kobai gets the same backends.
#pragma once

#include <memory>
#include <string>

#include "kobai/runtime/export.hpp"
#include "kobai/runtime/memory.hpp"

namespace kobai {

namespace device {
/// Where a program runs. `automatic` is CUDA when usable, else the CPU; `emulated` runs the
/// generated kernels on the host (for testing the GPU path without a GPU).
enum class choice { cpu, cuda, automatic, emulated };
using enum choice;
}  // namespace device

/// A backend, and in one line why it was picked.
struct backend_choice {
  device::choice where = device::cpu;
  std::shared_ptr<runtime::device_backend> memory;
  std::string why;
};

/// Resolves a device choice. device::cuda throws a device_error saying why when CUDA is unusable.
/// The same choice gives the same backend object everywhere in a process.
KOBAI_RUNTIME_API backend_choice select_backend(device::choice wanted);

}  // namespace kobai
