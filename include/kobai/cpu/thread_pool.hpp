// A persistent pool of worker threads for the CPU executor: runs numbered tasks, the caller
// taking part, with no allocation per run. The process-wide pool and the workers' loop are
// compiled in the runtime library (runtime/thread_pool.cpp), so a process has one pool however
// many shared libraries use kobai.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
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

  /// Runs task(i) for every i in [0, tasks). Tasks are claimed one at a time by whichever thread
  /// is free, the caller first: the call returns once every task has run, and never waits for a
  /// worker that has not claimed one (a worker descheduled by another process costs nothing).
  /// When another caller holds the pool, or a task runs tasks, the caller runs them all itself.
  /// A task that throws ends the process (std::terminate).
  template <class Task>
  void run(std::size_t tasks, Task& task) {
    run_erased(
        tasks, [](void* context, std::size_t i) { (*static_cast<Task*>(context))(i); }, &task);
  }

 private:
  void run_erased(std::size_t tasks, void (*call)(void*, std::size_t), void* context);
  // Claims and runs the tasks of run `generation` until none are left or another run began.
  void drain(std::uint64_t generation);
  // A worker's loop: waits for a run, takes part in it, until the pool stops.
  void work();

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one run at a time
  std::mutex mutex_;      // the sleeping side of start_ and done_
  std::condition_variable start_, done_;
  // The run: its claim word (generation, task count, next task; see thread_pool.cpp), and its
  // fields, written before the word publishes it and unchanged until its last task has run.
  std::atomic<std::uint64_t> claim_ = 0;
  std::atomic<std::size_t> first_ = 0, finished_ = 0;
  std::atomic<void (*)(void*, std::size_t)> call_ = nullptr;
  std::atomic<void*> context_ = nullptr;
  std::atomic<bool> stopping_ = false;
};

}  // namespace kobai::cpu
