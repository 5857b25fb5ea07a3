#include "weft/actors/memory.hpp"

#include <atomic>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace weft {

namespace {

// Time of the last pass, as steady_clock ticks; the minimum means never.
std::atomic<std::chrono::steady_clock::rep> last_pass{
  std::chrono::steady_clock::time_point::min().time_since_epoch().count()};

} // namespace

bool memory_releaser::due(size_t tasks,
                          std::chrono::steady_clock::time_point now) {
  if (tasks < min_tasks)
    return false;
  auto last = last_pass.load(std::memory_order_relaxed);
  auto stamp = now.time_since_epoch().count();
  auto gap = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
               interval)
               .count();
  if (last != std::chrono::steady_clock::time_point::min()
                .time_since_epoch()
                .count()
      && stamp - last < gap)
    return false;
  // Two jobs settling at once: only one of them makes the pass.
  return last_pass.compare_exchange_strong(last, stamp);
}

bool memory_releaser::release_after(size_t tasks) {
#if defined(__GLIBC__)
  if (!due(tasks, std::chrono::steady_clock::now()))
    return false;
  malloc_trim(0);
  return true;
#else
  (void) tasks;
  return false;
#endif
}

} // namespace weft
