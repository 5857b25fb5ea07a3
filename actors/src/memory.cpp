#include "weft/actors/memory.hpp"

#include <caf/all.hpp>

#include <fstream>

#include <unistd.h>

#if defined(__GLIBC__)
#  include <malloc.h>
#endif

namespace weft {

memory_releaser::memory_releaser(size_t min_tasks,
                                 std::chrono::milliseconds interval)
    : min_tasks_(min_tasks),
      interval_(std::chrono::duration_cast<clock::duration>(interval)) {
}

memory_releaser::~memory_releaser() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stop_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable())
    worker_.join();
}

memory_releaser& memory_releaser::process() {
  static memory_releaser instance;
  return instance;
}

bool memory_releaser::job_settled(size_t tasks) {
  if (tasks < min_tasks_)
    return false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stop_)
      return false;
    asked_ = true;
    if (!worker_.joinable())
      worker_ = std::thread{[this] { run(); }};
  }
  wake_.notify_one();
  return true;
}

bool memory_releaser::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{mtx_};
  return idle_.wait_for(lock, timeout, [this] { return !asked_ && !running_; });
}

uint64_t memory_releaser::passes() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return passes_;
}

void memory_releaser::run() {
  std::unique_lock<std::mutex> lock{mtx_};
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || asked_; });
    if (stop_)
      return;
    if (last_pass_) {
      // Asked again within the interval: the pass waits for its end, and
      // whatever else settles meanwhile shares it.
      wake_.wait_until(lock, *last_pass_ + interval_, [this] { return stop_; });
      if (stop_)
        return;
    }
    asked_ = false;
    running_ = true;
    lock.unlock();
    bool made = release_now();
    lock.lock();
    running_ = false;
    last_pass_ = clock::now();
    if (made)
      ++passes_;
    if (!asked_)
      idle_.notify_all();
  }
}

bool memory_releaser::release_now() {
#if defined(__GLIBC__)
  malloc_trim(0);
  return true;
#else
  return false;
#endif
}

std::optional<uint64_t> resident_memory_bytes() {
  // Pages: the whole program, then the resident set.
  std::ifstream in{"/proc/self/statm"};
  uint64_t size = 0;
  uint64_t resident = 0;
  if (!(in >> size >> resident))
    return std::nullopt;
  auto page = ::sysconf(_SC_PAGESIZE);
  if (page <= 0)
    return std::nullopt;
  return resident * static_cast<uint64_t>(page);
}

} // namespace weft
