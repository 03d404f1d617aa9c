// A persistent pool of worker threads for the CPU executor: runs numbered tasks, the caller
// taking part, with no allocation per run. The process-wide pool and the workers' loop are
// compiled in the runtime library (runtime/thread_pool.cpp), so a process has one pool however
// many shared libraries use kobai.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include "kobai/runtime/export.hpp"

namespace kobai::cpu {

class KOBAI_RUNTIME_API thread_pool {
 public:
  /// The process-wide pool, started on first use with one worker per hardware thread but one.
  static thread_pool& instance();

  explicit thread_pool(unsigned threads);
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool();

  /// Threads that can run tasks at once, the caller included.
  [[nodiscard]] unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }

  /// Runs task(i) for every i in [0, tasks). Tasks are spread over the pool; when another caller
  /// holds the pool, this caller runs them all itself. A task must not throw.
  template <class Task>
  void run(std::size_t tasks, Task& task) {
    std::unique_lock busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock() || workers_.empty() || tasks < 2) {
      for (std::size_t i = 0; i < tasks; ++i) task(i);
      return;
    }
    {
      std::lock_guard lock(mutex_);
      call_ = [](void* context, std::size_t i) { (*static_cast<Task*>(context))(i); };
      context_ = &task;
      tasks_ = tasks;
      next_ = 0;
      active_.store(workers_.size(), std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    start_.notify_all();  // (workers still spinning from the last run see the generation change)
    drain();
    if (spin_until([this] { return active_.load(std::memory_order_acquire) == 0; })) return;
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return active_.load(std::memory_order_relaxed) == 0; });
  }

 private:
  // Claims tasks until none are left.
  void drain();
  // A worker's loop: waits for a run, takes part in it, until the pool stops.
  void work(unsigned);
  // Polls `ready` for a short while (yielding the core to any other runnable thread), before a
  // waiter goes to sleep: waking a sleeping thread costs tens of microseconds on some machines
  // (virtual CPUs), more than a small loop's whole task, and steps called back to back find the
  // workers awake. Whether `ready` turned true.
  template <class Ready>
  static bool spin_until(Ready ready);

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one run at a time
  std::mutex mutex_;
  std::condition_variable start_, done_;
  void (*call_)(void*, std::size_t) = nullptr;
  void* context_ = nullptr;
  std::size_t tasks_ = 0, next_ = 0;
  std::atomic<std::size_t> active_ = 0, generation_ = 0;
  bool stopping_ = false;
};

template <class Ready>
bool thread_pool::spin_until(Ready ready) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(500);
  for (unsigned polls = 1;; ++polls) {
    if (ready()) return true;
    if (polls % 64 == 0 && std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
}

}  // namespace kobai::cpu
