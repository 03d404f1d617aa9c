// The CPU executor's thread pool: every task of every run runs exactly once, before run returns,
// however many callers share the pool and however often its workers are off their cores.
#include "kobai/cpu/thread_pool.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace {

using kobai::cpu::thread_pool;

// Runs `runs` runs of 1, 2, … `most` tasks in turn on `pool`; each task adds one to its slot and
// records the run it belongs to. Whether, after every run, each of its tasks ran exactly once for
// that run (a task run twice, skipped or still running when run returned shows in the counts).
bool runs_each_task_once(thread_pool& pool, std::size_t runs, std::size_t most) {
  std::vector<std::atomic<std::size_t>> count(most), last(most);
  bool exact = true;
  for (std::size_t r = 1; r <= runs; ++r) {
    const std::size_t tasks = 1 + r % most;
    auto task = [&, r](std::size_t i) {
      count[i].fetch_add(1, std::memory_order_relaxed);
      last[i].store(r, std::memory_order_relaxed);
    };
    pool.run(tasks, task);
    for (std::size_t i = 0; i < tasks; ++i) {
      exact = exact && count[i].exchange(0) == 1 && last[i].load() == r;
    }
  }
  return exact;
}

}  // namespace

TEST_CASE("every task of every run runs exactly once, before run returns, on pools of 1 to 8 threads") {
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    CAPTURE(threads);
    thread_pool pool(threads);
    CHECK(pool.size() == threads);
    CHECK(runs_each_task_once(pool, 3000, 70));
  }
}

TEST_CASE("more workers than cores, often descheduled: every run still completes with each task once") {
  thread_pool pool(4 * std::max(2u, std::thread::hardware_concurrency()));
  CHECK(runs_each_task_once(pool, 5000, 3));
}

TEST_CASE("callers on several threads at once: each caller's tasks run exactly once") {
  thread_pool pool(3);
  std::vector<int> exact(4, 0);
  std::vector<std::thread> callers;
  for (std::size_t c = 0; c < exact.size(); ++c)
    callers.emplace_back([&, c] { exact[c] = runs_each_task_once(pool, 1000, 9 + c) ? 1 : 0; });
  for (auto& caller : callers) caller.join();
  CHECK(exact == std::vector<int>(exact.size(), 1));
}

TEST_CASE("a task that runs tasks on the same pool runs them itself") {
  thread_pool pool(3);
  std::vector<std::atomic<int>> inner(8 * 5);
  auto outer = [&](std::size_t o) {
    auto task = [&, o](std::size_t i) { inner[o * 5 + i].fetch_add(1); };
    pool.run(5, task);
  };
  pool.run(8, outer);
  int total = 0;
  for (auto& n : inner) total += n.load() == 1 ? 1 : 0;
  CHECK(total == 40);
}

TEST_CASE("a run of more tasks than one claim word counts (65535) runs each exactly once") {
  thread_pool pool(3);
  std::vector<std::atomic<unsigned char>> ran(200'003);
  auto task = [&](std::size_t i) { ran[i].fetch_add(1, std::memory_order_relaxed); };
  pool.run(ran.size(), task);
  std::size_t once = 0;
  for (auto& n : ran) once += n.load() == 1 ? 1 : 0;
  CHECK(once == ran.size());
}
