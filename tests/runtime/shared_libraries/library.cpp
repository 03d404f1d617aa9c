// A shared library that uses kobai, built with -fvisibility=hidden (as libraries usually are):
// shared_libraries.cpp loads it twice, as two libraries, into one process. Its C entry points
// report the runtime's singletons it sees, make tensors with a CPU program on several threads,
// and run a program on tensors made elsewhere.
#include <cstddef>
#include <cstdio>
#include <exception>

#include "kobai/device_program.hpp"
#include "kobai/kobai.hpp"

#define KOBAI_TEST_EXPORT extern "C" __attribute__((visibility("default")))

using namespace kobai::literals;

namespace {
constexpr auto x = kobai::input<"x", 1>;
using tensor = kobai::device_tensor<double, 1>;
}  // namespace

KOBAI_TEST_EXPORT const void* thread_pool() { return &kobai::cpu::thread_pool::instance(); }
KOBAI_TEST_EXPORT const void* kernel_cache() { return &kobai::runtime::kernel_cache::instance(); }
KOBAI_TEST_EXPORT const void* nvrtc() { return &kobai::runtime::nvrtc::instance(); }
KOBAI_TEST_EXPORT const void* cuda_driver() { return &kobai::runtime::cuda_driver::instance(); }
KOBAI_TEST_EXPORT const void* host_memory() { return kobai::runtime::host_memory::instance().get(); }
KOBAI_TEST_EXPORT const void* backend(int where) {
  return kobai::select_backend(static_cast<kobai::device::choice>(where)).memory.get();
}

// x·x + 1 for x = 0, 1, …, n − 1, by a CPU program on two threads, in host memory; the caller
// owns it and gives it back with release().
KOBAI_TEST_EXPORT void* make(std::size_t n) {
  auto program = kobai::compile(kobai::device::cpu, x * x + 1_c);
  program.threads(2);
  auto values = xt::xtensor<double, 1>::from_shape({n});
  for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<double>(i);
  return new tensor(program(x = kobai::to_device(values, program.backend())));
}
KOBAI_TEST_EXPORT void release(void* made) { delete static_cast<tensor*>(made); }

// Σ x over a tensor made by either library, by a CPU program on two threads: true and the sum
// in *total, or false and the error in `message`.
KOBAI_TEST_EXPORT bool sum(const void* made, double* total, char* message, std::size_t size) {
  try {
    auto program = kobai::compile(kobai::device::cpu, kobai::sum(x));
    program.threads(2);
    *total = program(x = *static_cast<const tensor*>(made));
    return true;
  } catch (const std::exception& e) {
    std::snprintf(message, size, "%s", e.what());
    return false;
  }
}
