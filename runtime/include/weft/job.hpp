#pragma once

#include "weft/identifier.hpp"
#include "weft/time.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

/// Task states. FAILED_OPTIONAL marks an optional task (or a task inside an
/// optional branch) that failed; SKIPPED marks the rest of that branch.
///
/// The values are pinned: they travel between nodes as CAF serializes an
/// enum (its underlying integer), and a journal's job summary counts tasks
/// by state at these positions (`execution_stats::tasks_by_state`, the
/// schema's `tasksByState`). If you add a value:
/// - append it with the next number; never renumber, reorder or reuse one;
/// - add its `static_assert` below and raise `task_state_count`;
/// - add it to `TaskState` in schemas/weft/schemas/journal.capnp (same
///   number) and to the mapping in runtime/src/journal_event.cpp;
/// - add its name in runtime/src/job.cpp;
/// - add a record with it under tests/data/ (a new directory; the existing
///   files stay as they are) and decode it in tests/journal_format_test.cpp.
enum class task_state : uint8_t {
  queued = 0,
  running = 1,
  computed = 2,
  failed = 3,
  canceled = 4,
  failed_optional = 5,
  skipped = 6,
};
inline constexpr size_t task_state_count = 7;

static_assert(static_cast<uint8_t>(task_state::queued) == 0);
static_assert(static_cast<uint8_t>(task_state::running) == 1);
static_assert(static_cast<uint8_t>(task_state::computed) == 2);
static_assert(static_cast<uint8_t>(task_state::failed) == 3);
static_assert(static_cast<uint8_t>(task_state::canceled) == 4);
static_assert(static_cast<uint8_t>(task_state::failed_optional) == 5);
static_assert(static_cast<uint8_t>(task_state::skipped) == 6);
static_assert(task_state_count == 7, "one past the last task_state");

/// Job states, derived from the task states (see docs/semantics.md).
///
/// The values are pinned: they travel between nodes as CAF serializes an
/// enum (its underlying integer) and a journal's job summary stores one
/// (the schema's `JobState`). If you add a value:
/// - append it with the next number; never renumber, reorder or reuse one;
/// - add its `static_assert` below and raise `job_state_count`;
/// - add it to `JobState` in schemas/weft/schemas/journal.capnp (same
///   number) and to the mapping in runtime/src/journal_event.cpp;
/// - add its name in runtime/src/job.cpp;
/// - add a record with it under tests/data/ (a new directory; the existing
///   files stay as they are) and decode it in tests/journal_format_test.cpp.
enum class job_state : uint8_t {
  submitted = 0,
  running = 1,
  started = 2,
  completed = 3,
  failed = 4,
  canceled = 5,
};
inline constexpr size_t job_state_count = 6;

static_assert(static_cast<uint8_t>(job_state::submitted) == 0);
static_assert(static_cast<uint8_t>(job_state::running) == 1);
static_assert(static_cast<uint8_t>(job_state::started) == 2);
static_assert(static_cast<uint8_t>(job_state::completed) == 3);
static_assert(static_cast<uint8_t>(job_state::failed) == 4);
static_assert(static_cast<uint8_t>(job_state::canceled) == 5);
static_assert(job_state_count == 6, "one past the last job_state");

/// "QUEUED", "RUNNING", ... as the reference spells them.
const char* to_string(task_state state) noexcept;
const char* to_string(job_state state) noexcept;
std::optional<task_state> parse_task_state(std::string_view text) noexcept;
std::optional<job_state> parse_job_state(std::string_view text) noexcept;

/// True for COMPLETED, FAILED and CANCELED: nothing starts any more until a
/// retry (running tasks may still be finishing; see `job_info::running`).
bool is_final(job_state state) noexcept;

/// One progress indicator: a `done / total` pair summed over the tasks of a
/// job, counting only the last execution of each task.
struct progress_indicator {
  std::string label;
  uint64_t total = 0;
  uint64_t done = 0;

  friend bool operator==(const progress_indicator&, const progress_indicator&)
    = default;
};

/// Execution statistics of a job.
struct execution_stats {
  timestamp first_started = 0; ///< start of the first attempt of any task
  timestamp last_stopped = 0;  ///< end of the last finished attempt
  int64_t compute_ns = 0;      ///< sum of the durations of all attempts
  int64_t elapsed_ns = 0;      ///< last_stopped - first_started
  double parallelism = 0;      ///< compute / elapsed
  uint64_t total_tasks = 0;
  std::array<uint64_t, task_state_count> tasks_by_state{};

  uint64_t count(task_state s) const noexcept {
    return tasks_by_state[static_cast<size_t>(s)];
  }
};

/// What `find` returns about a job.
struct job_info {
  std::string id; ///< UUIDv7, time-ordered
  std::string name;
  std::string cluster; ///< cluster of the root task(s)
  job_state state = job_state::submitted;
  timestamp submitted_at = 0;
  uint64_t running = 0; ///< tasks still executing
  std::vector<progress_indicator> progress;
  execution_stats stats;
};

/// How far one item of a job is: a root task, or a direct subtask of a root
/// that has a display name (like one file of an upload).
struct item_progress {
  uint32_t task = 0; ///< task index
  std::string label; ///< display name, else the identifier's name
  task_state state = task_state::queued;
  /// 0-100 as shown: never lower than in an earlier update of the job
  /// while it runs (docs/progress.md); empty: no estimate.
  std::optional<double> percent;
  /// The estimate itself, which falls when more work appears; empty: none.
  std::optional<double> raw_percent;
};

/// What a job's watchers receive: at every state change of the job (a
/// change between RUNNING and STARTED alone waits for the next interval), and
/// while it runs at most once per interval when something changed.
struct progress_update {
  std::string job_id;
  std::string name;
  job_state state = job_state::submitted;
  std::vector<progress_indicator> progress;
  execution_stats stats; ///< includes task counts by state
  /// How far the job is (0-100) as shown: never lower than in an earlier
  /// update while the job runs; when more work appears it holds, then
  /// moves more slowly (see docs/progress.md); empty: no estimate.
  std::optional<double> percent;
  /// The estimate `percent` follows, which falls when more work appears
  /// than was predicted; empty: no estimate.
  std::optional<double> raw_percent;
  std::vector<item_progress> items;
  /// Time left in nanoseconds (see docs/progress.md); empty: none.
  std::optional<int64_t> eta_ns;
  timestamp at = 0;
  /// The last update: the job is final and nothing of it runs any more.
  bool final = false;
  /// The percentage and ETA come from what the orchestrator learned about
  /// these tasks (else from the indicators' totals, or there are none;
  /// false once the job is COMPLETED).
  bool learned = false;
};

/// A runner as its cluster knows it.
struct runner_info {
  std::string name;
  uint32_t slots = 1;
  std::vector<task_identifier> identifiers; ///< the tasks it can run
  uint32_t actor_slots = 0;                 ///< actor tasks it runs at once
  /// Those of `identifiers` that are actor tasks: they take actor slots.
  std::vector<task_identifier> actor_tasks{};
};

/// A cluster: its runners and the work waiting in it.
struct cluster_info {
  std::string name;
  std::vector<runner_info> runners;
  uint64_t queued = 0;     ///< attempts waiting for a runner
  uint64_t dispatched = 0; ///< sent to a runner, not yet settled
  /// Identifiers queued here that no runner of the cluster can run: their
  /// tasks wait until such a runner joins.
  std::vector<task_identifier> unserved;
};

/// Selection for `query`; every criterion left empty matches all jobs.
///
/// Times are given as the reference writes them, or in nanoseconds:
///
///     jobs.query({.from = "2025-01-01", .to = "2025-02-01"});
///     jobs.query(weft::job_query::between("2025-01-01", "2025-02-01"));
///     jobs.query({.from = "2025-01-01T08:00:00Z"});  // open end
///
/// The range is half-open, like the reference's: a job submitted at exactly
/// `to` is not in it, so consecutive ranges never count a job twice.
struct job_query {
  utc_time from{};                 ///< submitted at or after (0: no bound)
  utc_time to{};                   ///< submitted before (0: no bound)
  std::string id_from{};           ///< job id >= this (ids are time-ordered)
  std::string id_to{};             ///< job id < this
  std::vector<job_state> states{}; ///< any of these states
  std::string name{};              ///< exact job name
  std::string cluster{};           ///< exact cluster of the root task(s)
  /// At most this many jobs (0: all). A page of `limit` jobs may have a
  /// next one: ask again with `cursor` set to its last job's id.
  uint32_t limit = 0;
  /// Continue after this job id (the last of the previous page).
  std::string cursor{};
  /// Newest first (else oldest first, the order jobs were submitted in).
  bool newest_first = false;

  /// The jobs submitted in [from, to); throws `weft::error`
  /// (invalid_argument) for a time `parse_time` refuses.
  static job_query between(utc_time from, utc_time to) {
    job_query q;
    q.from = from;
    q.to = to;
    return q;
  }
};

/// A structured log line written by a task through `context::logger()`.
struct log_record {
  timestamp time = 0;
  std::string level; ///< "debug", "info", "warn", "error"
  std::string message;
  std::string fields; ///< a JSON object of the key/value pairs
};

/// A traced span recorded through `context::tracer()`.
struct span_record {
  std::string name;
  timestamp start = 0;
  timestamp end = 0;
  std::string attributes; ///< a JSON object
};

/// One execution of a task. Only attempts that left something to read back
/// (an error, logs or spans) are kept.
struct attempt_record {
  uint32_t attempt = 0;
  std::string runner;
  timestamp started = 0;
  timestamp stopped = 0;
  bool succeeded = false;
  std::string error;
  std::vector<log_record> logs;
  std::vector<span_record> spans;
};

/// One task of a job, as `jobs().tasks(id)` shows it.
struct task_info {
  uint32_t index = 0;  ///< position in the job; the roots come first
  uint32_t parent = 0; ///< index of the parent, or `no_parent`
  task_identifier identifier;
  std::string display; ///< display name, or the identifier's name
  task_state state = task_state::queued;
  std::string cluster;
  std::string input; ///< the task's JSON input
  bool optional = false;
  uint32_t attempts = 0; ///< executions started so far
  uint32_t retries_used = 0;
  uint32_t runner_losses = 0;
  std::vector<uint32_t> depends_on;
  std::vector<uint32_t> subtasks;
  std::vector<progress_indicator> progress; ///< of its last execution
  timestamp started = 0;                    ///< last attempt
  timestamp stopped = 0;
  std::vector<attempt_record> history;

  static constexpr uint32_t no_parent = UINT32_MAX;
};

} // namespace weft
