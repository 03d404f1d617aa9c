// Host memory behind the device interface, and the process-wide host backend.
#include "kobai/runtime/memory.hpp"

#include <cstring>
#include <new>

namespace kobai::runtime {

device_backend::~device_backend() = default;

void* host_resident::do_allocate(std::size_t bytes) {
  return ::operator new (bytes == 0 ? 1 : bytes, std::align_val_t{64});
}
void host_resident::release(void* memory) noexcept { ::operator delete (memory, std::align_val_t{64}); }

namespace {
void copy(void* to, const void* from, std::size_t bytes) {
  if (bytes) std::memcpy(to, from, bytes);
}
}  // namespace

void host_resident::copy_to_device(void* device, const void* host, std::size_t bytes) { copy(device, host, bytes); }
void host_resident::copy_to_host(void* host, const void* device, std::size_t bytes) { copy(host, device, bytes); }
void host_resident::copy_on_device(void* to, const void* from, std::size_t bytes) { copy(to, from, bytes); }
void host_resident::synchronize() {}

const std::shared_ptr<device_backend>& host_memory::instance() {
  static const std::shared_ptr<device_backend> memory = std::make_shared<host_memory>();
  return memory;
}
std::string host_memory::name() const { return "CPU"; }
const loaded_program& host_memory::load(const codegen::cuda_program&) {
  throw device_error("kobai: the CPU runs programs with its own executor, not generated kernels");
}
void host_memory::launch(void*, unsigned, unsigned, const void*, std::size_t) {
  throw device_error("kobai: the CPU runs programs with its own executor, not generated kernels");
}
unsigned host_memory::block_threads() const { return 1; }
unsigned host_memory::max_blocks() const { return 1; }

}  // namespace kobai::runtime
