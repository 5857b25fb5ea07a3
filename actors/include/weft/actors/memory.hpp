#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace weft {

/// A large job leaves the allocator holding the memory of its transient
/// queues and messages: freed, but still resident, spread through glibc's
/// arenas where trimming the top of the heap cannot reach it. Once such a
/// job settles, its actor hands those pages back to the OS.
class memory_releaser {
public:
  using clock = std::chrono::steady_clock;

  /// Jobs smaller than `min_tasks` leave too little behind to be worth a
  /// pass. A pass walks every arena under its lock (tens of milliseconds
  /// for gigabytes): at most one per `interval`, whichever jobs settle.
  explicit memory_releaser(size_t min_tasks = 10'000,
                           std::chrono::milliseconds interval
                           = std::chrono::milliseconds{1000});

  /// The one the job actors of this process share.
  static memory_releaser& process();

  /// Whether a job of `tasks` tasks settling at `now` warrants a pass;
  /// when it does, counts it as made. Thread-safe.
  bool due(size_t tasks, clock::time_point now);

  /// Makes a pass when `due` now. Returns whether it did (false also where
  /// the allocator is not glibc's).
  bool release_after(size_t tasks);

  /// Passes made through release_after.
  uint64_t passes() const noexcept {
    return passes_.load(std::memory_order_relaxed);
  }

  /// The pass itself, unconditionally. False where the allocator is not
  /// glibc's.
  static bool release_now();

private:
  size_t min_tasks_;
  clock::duration interval_;
  static constexpr clock::rep never = clock::time_point::min().time_since_epoch().count();
  std::atomic<clock::rep> last_{never};  // stamp of the last pass
  std::atomic<uint64_t> passes_{0};
};

} // namespace weft
