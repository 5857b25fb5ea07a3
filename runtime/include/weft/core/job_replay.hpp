#pragma once

#include "weft/core/journal_event.hpp"
#include "weft/core/task_graph.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace weft::core {

/// Rebuilds one job from the records filed under it, in journal order:
/// first its submission (or, for a compacted job, its summary and nothing
/// else), then its task and job events.
///
/// Every record is checked against the job before it is applied: one the
/// job could not have written (bytes that do not decode, a task out of
/// range, a finish without its start or naming another attempt, a second
/// submission, a transition the graph cannot make) throws `weft::error`
/// (bad_data) whose message is one line naming the job, the record's
/// position in the job's sequence (0: its first) and its kind, and what is
/// inconsistent. Recovery refuses such a journal rather than guess.
class job_replay {
public:
  explicit job_replay(std::string job_id);

  /// Decodes the job's next record and applies it.
  void apply(std::string_view bytes);

  /// Applies the job's next record.
  void apply(journal_event e);

  const std::string& job_id() const noexcept {
    return job_id_;
  }

  /// How many records were applied.
  uint64_t records() const noexcept {
    return next_;
  }

  /// The first record: the submission (without its roots, which are in the
  /// graph) or the summary of a compacted job. Only valid once a record was
  /// applied.
  const journal_event& head() const noexcept {
    return head_;
  }

  /// The graph rebuilt so far; null for a compacted job, and before the
  /// submission.
  const std::shared_ptr<task_graph>& graph() const noexcept {
    return graph_;
  }

private:
  /// "job <id>, record <n>": the record being applied.
  std::string record_name() const;
  [[noreturn]] void refuse(const journal_event& e,
                           const std::string& why) const;
  void check_job_id(const journal_event& e) const;
  void check_order(const journal_event& e) const;
  void check_task(const journal_event& e) const;
  void check_running_attempt(const journal_event& e) const;
  void check_startable(const journal_event& e) const;
  void check_roots(const journal_event& e) const;

  void submit(journal_event e);
  void start(const journal_event& e);
  void finish(journal_event e);
  void lose(const journal_event& e);
  void cancel(const journal_event& e);
  /// A snapshot first: its records are the job's, in order.
  void unpack(journal_event snapshot);

  std::string job_id_;
  uint64_t next_ = 0; // position of the next record in the job's sequence
  journal_event head_;
  std::shared_ptr<task_graph> graph_;
  // Running tasks and the attempt number their start recorded: the finish
  // or loss of an attempt names the attempt its start did.
  std::unordered_map<task_index, uint32_t> running_;
};

/// Rebuilds a finished job's graph from its snapshot, checking every record
/// as `job_replay` does. Null for a snapshot without history (a job an
/// earlier release compacted to its summary).
std::shared_ptr<task_graph> graph_of_snapshot(const journal_event& snapshot);

} // namespace weft::core
