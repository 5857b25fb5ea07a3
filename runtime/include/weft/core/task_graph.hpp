#pragma once

#include "weft/core/attempt.hpp"
#include "weft/job.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

/// The task graph of one job and every rule of its transitions, as plain
/// data: no actor, no clock, no I/O. The job actor feeds it events and
/// dispatches what it says is ready.
namespace weft::core {

/// How many times a task may lose its runner before a loss counts as a
/// failed attempt.
inline constexpr uint32_t max_runner_losses = 10;

class task_graph {
public:
  /// Builds a job from its roots. Throws `weft::error` (invalid_argument)
  /// when the batch is malformed (no roots, a dependency on itself or on a
  /// later position).
  task_graph(std::vector<task_submission> roots, std::string job_cluster);

  // -- events -----------------------------------------------------------------

  /// Tasks to dispatch now; each carries its attempt number (`attempt(i)`).
  std::vector<task_index> take_ready();

  /// A runner starts attempt `attempt` of `i`. False (refuse to run) if the
  /// task is no longer queued under that attempt, e.g. canceled meanwhile.
  bool start(task_index i, uint32_t attempt, timestamp at);

  /// The attempt finished. False if stale (ignored).
  bool finish(task_index i, uint32_t attempt, attempt_outcome&& outcome);

  /// The runner of a running attempt vanished without a result: requeued
  /// without spending a retry, up to `max_runner_losses` times.
  bool lose(task_index i, uint32_t attempt, const std::string& reason,
            timestamp at);

  /// Attempt `attempt` of `i` was dispatched but never reached a task actor
  /// (its runner died first): if it is still the queued attempt, dispatch it
  /// again. Returns whether it did.
  bool redeliver(task_index i, uint32_t attempt);

  /// After a restart: attempts that were RUNNING in the previous process
  /// are requeued without spending a retry (execution is at-least-once).
  /// Returns how many.
  size_t requeue_running();

  /// Recomputes the ready list from the task states (after a replay, whose
  /// dispatch decisions are not part of the journal).
  void rebuild_ready();

  /// User cancel: queued tasks become CANCELED; running ones may finish but
  /// their subtasks are created CANCELED. Returns the number canceled.
  size_t cancel();

  /// Requeues FAILED and CANCELED tasks with fresh retries; computed work is
  /// kept. Returns the number requeued.
  size_t retry();

  // -- state ------------------------------------------------------------------

  job_state state() const noexcept;
  /// No task is running: nothing can change until an event from outside.
  bool quiescent() const noexcept {
    return count(task_state::running) == 0;
  }
  /// Canceled or failed: nothing new starts.
  bool halted() const noexcept {
    return canceled_ || failed_ > 0;
  }
  size_t size() const noexcept {
    return nodes_.size();
  }
  /// About how much memory the graph holds, in bytes (for bounds on what
  /// stays in memory; walks every task).
  size_t approximate_bytes() const;
  uint64_t count(task_state s) const noexcept {
    return counts_[static_cast<size_t>(s)];
  }

  task_state state_of(task_index i) const {
    return nodes_[i].state;
  }
  uint32_t attempt(task_index i) const {
    return nodes_[i].attempt;
  }
  const task_identifier& identifier(task_index i) const {
    return identifiers_[nodes_[i].identifier];
  }
  const std::string& cluster(task_index i) const {
    return clusters_[nodes_[i].cluster];
  }
  /// The clusters its tasks name, numbered 0, 1, ... in order of first
  /// use: `cluster_id(i)` is task i's, `cluster_name(id)` its name.
  uint32_t cluster_count() const noexcept {
    return static_cast<uint32_t>(clusters_.size());
  }
  uint32_t cluster_id(task_index i) const {
    return nodes_[i].cluster;
  }
  const std::string& cluster_name(uint32_t id) const {
    return clusters_[id];
  }
  /// How many times tasks of cluster `id` entered each state (created in
  /// it, or moved to it) since this graph was built or replayed: only
  /// grows, so that metrics can count what changed since they last looked.
  const std::array<uint64_t, task_state_count>& entered(uint32_t id) const {
    return entered_[id];
  }
  const std::string& input(task_index i) const {
    return nodes_[i].input;
  }
  task_index parent(task_index i) const {
    return nodes_[i].parent;
  }
  /// Its subtasks are the `count` tasks from `first` on.
  std::pair<task_index, uint32_t> children(task_index i) const {
    return {nodes_[i].first_child, nodes_[i].child_count};
  }
  /// The tasks it waits for: earlier tasks of the batch it came in.
  const std::vector<uint32_t>& dependencies(task_index i) const;
  /// Whether any task has dependencies.
  bool has_dependencies() const noexcept {
    return with_dependencies_ > 0;
  }
  /// How many of its nearest ancestors (up to `max_depth` of them) have its
  /// identifier: 0 for most tasks, the level for a task that splits itself.
  uint32_t depth(task_index i) const {
    return nodes_[i].depth;
  }
  static constexpr uint32_t max_depth = 63;
  /// Start and end of its last attempt (0: not yet).
  timestamp started(task_index i) const {
    return nodes_[i].started;
  }
  timestamp stopped(task_index i) const {
    return nodes_[i].stopped;
  }
  /// The indicators of its last execution, or of the running one as last
  /// reported; null when it has none.
  const std::vector<progress_indicator>* progress_of(task_index i) const {
    const auto* ex = find_extra(i);
    return ex == nullptr || ex->progress.empty() ? nullptr : &ex->progress;
  }
  /// The indicators a running attempt reported while it runs: they replace
  /// what the task counted so far. False if that attempt no longer runs.
  bool report_progress(task_index i, uint32_t attempt,
                       std::vector<progress_indicator> indicators);

  task_info info(task_index i) const;
  execution_stats stats() const;
  /// The job's items (root tasks, and the named direct subtasks of roots)
  /// with a percentage from the progress indicators of their subtree: done
  /// over total where totals exist, 100 once the subtree is settled, else
  /// no estimate.
  std::vector<item_progress> items() const;
  std::vector<progress_indicator> progress() const;

private:
  struct node {
    task_index parent = no_task;
    uint32_t first_child = 0;
    uint32_t child_count = 0;
    uint32_t identifier = 0; // into identifiers_
    uint32_t cluster = 0;    // into clusters_
    uint32_t attempt = 0;    // dispatch number of the current attempt
    uint32_t attempts_started = 0;
    uint32_t max_retries = 0;
    uint32_t retries_used = 0;
    uint32_t pending_deps = 0;  // dependencies not yet settled
    uint32_t open_children = 0; // children not yet settled
    uint8_t losses = 0;
    task_state state = task_state::queued;
    uint8_t optional : 1 = 0;
    uint8_t branch_failed : 1
      = 0;                 // an optional branch root whose branch failed
    uint8_t depth : 6 = 0; // see depth()
    timestamp started = 0;
    timestamp stopped = 0;
    std::string input;
  };

  /// What few tasks have lives beside the nodes, so a node stays small.
  struct extras {
    std::vector<uint32_t> depends_on;
    std::vector<uint32_t> dependents;
    std::vector<progress_indicator> progress;
    std::string display;
  };
  extras& extra(task_index i) {
    return extras_[i];
  }
  const extras* find_extra(task_index i) const {
    auto it = extras_.find(i);
    return it == extras_.end() ? nullptr : &it->second;
  }

  void add_batch(task_index parent, std::vector<task_submission>&& batch,
                 uint32_t inherited_cluster);
  uint32_t intern_identifier(const task_identifier& id);
  uint32_t intern_cluster(const std::string& name);
  uint32_t depth_under(task_index parent, uint32_t identifier) const;
  void set_state(node& n, task_state s);
  void make_ready(task_index i);
  bool settled(const node& n) const noexcept;
  void propagate_settled(task_index i);
  bool in_failed_branch(task_index i) const;
  task_index optional_branch_root(task_index i) const;
  void fail_attempt(task_index i, timestamp stopped);
  void skip_branch(task_index root);
  void cancel_queued();
  void replace_progress(task_index i, std::vector<progress_indicator>&& p);

  std::vector<node> nodes_;
  std::unordered_map<task_index, extras> extras_;
  uint64_t with_dependencies_ = 0; // tasks with depends_on
  std::vector<task_identifier> identifiers_;
  std::map<task_identifier, uint32_t> identifier_ids_;
  std::vector<std::string> clusters_;
  std::vector<task_index> ready_;
  std::array<uint64_t, task_state_count> counts_{};
  std::vector<std::array<uint64_t, task_state_count>> entered_; // by cluster
  std::vector<progress_indicator> progress_; // the job's sums, first seen first
  std::unordered_map<task_index, std::vector<attempt_record>> history_;
  uint64_t failed_ = 0;          // tasks in FAILED
  uint64_t failed_branches_ = 0; // optional branches that failed
  uint64_t finished_attempts_ = 0;
  bool canceled_ = false;
  timestamp first_started_ = 0;
  timestamp last_stopped_ = 0;
  int64_t compute_ns_ = 0;
};

} // namespace weft::core
