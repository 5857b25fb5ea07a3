#include "weft/actors/memory.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace weft {

memory_releaser::memory_releaser(size_t min_tasks,
                                 std::chrono::milliseconds interval)
  : min_tasks_(min_tasks),
    interval_(std::chrono::duration_cast<clock::duration>(interval)) {
}

memory_releaser& memory_releaser::process() {
  static memory_releaser instance;
  return instance;
}

bool memory_releaser::due(size_t tasks, clock::time_point now) {
  if (tasks < min_tasks_)
    return false;
  auto stamp = now.time_since_epoch().count();
  auto last = last_.load();
  if (last != never && stamp - last < interval_.count())
    return false;
  // Two jobs settling at once: only one of them makes the pass.
  return last_.compare_exchange_strong(last, stamp);
}

bool memory_releaser::release_after(size_t tasks) {
  if (!due(tasks, clock::now()) || !release_now())
    return false;
  passes_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool memory_releaser::release_now() {
#if defined(__GLIBC__)
  malloc_trim(0);
  return true;
#else
  return false;
#endif
}

} // namespace weft
