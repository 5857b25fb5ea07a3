#pragma once

#include "weft/cache.hpp"
#include "weft/context.hpp"
#include "weft/registry.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace weft {

/// How a runner serves.
struct runner_options {
  std::string cluster = "default";
  /// Attempts executed at once, each on a thread of its own; 0: one per
  /// hardware thread.
  uint32_t slots = 0;
  /// Actor tasks (weft/actor_task.hpp) running at once, each a task actor
  /// on the runner's actor system: waiting costs no thread, so this is
  /// far above `slots`. Leased actor attempts beyond it wait, QUEUED at
  /// their jobs, until one ends (at most as many as this, and `max_leases`).
  uint32_t actor_slots = 10000;
  std::string name{}; ///< empty: "runner-<n>"
  /// Storage behind `context::job_cache()`; empty: the local cluster's
  /// (or `remote::connect_options::cache`), else in memory in this process.
  std::shared_ptr<cache_store> cache{};
  /// Leased attempts a runner may hold beyond its slots, so the slots stay
  /// busy while results travel and work arrives in batches. The runner
  /// holds as many as it expects to finish within about 2 ms plus two round
  /// trips to its orchestrator, at its mean attempt duration: short tasks
  /// in large batches, long ones one per free slot (it starts at none). A
  /// leased attempt stays QUEUED at its job until a slot starts it; a
  /// cancel, or a failure that cancels the rest of the job, revokes it
  /// (docs/semantics.md). 0: only as many attempts as free slots.
  uint32_t max_leases = 4096;
  context_limits limits{};
  bool print_logs = false; ///< echo task log lines to stderr
  /// How often the progress indicators of running attempts are sent to
  /// their jobs (only those that changed), so a long task's progress shows
  /// before it finishes.
  std::chrono::milliseconds progress_interval{std::chrono::milliseconds{500}};
  /// On stop (and SIGTERM), how long running attempts may finish; those
  /// still running then are handed back to their jobs, which requeue them
  /// without spending a retry.
  std::chrono::milliseconds grace_period{std::chrono::seconds{30}};
  /// A remote runner: how long `start()` tries to reach the orchestrator.
  /// After a loss it keeps trying until stopped.
  std::chrono::milliseconds connect_patience{std::chrono::seconds{10}};
};

/// A runner: registers task types, then executes the tasks its cluster
/// hands it, `slots` at a time, on threads of its own (never on CAF's
/// scheduler threads, so long tasks do not stall the actors); actor tasks
/// run as task actors, up to `actor_slots` at a time.
class runner {
public:
  struct impl;
  explicit runner(std::shared_ptr<impl> ptr);

  /// Registers task types; throws `weft::error` for a duplicate (name,
  /// version) or a bad identifier, or if the runner already started.
  template <task_type... Ts>
  runner& register_tasks() {
    (registry().template add<Ts>(), ...);
    return *this;
  }

  /// The registry to add task types to before the runner starts.
  task_registry& registry();

  /// Starts serving in the background; returns at once.
  void start();
  /// Starts (if needed) and blocks until no work is left for this runner:
  /// nothing queued that it can run and nothing in flight in its cluster.
  void run_all();
  /// Starts (if needed) and serves until SIGTERM or SIGINT, or `stop()`;
  /// then stops as `stop()` does.
  void run_forever();
  /// Stops taking tasks; running attempts finish within the grace period,
  /// the rest are handed back (requeued, no retry spent).
  void stop();

  const std::string& name() const;
  const runner_options& options() const;

private:
  friend struct runner_access; // weft's own plumbing
  std::shared_ptr<impl> impl_;
};

} // namespace weft
