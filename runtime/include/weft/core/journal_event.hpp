#pragma once

#include "weft/core/attempt.hpp"
#include "weft/core/statistics.hpp"
#include "weft/core/task_graph.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weft::core {

/// The durable facts of a job, in the order they happened. Replaying them
/// into a fresh graph rebuilds the job (see `replay`).
enum class event_kind : uint8_t {
  job_submitted,
  task_started,
  task_computed, ///< an attempt succeeded (outcome holds its subtasks)
  task_failed,   ///< an attempt failed (outcome holds the error)
  task_lost,     ///< a running attempt lost its runner
  job_canceled,
  job_retried,
  job_summary,  ///< a completed job, compacted: its events are gone
  job_snapshot, ///< a finished job: its summary and its events in one
};

/// The kind's name as the enum spells it, e.g. "task_computed".
const char* to_string(event_kind kind) noexcept;

struct journal_event {
  event_kind kind = event_kind::job_submitted;
  std::string job_id;
  timestamp time = 0;
  // job_submitted
  std::string name;
  std::string cluster;
  uint32_t max_retries = 0;
  std::vector<task_submission> roots;
  // task events
  uint32_t task = 0;
  uint32_t attempt = 0;
  std::string runner;      ///< started: who runs it
  attempt_outcome outcome; ///< computed, failed
  std::string reason;      ///< lost: why
  job_info summary;        ///< job_summary, job_snapshot (id: `job_id`)
  std::vector<std::string> history; ///< job_snapshot: its encoded events
};

/// The schema version this build writes and the newest it reads.
uint16_t journal_schema_version() noexcept;

/// One event as a Cap'n Proto `Event` message (flat array).
std::string encode_event(const journal_event& e);

/// Decodes an encoded event; throws `weft::error` (bad_data) when the bytes
/// are not an event, lack what every event of their kind carries, or come
/// from a newer schema, saying which. Whether the event fits its job is
/// `job_replay`'s to check.
journal_event decode_event(std::string_view bytes);

/// A learned profile as a Cap'n Proto `TaskProfile` message.
std::string encode_profile(const stat_key& key, const task_profile& profile);

/// Decodes an encoded profile; throws `weft::error` (bad_data) like
/// `decode_event`.
std::pair<stat_key, task_profile> decode_profile(std::string_view bytes);

/// A job's graph as of a `job_submitted` event. Throws `weft::error`
/// (invalid_argument) for roots a graph refuses; `job_replay` checks a
/// recorded submission before it gets here.
std::unique_ptr<task_graph> graph_of(const journal_event& submitted);

/// A `job_summary` event of `info`, encoded: what a job's index entry
/// holds, and what a snapshot record carries.
std::string encode_summary(const job_info& info);

/// A finished job's snapshot: `summary` and the job's encoded events in
/// order, as given (see `flatten_history` for events read from a store).
journal_event make_snapshot(const job_info& summary,
                            std::vector<std::string> history);

/// A job's encoded events as a snapshot holds them: a nested snapshot
/// (from a job retried after it finished) becomes its events, summaries
/// are left out. Throws `weft::error` (bad_data) for events that do not
/// decode.
std::vector<std::string> flatten_history(std::vector<std::string> events);

} // namespace weft::core
