// Counts heap allocations: every operator new of the test executable that includes this header (in
// one of its files) goes through here. heap_allocations() before and after a call tells whether it
// touched the heap.
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // malloc/free behind new/delete is the point
#endif

namespace {
std::atomic<long> allocation_count{0};
long heap_allocations() { return allocation_count.load(); }
}  // namespace

void* operator new(std::size_t size) {
  ++allocation_count;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
