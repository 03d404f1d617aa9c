// The backend choice: the host backend, the host emulator and the CUDA probe, once per process.
#include "kobai/backend.hpp"

#include <algorithm>
#include <utility>

#include "kobai/codegen/cuda.hpp"
#include "kobai/runtime/cuda_driver.hpp"
#include "kobai/runtime/emulator.hpp"
#include "kobai/runtime/nvrtc.hpp"

namespace kobai {

backend_choice select_backend(device::choice wanted) {
  if (wanted == device::cpu) return {device::cpu, runtime::host_memory::instance(), "running on the CPU, as asked"};
  if (wanted == device::emulated) {
    static const std::shared_ptr<runtime::device_backend> emulator = std::make_shared<runtime::host_emulator>();
    return {device::emulated, emulator, "running on the host emulator, as asked"};
  }
  // Once per process: the driver, a device and NVRTC, and a kernel compiled and loaded on it (so
  // an NVRTC the driver cannot load, or an architecture NVRTC cannot target, also falls back).
  static const auto [gpu, why] = []() -> std::pair<std::shared_ptr<runtime::device_backend>, std::string> {
    const auto& driver = runtime::cuda_driver::instance();
    const auto& compiler = runtime::nvrtc::instance();
    if (!driver.available()) return {nullptr, driver.why()};
    if (!compiler.available()) return {nullptr, compiler.why()};
    try {
      auto backend = std::make_shared<runtime::cuda_backend>();
      const codegen::cuda_program probe{"extern \"C\" __global__ void kobai_probe() {}\n", {{"kobai_probe"}}, {}};
      (void)backend->load(probe);
      return {std::move(backend), {}};
    } catch (const error& e) {
      std::string what = e.what();
      std::replace(what.begin(), what.end(), '\n', ' ');
      return {nullptr, what};
    }
  }();
  if (gpu) return {device::cuda, gpu, detail::join("running on ", gpu->name())};
  if (wanted == device::cuda) throw device_error(detail::join("kobai: device::cuda was asked for, but ", why));
  return {device::cpu, runtime::host_memory::instance(), detail::join("running on the CPU: ", why)};
}

}  // namespace kobai
