#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

namespace weft {

/// A large job leaves the allocator holding the memory of its transient
/// queues and messages: freed, but still resident, spread through glibc's
/// arenas where trimming the top of the heap cannot reach it. When such a
/// job settles, the releaser hands those pages back to the OS on a thread
/// of its own (a pass walks every arena under its lock: tens of
/// milliseconds for gigabytes), at most once per interval: jobs that settle
/// within it share the next pass, which comes when the interval is over.
class memory_releaser {
public:
  using clock = std::chrono::steady_clock;

  /// Jobs smaller than `min_tasks` leave too little behind to ask for a
  /// pass.
  explicit memory_releaser(size_t min_tasks = 10'000,
                           std::chrono::milliseconds interval
                           = std::chrono::milliseconds{1000});
  ~memory_releaser();

  memory_releaser(const memory_releaser&) = delete;
  memory_releaser& operator=(const memory_releaser&) = delete;

  /// The one the job actors of this process share.
  static memory_releaser& process();

  /// A job of `tasks` tasks settled: asks for a pass when it is large
  /// enough. Returns whether it asked. Never blocks on a pass.
  bool job_settled(size_t tasks);

  /// Waits until no pass is asked for or running, up to `timeout`.
  /// Returns whether that was reached (for measurements and tests).
  bool wait_idle(std::chrono::milliseconds timeout);

  /// Passes made so far.
  uint64_t passes() const;

  /// A pass, on the calling thread. False where the allocator is not
  /// glibc's (nothing to do).
  static bool release_now();

private:
  void run();

  size_t min_tasks_;
  clock::duration interval_;
  mutable std::mutex mtx_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  bool asked_ = false;
  bool running_ = false;
  bool stop_ = false;
  std::optional<clock::time_point> last_pass_;
  uint64_t passes_ = 0;
  std::thread worker_; // started by the first request
};

/// The process's resident set in bytes (`/proc/self/statm`), or nothing
/// where that cannot be read.
std::optional<uint64_t> resident_memory_bytes();

} // namespace weft
