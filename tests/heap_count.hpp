// Counts heap allocations and the bytes they hold: every operator new of the test executable that
// includes this header (in one of its files) goes through here. heap_allocations() before and after
// a call tells whether it touched the heap; reset_peak_bytes() then peak_bytes() the most bytes it
// held at once beyond what was held when the peak was reset.
#pragma once

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // malloc/free behind new/delete is the point
#endif

namespace {
std::atomic<long> allocation_count{0};
std::atomic<long> live_bytes{0};
std::atomic<long> peak_live_bytes{0};
[[maybe_unused]] long heap_allocations() { return allocation_count.load(); }
[[maybe_unused]] long base_bytes = 0;
/// Starts a new peak from the bytes held now.
[[maybe_unused]] void reset_peak_bytes() {
  base_bytes = live_bytes.load();
  peak_live_bytes.store(base_bytes);
}
/// The most bytes held at once since reset_peak_bytes(), beyond those held then.
[[maybe_unused]] long peak_bytes() { return peak_live_bytes.load() - base_bytes; }
}  // namespace

void* operator new(std::size_t size) {
  ++allocation_count;
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    const long now = live_bytes += static_cast<long>(malloc_usable_size(p));
    long peak = peak_live_bytes.load();
    while (now > peak && !peak_live_bytes.compare_exchange_weak(peak, now)) {
    }
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  if (p != nullptr) live_bytes -= static_cast<long>(malloc_usable_size(p));
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }
