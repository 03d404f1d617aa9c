// One runtime per process: two shared libraries built with -fvisibility=hidden, loaded with
// dlopen, share the thread pool, the kernel cache, NVRTC, the driver probe and the backends with
// each other and with this executable, and accept each other's tensors. Header-only singletons
// would give each library its own copy, and each would reject the other's tensors.
#include <dlfcn.h>

#include <doctest/doctest.h>

#include <cstddef>
#include <string>

#include "kobai/device_program.hpp"
#include "kobai/kobai.hpp"

namespace {

// A library loaded with RTLD_LOCAL, so its symbols (the same names in both) stay apart.
struct library {
  explicit library(const char* path) : handle(dlopen(path, RTLD_NOW | RTLD_LOCAL)) {
    if (handle == nullptr) FAIL("dlopen(" << path << "): " << dlerror());
  }
  library(const library&) = delete;
  library& operator=(const library&) = delete;
  ~library() = default;  // kept loaded: its thread-local results may outlive a dlclose
  [[nodiscard]] const void* symbol(const char* name) const {
    const void* found = dlsym(handle, name);
    REQUIRE_MESSAGE(found != nullptr, "no " << name << " in a test library");
    return found;
  }
  template <class Function>
  Function* get(const char* name) const {
    return reinterpret_cast<Function*>(const_cast<void*>(symbol(name)));
  }
  void* handle;
};

const library& first() {
  static const library loaded(KOBAI_TEST_FIRST_LIBRARY);
  return loaded;
}
const library& second() {
  static const library loaded(KOBAI_TEST_SECOND_LIBRARY);
  return loaded;
}

using address = const void*();

// x·x + 1 over 0, 1, …, n − 1.
double expected_sum(std::size_t n) {
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) total += static_cast<double>(i * i + 1);
  return total;
}

}  // namespace

TEST_CASE("two libraries with hidden visibility are two libraries") {
  CHECK(first().handle != second().handle);
  CHECK(first().symbol("make") != second().symbol("make"));
}

TEST_CASE("one thread pool, one kernel cache, one NVRTC and one driver probe per process") {
  for (const char* name : {"thread_pool", "kernel_cache", "nvrtc", "cuda_driver"}) {
    CAPTURE(name);
    CHECK(first().get<address>(name)() == second().get<address>(name)());
  }
  CHECK(first().get<address>("thread_pool")() == &kobai::cpu::thread_pool::instance());
  CHECK(first().get<address>("kernel_cache")() == &kobai::runtime::kernel_cache::instance());
  CHECK(first().get<address>("nvrtc")() == &kobai::runtime::nvrtc::instance());
  CHECK(first().get<address>("cuda_driver")() == &kobai::runtime::cuda_driver::instance());
}

TEST_CASE("one host backend, and one backend per device choice") {
  CHECK(first().get<address>("host_memory")() == second().get<address>("host_memory")());
  CHECK(first().get<address>("host_memory")() == kobai::runtime::host_memory::instance().get());
  for (auto where : {kobai::device::cpu, kobai::device::emulated, kobai::device::automatic}) {
    CAPTURE(static_cast<int>(where));
    const auto backend_of = [&](const library& in) {
      return in.get<const void*(int)>("backend")(static_cast<int>(where));
    };
    CHECK(backend_of(first()) == backend_of(second()));
    CHECK(backend_of(first()) == kobai::select_backend(where).memory.get());
  }
}

TEST_CASE("a tensor made by one library is accepted by the other, both ways") {
  constexpr std::size_t n = 1 << 16;  // several tasks on two threads
  for (const auto* maker : {&first(), &second()}) {
    const auto* user = maker == &first() ? &second() : &first();
    void* made = maker->get<void*(std::size_t)>("make")(n);
    double total = 0;
    char message[512] = {};
    const bool ran =
        user->get<bool(const void*, double*, char*, std::size_t)>("sum")(made, &total, message, sizeof message);
    CHECK_MESSAGE(ran, message);
    if (ran) CHECK(total == doctest::Approx(expected_sum(n)).epsilon(1e-12));
    maker->get<void(void*)>("release")(made);
  }
}
