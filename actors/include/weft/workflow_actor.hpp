#pragma once

// The orchestrator as a typed CAF actor: any CAF actor, in this process or
// on another node, submits jobs, finds and queries them, cancels and retries
// them, lists their tasks, waits for them and watches their progress by
// messages, without blocking (docs/actor-programs.md).
//
// Unlike weft/weft.hpp, this header includes CAF: a program that includes
// it compiles against CAF 0.17 (Debian's libcaf-dev) and links libcaf_core
// (the `weft::actors` target of `find_package(weft COMPONENTS actors)`).

#include "weft/actors/fwd.hpp"     // the atoms and type IDs every node shares
#include "weft/actors/inspect.hpp" // how the value types travel
#include "weft/cache.hpp"
#include "weft/client.hpp"
#include "weft/job.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace caf {
class actor_system;
} // namespace caf

namespace weft {

/// A job to create: what `atom::submit` carries. Build one with
/// `make_submit_request`, which checks it as `job_client::submit` does.
struct submit_request {
  std::string name;
  std::string cluster; ///< empty: "default"
  uint32_t max_retries = 0;
  std::vector<core::task_submission> roots;
};

template <class F>
typename F::result_type inspect(F& f, submit_request& x) {
  return f(caf::meta::type_name("submit_request"), x.name, x.cluster,
           x.max_retries, x.roots);
}

/// The request for a job with these root tasks. Throws `weft::error` where
/// the orchestrator would refuse it (identifier, input not a JSON object or
/// above `max_input_bytes`, more than one message may carry); the
/// orchestrator checks again against its own limit.
submit_request make_submit_request(std::string name,
                                   std::vector<task_input> roots,
                                   submit_options opts = {},
                                   size_t max_input_bytes
                                   = std::numeric_limits<size_t>::max());

/// The request for a job with one root task.
template <task_type T>
submit_request make_submit_request(std::string name, const T& root,
                                   submit_options opts = {}) {
  return make_submit_request(std::move(name),
                             std::vector<task_input>{make_task_input(root)},
                             std::move(opts));
}

/// What a watcher of a job implements. After `atom::watch` it receives
/// `(atom::progress, progress_update)`: the job's current state at once,
/// then one at every state change and, while the job runs, at most one per
/// progress interval when something changed, until the one with
/// `final == true` (the job is COMPLETED, FAILED or CANCELED and nothing of
/// it runs), after which nothing more comes. The job monitors its watchers:
/// one that quits is dropped. An untyped actor converts with
/// `caf::actor_cast<weft::progress_watcher>(self)`; a typed one whose
/// interface includes this signature converts implicitly.
using progress_watcher
  = caf::typed_actor<caf::reacts_to<atom::progress, progress_update>>;

/// The orchestrator's job interface: the handle `workflows()` of a
/// `local_cluster`, a `server` or a `remote::connection` hands out. Every
/// request has one answer, or a `caf::error`: weft's errors have the
/// category `caf::atom("weft")` and a `weft::errc` code
/// (`weft::to_weft_error` turns one into a `weft::error`). Request with
/// `caf::infinite` (CAF 0.17 keeps a request with a finite timeout, and the
/// actor that made it, alive until the timeout expires, even when the
/// answer came long before) and monitor the handle: requests pending when
/// the orchestrator's node goes away are never answered, the monitor's
/// `down_msg` says so. Demonitor it when done, since the orchestrator keeps
/// a record of each monitor until then.
using workflow_actor = caf::typed_actor<
  // Creates a job; answers with it once its submission is durable.
  // Errors: invalid_argument, invalid_identifier, invalid_input,
  // input_too_large, unknown_cluster (where clusters must be created first).
  caf::replies_to<atom::submit, submit_request>::with<job_info>,
  // A job by id, with its task counts and progress; unknown_job.
  caf::replies_to<atom::find, std::string>::with<job_info>,
  // The jobs that match, a page at a time (see job_query).
  caf::replies_to<atom::query, job_query>::with<std::vector<job_info>>,
  // Cancels a job: no queued task starts any more, running ones finish.
  // Answers how many queued tasks were canceled; unknown_job.
  caf::replies_to<atom::cancel, std::string>::with<uint64_t>,
  // Requeues the failed and canceled tasks of a job, which runs again;
  // answers how many; unknown_job.
  caf::replies_to<atom::retry, std::string>::with<uint64_t>,
  // Every task of a job with its state, attempts, logs and spans;
  // unknown_job.
  caf::replies_to<atom::tasks, std::string>::with<std::vector<task_info>>,
  // Answers once the job is COMPLETED, FAILED or CANCELED and nothing of it
  // runs any more; unknown_job.
  caf::replies_to<atom::wait, std::string>::with<job_info>,
  // Subscribes the watcher to the job (see progress_watcher); answers true
  // once it is subscribed, by which time its first update is on its way.
  // unknown_job.
  caf::replies_to<atom::watch, std::string, progress_watcher>::with<bool>,
  // Clusters: create one (already_exists), one by name (unknown_cluster),
  // all of them, delete one (refused for "default" and while it has
  // runners or work).
  caf::replies_to<atom::create, std::string>::with<cluster_info>,
  caf::replies_to<atom::info, std::string>::with<cluster_info>,
  caf::replies_to<atom::list>::with<std::vector<cluster_info>>,
  caf::replies_to<atom::remove, std::string>::with<bool>>;

/// What the actors of a program need to talk to an orchestrator: the actor
/// system to spawn them in, the orchestrator's `workflow_actor`, and the
/// store of the job caches, where this node can read it. Valid as long as
/// the `local_cluster`, `server` or `remote::connection` it came from: the
/// program's actors must have quit before that is destroyed (destroying an
/// actor system waits for all its actors).
class workflow_endpoint {
public:
  workflow_endpoint(caf::actor_system& sys, workflow_actor actor,
                    std::shared_ptr<cache_store> cache = nullptr)
      : sys_(&sys), actor_(std::move(actor)), cache_(std::move(cache)) {
  }

  /// The actor system to spawn the program's actors in (it has weft's
  /// message types; for a remote connection it is the one connected).
  caf::actor_system& system() const noexcept {
    return *sys_;
  }

  /// The orchestrator's job interface.
  const workflow_actor& actor() const noexcept {
    return actor_;
  }

  /// The store the runners write job caches to, as `job_client::cache`
  /// reads it; empty where this node cannot reach it (a server; a remote
  /// connection without `connect_options::cache`).
  const std::shared_ptr<cache_store>& cache() const noexcept {
    return cache_;
  }

  /// The cache of job `id`, read-only, as its tasks wrote it so far (a
  /// local read of the store, no message): groups and keys as in
  /// `context::job_cache()`, a missing key throws errc::missing_key.
  /// Throws errc::invalid_state when `cache()` is empty.
  cache_group job_cache(const std::string& id) const {
    if (!cache_)
      throw error(errc::invalid_state,
                  "the cache of job " + id
                    + " is out of this node's reach: its runners keep it; "
                      "give them and this node one shared store "
                      "(runner_options::cache, connect_options::cache, "
                      "weft::make_file_system_cache(dir))");
    return cache_group{make_read_only_cache(cache_), id};
  }

private:
  caf::actor_system* sys_;
  workflow_actor actor_;
  std::shared_ptr<cache_store> cache_;
};

} // namespace weft
