#pragma once

#include "weft/client.hpp"
#include "weft/orchestrator_options.hpp"
#include "weft/runner.hpp"

#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <vector>

namespace caf {
class actor_system;
} // namespace caf

namespace weft {

class workflow_endpoint; // weft/workflow_actor.hpp (includes CAF)

/// The embedded default: an orchestrator and its runners in this process.
struct local_cluster_options {
  /// The runners to create; by default one runner on the "default" cluster
  /// with one slot per hardware thread.
  std::vector<runner_options> runners = {runner_options{}};
  /// Job cache shared by the runners that bring none; empty: in memory.
  std::shared_ptr<cache_store> cache{};
  /// Threads of the actor system it creates (0: CAF's default, the larger
  /// of 4 and the hardware threads).
  size_t scheduler_threads = 0;
  /// Journal, limits and intervals (`.orchestrator = {.data_dir = ...}`).
  orchestrator_options orchestrator{};
};

/// An orchestrator plus runners in one process. Register the task types,
/// start the runners, then submit and watch jobs through `jobs()`.
class local_cluster {
public:
  explicit local_cluster(local_cluster_options opts = {});
  /// Spawns the same actors into an actor system the caller owns; its
  /// configuration must have had `weft::add_weft_types` applied.
  explicit local_cluster(caf::actor_system& sys,
                         local_cluster_options opts = {});
  ~local_cluster();
  local_cluster(const local_cluster&) = delete;
  local_cluster& operator=(const local_cluster&) = delete;

  /// Registers task types on every runner of this cluster.
  template <task_type... Ts>
  local_cluster& register_tasks() {
    for (auto& r : runners_)
      r.template register_tasks<Ts...>();
    return *this;
  }

  /// Adds a runner (register its tasks, then start it).
  weft::runner& add_runner(runner_options opts);
  weft::runner& runner(size_t index);
  size_t runner_count() const noexcept {
    return runners_.size();
  }

  /// Starts every runner in the background.
  void start();
  /// Starts every runner and blocks until none has work left.
  void run_all();

  job_client jobs();

  /// For actor programs (include weft/workflow_actor.hpp): this cluster's
  /// actor system, its orchestrator's `workflow_actor` and its job cache
  /// store. `jobs()` is a blocking layer over the same actor.
  workflow_endpoint workflows() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
  std::deque<weft::runner> runners_; // stable references
};

} // namespace weft
