#pragma once

#include "weft/actors/messages.hpp"
#include "weft/registry.hpp"
#include "weft/runner.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace weft {

/// The threads a runner executes attempts on: one per slot.
class worker_pool {
public:
  explicit worker_pool(uint32_t threads);
  ~worker_pool();
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  void post(std::function<void()> job);
  /// Finishes the jobs being executed, drops the rest, joins the threads.
  void shutdown();
  /// Drops queued jobs and lets the threads finish their current job on
  /// their own, without waiting for them (a grace period ran out).
  void abandon();

private:
  struct state {
    std::mutex mtx;
    std::condition_variable cv;
    std::deque<std::function<void()>> jobs;
    bool stopping = false;
  };
  static void loop(std::shared_ptr<state> st);
  /// Drops queued jobs; joins or detaches the threads.
  void stop(bool join);
  // Shared with the threads, so an abandoned thread never touches a
  // destroyed pool.
  std::shared_ptr<state> st_;
  std::vector<std::thread> threads_;
};

/// What a runner's actors and worker threads share.
struct runner_shared {
  std::string name;
  std::shared_ptr<const task_registry> registry;
  std::shared_ptr<cache_store> cache;
  context_limits limits;
  bool print_logs = false;
  /// How often the indicators of running attempts go to their jobs.
  std::chrono::milliseconds progress_interval{std::chrono::milliseconds{500}};
  /// The running attempts that have progress indicators (the worker
  /// threads add and remove them; the runner actor samples them).
  struct live_attempt {
    job_actor job;
    attempt_id id;
    std::shared_ptr<const progress_board> board;
    uint64_t seen = 0; // the board's version last sent
  };
  std::mutex live_mtx;
  std::vector<live_attempt> live;
  /// The attempts leased to this runner that no slot took yet, and the
  /// starts not yet reported. The runner actor adds leases and revokes
  /// them; a worker thread that frees takes the next one, so a lease is
  /// either revoked or started, never both.
  struct lease {
    dispatch_spec spec;
    uint64_t epoch = 0; // the runner actor (connection) it came under
    /// An actor task's registered type, found when the lease arrived.
    const task_registry::entry* entry = nullptr;
  };
  struct started_attempt {
    job_actor job;
    attempt_id id;
    uint64_t epoch = 0;
  };
  /// A result that finished while no runner actor was current.
  struct orphan {
    std::string job_id;
    task_result result;
  };
  std::mutex lease_mtx;
  std::deque<lease> leases;
  std::vector<started_attempt> started;
  std::vector<orphan> orphans;
  /// The runner actor of the current connection, and its epoch: whom the
  /// worker threads tell of starts and results.
  runner_actor current;
  uint64_t epoch = 0;
  /// Whether a start is reported at once (attempts take a millisecond or
  /// more, or their length is not known yet) or with the attempt's result
  /// if that comes within a millisecond (short ones: both in one message,
  /// and one journal write at the job).
  std::atomic<bool> starts_at_once{true};
  /// Actor tasks running at once at most (runner_options::actor_slots).
  uint32_t actor_slots = 0;
  /// The running task actors, of every connection: counted by the runner
  /// actor before it spawns one, uncounted by the attempt when it ends, and
  /// killed on a stop that leaves them behind.
  /// An attempt by its job (one orchestrator's jobs per connection) and
  /// lease.
  struct lease_key {
    caf::actor_id job;
    uint64_t lease;
    bool operator==(const lease_key&) const = default;
  };
  struct lease_hash {
    size_t operator()(const lease_key& k) const noexcept {
      return std::hash<uint64_t>{}(k.lease * 31 + k.job);
    }
  };
  std::mutex actors_mtx;
  uint32_t actors_running = 0;
  /// Task actors that began, by their attempt's lease.
  std::unordered_map<lease_key, caf::actor, lease_hash> task_actors;
  /// Attempts of task actors that ended, for the runner actor to collect
  /// (under lease_mtx): one message wakes it for all that end meanwhile,
  /// rather than one per attempt.
  struct ended_attempt {
    job_actor job;
    std::string job_id;
    uint64_t epoch = 0;
    task_result result;
  };
  std::vector<ended_attempt> actors_ended;
  runner_actor actors_woken; // whom the last wake went to
  worker_pool pool;

  runner_shared(uint32_t slots) : pool(slots) {
  }
};

/// Registers an attempt's indicators for sampling once it creates one, and
/// removes them when the attempt is over (`end`, or when destroyed).
class live_registration : public progress_observer {
public:
  live_registration(runner_shared& shared, job_actor job, const attempt_id& id)
      : shared_(shared), job_(std::move(job)), id_(id) {
  }
  live_registration(const live_registration&) = delete;
  live_registration& operator=(const live_registration&) = delete;
  void watch(std::shared_ptr<const progress_board> board) override;
  void end();
  ~live_registration() override {
    end();
  }

private:
  runner_shared& shared_;
  job_actor job_;
  attempt_id id_;
  const progress_board* board_ = nullptr;
};

/// Echoes an attempt's log lines (and its error) to stderr.
void print_attempt_logs(const std::string& task_id,
                        const core::attempt_outcome& out);

/// Spawns the task actors of actor tasks' leases on `sys`, counted in
/// `shared`'s running task actors by the caller. Each starts its attempt
/// and reports the outcome to the runner actor current when it ends. A
/// few are spawned through the scheduler; more go to hidden helper actors,
/// 32 leases each, which the scheduler places on its workers and which
/// spawn their share on their own worker. Spawned in a burst from the
/// runner actor's worker, thousands queued up behind it and the other
/// workers stole them one by one, each steal walking that queue;
/// through the scheduler one by one, each woke a worker and ran cold.
void spawn_task_actors(caf::actor_system& sys,
                       const std::shared_ptr<runner_shared>& shared,
                       std::vector<runner_shared::lease> leases);

/// Spawns a runner actor serving `cluster` of the orchestrator behind
/// `service` (where results that outlived their connection go), holding at
/// most `max_leases` leased attempts beyond its slots (and beyond its
/// actor slots).
runner_actor spawn_runner(caf::actor_system& sys, cluster_actor cluster,
                          job_service_actor service,
                          std::shared_ptr<runner_shared> shared, uint32_t slots,
                          uint32_t max_leases);

/// The actor behind a started runner (tests use it to kill a runner).
runner_actor actor_of(const runner& r);

/// Builds a runner handle on an actor system and a job service; `owner`
/// keeps an actor system weft created alive as long as the runner exists.
runner make_runner(caf::actor_system& sys, job_service_actor service,
                   runner_options opts, std::shared_ptr<cache_store> cache,
                   std::shared_ptr<void> owner = nullptr);

/// Finds a remote job service, trying for at most the given time; throws
/// `weft::error`.
using gateway_connector
  = std::function<job_service_actor(std::chrono::milliseconds patience)>;

/// A runner on a remote orchestrator: when the connection drops it
/// reconnects with backoff and joins its cluster again.
runner make_remote_runner(caf::actor_system& sys, gateway_connector connect,
                          runner_options opts,
                          std::shared_ptr<cache_store> cache,
                          std::shared_ptr<void> owner);

} // namespace weft
