// The CPU executor's thread pool: the process-wide pool and the workers' loop.
#include "kobai/cpu/thread_pool.hpp"

#include <algorithm>

namespace kobai::cpu {

thread_pool& thread_pool::instance() {
  static thread_pool pool(std::max(1u, std::thread::hardware_concurrency()));
  return pool;
}

thread_pool::thread_pool(unsigned threads) {
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
}

thread_pool::~thread_pool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  start_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void thread_pool::drain() {
  for (;;) {
    std::size_t i;
    {
      std::lock_guard lock(mutex_);
      if (next_ >= tasks_) return;
      i = next_++;
    }
    call_(context_, i);
  }
}

void thread_pool::work(unsigned) {
  std::size_t seen = 0;
  for (;;) {
    spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock lock(mutex_);
      start_.wait(lock, [&] { return stopping_ || generation_.load(std::memory_order_relaxed) != seen; });
      if (stopping_) return;
      seen = generation_.load(std::memory_order_relaxed);
    }
    drain();
    std::lock_guard lock(mutex_);
    if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.notify_one();
  }
}

}  // namespace kobai::cpu
