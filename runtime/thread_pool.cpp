// The CPU executor's thread pool: the process-wide pool, the claiming of tasks and the workers' loop.
#include "kobai/cpu/thread_pool.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace kobai::cpu {

namespace {

// A claim word: the run's generation (bits 32-63), its task count (16-31) and its next unclaimed
// task (0-15). A claim is one compare-and-swap of the word, so it fails once the run it read is
// over, and both the count and the index it checks are the run's own.
constexpr std::uint64_t most_tasks = 0xffff;
constexpr std::uint64_t generation_of(std::uint64_t claim) { return claim >> 32; }
constexpr std::size_t count_of(std::uint64_t claim) { return static_cast<std::size_t>((claim >> 16) & most_tasks); }
constexpr std::size_t task_of(std::uint64_t claim) { return static_cast<std::size_t>(claim & most_tasks); }

// Polls `ready` for a short while (yielding the core to any other runnable thread), before a
// waiter goes to sleep: waking a sleeping thread costs tens of microseconds on some machines
// (virtual CPUs), more than a small loop's whole task, and steps called back to back find the
// workers awake. Whether `ready` turned true.
template <class Ready>
bool spin_until(Ready ready) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(500);
  for (unsigned polls = 1;; ++polls) {
    if (ready()) return true;
    if (polls % 64 == 0 && std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
}

// Runs one task; a task that throws ends the process here (std::terminate), rather than unwinding
// a caller whose tasks other threads are still running.
void run_task(void (*call)(void*, std::size_t), void* context, std::size_t i) noexcept { call(context, i); }

// The pool whose run this thread is inside, if any: a task that runs tasks runs them itself
// (try_lock on a mutex the thread already holds would be undefined).
thread_local const thread_pool* running = nullptr;

// Tells the workers to stop, wakes them and waits for them.
void stop(std::mutex& mutex, std::atomic<bool>& stopping, std::condition_variable& start,
          std::vector<std::thread>& workers) {
  {
    std::lock_guard lock(mutex);
    stopping.store(true, std::memory_order_relaxed);
  }
  start.notify_all();
  for (auto& worker : workers) worker.join();
}

}  // namespace

thread_pool& thread_pool::instance() {
  static thread_pool pool(std::max(1u, std::thread::hardware_concurrency()));
  return pool;
}

thread_pool::thread_pool(unsigned threads) {
  try {
    for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  } catch (...) {  // (a thread that failed to start: stop those that did, then report it)
    stop(mutex_, stopping_, start_, workers_);
    throw;
  }
}

thread_pool::~thread_pool() { stop(mutex_, stopping_, start_, workers_); }

void thread_pool::run_erased(std::size_t tasks, void (*call)(void*, std::size_t), void* context) {
  std::unique_lock busy(run_mutex_, std::defer_lock);
  if (running == this || workers_.empty() || tasks < 2 || !busy.try_lock()) {
    for (std::size_t i = 0; i < tasks; ++i) run_task(call, context, i);
    return;
  }
  struct mark {  // (this thread is inside this pool's run until it returns)
    const thread_pool* outer;
    ~mark() { running = outer; }
  } const marked{std::exchange(running, this)};
  for (std::size_t first = 0; first < tasks; first += most_tasks) {  // (rounds of at most 65535)
    const std::size_t count = std::min<std::size_t>(tasks - first, most_tasks);
    // (no worker reads these now: every task of the last round has run, and its word is spent)
    call_.store(call, std::memory_order_relaxed);
    context_.store(context, std::memory_order_relaxed);
    first_.store(first, std::memory_order_relaxed);
    finished_.store(0, std::memory_order_relaxed);
    const std::uint64_t generation = (generation_of(claim_.load(std::memory_order_relaxed)) + 1) & 0xffffffffu;
    {
      std::lock_guard lock(mutex_);  // (a worker going to sleep either sees the round or is woken)
      claim_.store(generation << 32 | count << 16, std::memory_order_release);
    }
    start_.notify_all();
    drain(generation);
    const auto done = [&] { return finished_.load(std::memory_order_acquire) == count; };
    if (!spin_until(done)) {
      std::unique_lock lock(mutex_);
      done_.wait(lock, done);
    }
  }
}

void thread_pool::drain(std::uint64_t generation) {
  for (;;) {
    std::uint64_t claim = claim_.load(std::memory_order_acquire);
    do {
      if (generation_of(claim) != generation || task_of(claim) >= count_of(claim)) return;
    } while (!claim_.compare_exchange_weak(claim, claim + 1, std::memory_order_acq_rel, std::memory_order_acquire));
    const std::size_t task = first_.load(std::memory_order_relaxed) + task_of(claim);
    run_task(call_.load(std::memory_order_relaxed), context_.load(std::memory_order_relaxed), task);
    if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == count_of(claim)) {
      std::lock_guard lock(mutex_);
      done_.notify_one();
    }
  }
}

void thread_pool::work() {
  std::uint64_t seen = 0;
  const auto woken = [&] {
    return stopping_.load(std::memory_order_relaxed) || generation_of(claim_.load(std::memory_order_acquire)) != seen;
  };
  for (;;) {
    if (!spin_until(woken)) {
      std::unique_lock lock(mutex_);
      start_.wait(lock, woken);
    }
    if (stopping_.load(std::memory_order_relaxed)) return;
    seen = generation_of(claim_.load(std::memory_order_acquire));
    drain(seen);
  }
}

}  // namespace kobai::cpu
