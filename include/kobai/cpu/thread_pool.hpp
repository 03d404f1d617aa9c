// A persistent pool of worker threads for the CPU executor: runs numbered tasks, the caller
// taking part, with no allocation per run.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace kobai::cpu {

class thread_pool {
 public:
  /// The process-wide pool, started on first use with one worker per hardware thread but one.
  static thread_pool& instance() {
    static thread_pool pool(std::max(1u, std::thread::hardware_concurrency()));
    return pool;
  }

  explicit thread_pool(unsigned threads) {
    for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    start_.notify_all();
    for (auto& worker : workers_) worker.join();
  }

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
      active_ = workers_.size();
      ++generation_;
    }
    start_.notify_all();
    drain();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return active_ == 0; });
  }

 private:
  // Claims tasks until none are left.
  void drain() {
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

  void work(unsigned) {
    std::size_t seen = 0;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      drain();
      std::lock_guard lock(mutex_);
      if (--active_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one run at a time
  std::mutex mutex_;
  std::condition_variable start_, done_;
  void (*call_)(void*, std::size_t) = nullptr;
  void* context_ = nullptr;
  std::size_t tasks_ = 0, next_ = 0, active_ = 0, generation_ = 0;
  bool stopping_ = false;
};

}  // namespace kobai::cpu
