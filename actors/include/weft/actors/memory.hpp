#pragma once

#include <chrono>
#include <cstddef>

namespace weft {

/// A large job leaves the allocator holding the memory of its transient
/// queues and messages: freed, but still resident, spread through glibc's
/// arenas where trimming the top of the heap cannot reach it. Once such a
/// job settles, its actor hands those pages back to the OS.
class memory_releaser {
public:
  /// Jobs smaller than this leave too little behind to be worth a pass.
  static constexpr size_t min_tasks = 10'000;
  /// A pass walks every arena under its lock (tens of milliseconds for
  /// gigabytes): at most one per interval, whichever jobs settle.
  static constexpr std::chrono::milliseconds interval{1000};

  /// Whether a job of `tasks` tasks settling at `now` warrants a pass;
  /// when it does, counts it as done. Thread-safe.
  static bool due(size_t tasks, std::chrono::steady_clock::time_point now);

  /// Returns the allocator's free pages to the OS when `due`. Returns
  /// whether it did (false also where the allocator is not glibc's).
  static bool release_after(size_t tasks);
};

} // namespace weft
