#pragma once

#include "weft/cache.hpp"
#include "weft/error.hpp"
#include "weft/job.hpp"
#include "weft/json.hpp"
#include "weft/render.hpp"
#include "weft/task.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace weft {

/// A root task given as identifier and JSON input: what `submit` sends, and
/// how a program that does not link the task type submits it.
struct task_input {
  task_identifier identifier;
  std::string input;
};

/// The root task `task` as a `task_input`.
template <task_type T>
task_input make_task_input(const T& task) {
  return task_input{validated_identifier_of<T>(), json::encode(task)};
}

/// How to run a submitted job.
struct submit_options {
  std::string cluster{};    ///< empty: "default"
  uint32_t max_retries = 0; ///< retries of each root task
};

/// Submits, finds, queries, cancels and retries jobs of one orchestrator.
/// Every call blocks until the orchestrator answers and throws `weft::error`
/// on failure (unknown job, invalid input, orchestrator gone, timeout).
class job_client {
public:
  struct impl;

  /// Submits a job with one root task.
  template <task_type T>
  job_info submit(std::string name, const T& root, submit_options opts = {}) {
    return submit(std::move(name),
                  std::vector<task_input>{make_task_input(root)},
                  std::move(opts));
  }

  /// Submits a job with several root tasks of one type.
  template <task_type T>
  job_info submit(std::string name, const std::vector<T>& roots,
                  submit_options opts = {}) {
    std::vector<task_input> inputs;
    for (const auto& r : roots)
      inputs.push_back(make_task_input(r));
    return submit(std::move(name), std::move(inputs), std::move(opts));
  }

  /// Submits a job whose root tasks are given as identifiers and JSON.
  job_info submit(std::string name, std::vector<task_input> roots,
                  submit_options opts = {});

  job_info find(const std::string& id);
  std::vector<job_info> query(const job_query& q = {});
  /// Cancels a job; returns how many queued tasks were canceled.
  uint64_t cancel(const std::string& id);
  /// Requeues the failed and canceled tasks of a job; returns how many.
  uint64_t retry(const std::string& id);
  /// Every task of a job with its state, display name, progress, attempts,
  /// logs and spans.
  std::vector<task_info> tasks(const std::string& id);
  /// The cache of a job, as its tasks wrote it (so far: reading while the
  /// job runs shows what is written by then), for reading from outside the
  /// job, typically after `wait`:
  ///
  ///     auto cache = jobs.cache(job.id);
  ///     std::string words = cache.group("counts")["words"];
  ///
  /// Groups and keys work as in `context::job_cache()`; a key that was never
  /// written throws errc::missing_key naming it, and a write throws
  /// errc::invalid_state (the view is read-only). Throws errc::unknown_job
  /// for an id the orchestrator does not know, and errc::invalid_state when
  /// this client cannot reach the store the runners write to (see
  /// `set_cache`). A `local_cluster`'s client reads the cluster's cache.
  cache_group cache(const std::string& id);

  /// The store behind the job cache of the runners, for `cache(id)`. A
  /// remote orchestrator does not hold job caches, its runners do: a client
  /// can only read one that the runners share with it, such as
  /// `make_file_system_cache(dir)` on a directory they all mount (see
  /// docs/remote.md). `remote::connect_options::cache` sets it too.
  void set_cache(std::shared_ptr<cache_store> store) noexcept {
    cache_ = std::move(store);
  }

  /// An SVG picture of the job as it is now (see `render_svg`).
  std::string visualize(const std::string& id,
                        const render_options& options = {});

  /// Creates a cluster (a server only knows "default" and the clusters
  /// created this way); throws already_exists.
  cluster_info create_cluster(const std::string& name);
  /// A cluster with its runners and waiting work; throws unknown_cluster.
  cluster_info find_cluster(const std::string& name);
  std::vector<cluster_info> clusters();
  /// Deletes a cluster; refused for "default" and while it has runners or
  /// work. Tasks that jobs send it later go to a cluster of that name
  /// created again, and wait for one until then (docs/remote.md).
  void delete_cluster(const std::string& name);

  /// Watches a job: calls `on_update` with its current state at once, then
  /// at every state change (RUNNING and STARTED alternating shows at the
  /// next interval) and, while it runs, at most once per progress
  /// interval when something changed, until the final update (the job is
  /// COMPLETED, FAILED or CANCELED and nothing of it runs), which it
  /// returns. Reconnects to a remote orchestrator that restarts. Throws
  /// errc::timeout after `timeout`, or what `on_update` throws.
  progress_update watch(
    const std::string& id,
    const std::function<void(const progress_update&)>& on_update,
    std::chrono::milliseconds timeout = std::chrono::hours{24});

  /// Blocks until the job is COMPLETED, FAILED or CANCELED and no task of it
  /// runs any more; throws errc::timeout after `timeout`.
  job_info wait(const std::string& id,
                std::chrono::milliseconds timeout = std::chrono::minutes{10});

  /// Largest root input accepted (the orchestrator checks again).
  void set_max_input_bytes(size_t n) noexcept {
    max_input_bytes_ = n;
  }

private:
  friend struct job_client_access; // weft's own plumbing makes clients
  explicit job_client(std::shared_ptr<impl> ptr);

  std::shared_ptr<impl> impl_;
  size_t max_input_bytes_ = 1 << 20;
  std::shared_ptr<cache_store> cache_; // empty: the runners' is out of reach
};

} // namespace weft
