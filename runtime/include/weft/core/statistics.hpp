#pragma once

#include "weft/core/task_graph.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

/// What the orchestrator learns from finished executions, and the progress
/// estimate it predicts from that (see docs/progress.md).
namespace weft::core {

/// What statistics are kept per: a task identifier's name and major
/// version, its recursion depth (`task_graph::depth`), and the name of the
/// identifier of the task that submitted it (empty for roots). A task that
/// splits itself is learned per level, so the root of a tree and its leaves
/// are predicted apart; a task type submitted by different parents is
/// learned per parent, since its inputs (and so its cost) usually differ.
struct stat_key {
  std::string name{};
  uint32_t major = 0;
  uint32_t depth = 0;
  std::string parent{};

  friend bool operator==(const stat_key&, const stat_key&) = default;
  friend auto operator<=>(const stat_key&, const stat_key&) = default;
};

/// "Name@v2", "Name@v2 depth 3", "Name@v2 under Parent".
std::string to_string(const stat_key& key);

/// The key task `i` of `graph` is learned and predicted under.
stat_key key_of(const task_graph& graph, task_index i);

/// What the executions of one key did, on average.
struct task_profile {
  uint64_t runs = 0;  ///< successful executions learned from
  double mean_ns = 0; ///< duration of one execution
  /// Mean number of subtasks one execution submits, per key.
  std::map<stat_key, double> subtasks;

  friend bool operator==(const task_profile&, const task_profile&) = default;
};

/// The work one task of a key is predicted to cause, in nanoseconds of
/// execution: its own, and that of the subtasks it is expected to submit
/// (recursively).
struct work_prediction {
  bool known = false; ///< false: the key, or a key it submits, has no history
  double own_ns = 0;
  double subtasks_ns = 0;
  /// The longest chain through the subtasks it will submit, with slots to
  /// spare (their dependencies are not learned: a lower bound).
  double span_ns = 0;

  double total_ns() const noexcept {
    return own_ns + subtasks_ns;
  }
};

/// Per-key profiles, shared by the jobs of one orchestrator (thread-safe).
class task_statistics {
public:
  /// Means are exact up to this many runs, then move like a moving average
  /// of about this many, so a task that changed is relearned.
  static constexpr uint64_t window = 256;

  /// Learns from tasks of `graph` that were just computed: their durations
  /// and the subtasks they submitted.
  void learn(const task_graph& graph, const std::vector<task_index>& tasks);

  /// Learns one execution of `key`: its duration and how many subtasks of
  /// each key it submitted.
  void learn(const stat_key& key, double duration_ns,
             const std::map<stat_key, double>& subtasks);

  /// Installs a profile read back from the journal.
  void load(const stat_key& key, task_profile profile);

  std::optional<task_profile> find(const stat_key& key) const;
  size_t size() const;

  /// Predictions for `keys` and every key they are expected to submit.
  /// Unknown when a key in that closure has no history, or when the keys
  /// submit each other in a cycle (other than a task submitting its own
  /// key at the deepest level, which is summed as a geometric series).
  std::map<stat_key, work_prediction> predict(
    const std::set<stat_key>& keys) const;

  /// The profiles changed since the last call, to be journaled.
  std::vector<std::pair<stat_key, task_profile>> take_changed();

private:
  static void learn_into(
    task_profile& p, double duration_ns,
    const std::vector<std::pair<const stat_key*, double>>& subtasks);
  mutable std::mutex mtx_;
  std::map<stat_key, task_profile> profiles_;
  std::set<stat_key> changed_;
};

/// How far a job is.
struct job_estimate {
  /// 0-100, capped at 99.9 until the job is COMPLETED; empty: no
  /// estimate.
  std::optional<double> percent;
  /// Time left (docs/progress.md: between the bounds set by the slots the
  /// job keeps busy and its longest chain of work); empty: none.
  std::optional<int64_t> eta_ns;
  /// The job's items (see `task_graph::items`) with their percentages.
  std::vector<item_progress> items;
  /// Whether the figures came from learned statistics (else from the
  /// progress indicators' totals, or there are none; false once the job
  /// is COMPLETED: 100 % is then a fact).
  bool learned = false;
};

/// Estimates a job's progress at `now`: predicted work done over predicted
/// work in total, where finished tasks count their measured durations,
/// running tasks their predicted duration split by their live indicators
/// (or by the time they have run), plus the work of their expected
/// subtasks, and queued tasks their predicted work. The ETA spreads the
/// work left over the slots the job has been seen to keep busy and counts
/// the longest chain of it that must run in sequence. When a queued or
/// running task cannot be predicted, falls back to the progress
/// indicators' totals, else says "no estimate".
job_estimate estimate(const task_graph& graph, const task_statistics& stats,
                      timestamp now);

} // namespace weft::core
