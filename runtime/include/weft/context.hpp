#pragma once

#include "weft/cache.hpp"
#include "weft/core/attempt.hpp"
#include "weft/error.hpp"
#include "weft/json.hpp"
#include "weft/task.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft {

/// Limits a context enforces; a runner sets them from its configuration
/// (`runner_options::limits`).
struct context_limits {
  size_t max_input_bytes = 1 << 20; ///< per task input (JSON bytes)
  size_t max_label_bytes = 100;
  size_t max_indicators = 1000;    ///< progress indicators per task
  size_t max_display_chars = 1024; ///< display names are cut here (code points)
  /// Log records one attempt keeps, and the bytes of their messages and
  /// fields (as JSON) together. The first record that would pass either
  /// limit and every one after it are dropped; the attempt's logs then end
  /// with one warning saying how many were dropped and which limit to raise.
  size_t max_logs = 10000;
  size_t max_log_bytes = 1 << 20;
  /// Spans one attempt keeps, and the bytes of their names and attributes
  /// (as JSON) together; past either, spans are dropped as logs are.
  size_t max_spans = 10000;
  size_t max_span_bytes = 1 << 20;
};

/// Refers to a subtask submitted earlier in the same execution; pass it in
/// `subtask_options::depends_on` of a later submission.
struct subtask_handle {
  uint32_t position = 0;
  const void* owner = nullptr; // the execution that issued it
};

/// How to run a subtask. Fields in this order, so designated initializers
/// read `{.depends_on = {a}, .max_retries = 3, .cluster = "gpu", .optional =
/// true}`.
struct subtask_options {
  std::vector<subtask_handle> depends_on{};
  uint32_t max_retries = 0;
  std::string cluster{}; ///< empty: the submitting task's cluster
  bool optional = false;
};

/// The task being executed, as the task sees it.
struct current_task_info {
  std::string id; ///< "<job id>/<task index>"
  std::string job_id;
  task_identifier identifier;
  uint32_t attempt = 0;
  std::string runner; ///< name of the runner executing it
};

/// The progress indicators of one execution: the task's thread updates
/// them, and its runner samples them while it runs, so watchers see a long
/// task move before it finishes.
class progress_board {
public:
  /// A copy of the indicators if they changed since version `seen`, which
  /// is then updated.
  std::optional<std::vector<progress_indicator>> sample(uint64_t& seen) const;
  /// Moves the indicators out (the execution is over).
  std::vector<progress_indicator> take();

private:
  friend class context;
  friend class progress_handle;
  mutable std::mutex mtx_;
  std::vector<progress_indicator> list_;
  uint64_t version_ = 0;
  bool taken_ = false;
};

/// Told when an execution creates its first progress indicator, so
/// whoever runs it can sample the indicators while it runs (executions
/// without indicators cost nothing).
class progress_observer {
public:
  virtual ~progress_observer() = default;
  virtual void watch(std::shared_ptr<const progress_board> board) = 0;
};

/// A handle on one progress indicator of the current execution.
class progress_handle {
public:
  progress_handle(progress_board* board, size_t index)
      : board_(board), index_(index) {
  }
  /// Grows the total amount of work by `n`.
  progress_handle& add(uint64_t n);
  /// Marks `n` units of work as done.
  progress_handle& done(uint64_t n);

private:
  // An index, not a pointer: later indicators may reallocate the list.
  progress_board* board_;
  size_t index_;
};

/// A field of a log line: `{"key", value}` where the value is anything the
/// JSON codec encodes (strings, numbers, booleans, vectors, structs, ...).
struct field {
  template <class Value>
  field(std::string_view k, const Value& v) : key(k), value(json::to_value(v)) {
  }
  field(std::string_view k, const char* v) : key(k), value(v) {
  }
  std::string_view key;
  boost::json::value value;
};
using fields = std::initializer_list<field>;

/// Structured logging bound to the current task; lines are kept with the
/// attempt (read them back with `jobs().tasks(id)`), up to
/// `context_limits::max_logs` and `max_log_bytes`, and echoed by the runner
/// when it is configured to print logs.
class logger {
public:
  void debug(std::string_view message, fields f = {});
  void info(std::string_view message, fields f = {});
  void warn(std::string_view message, fields f = {});
  void error(std::string_view message, fields f = {});

private:
  friend class context;
  explicit logger(class context* ctx) : ctx_(ctx) {
  }
  void write(const char* level, std::string_view message, fields f);
  class context* ctx_;
};

/// A span of traced work; it ends (and is recorded with the attempt) when
/// the object is destroyed or `end()` is called.
class span {
public:
  span(span&& other) noexcept;
  span& operator=(span&&) = delete;
  ~span();
  span& set_attribute(std::string_view key, boost::json::value value);
  template <class Value>
  span& set_attribute(std::string_view key, const Value& value) {
    return set_attribute(key, json::to_value(value));
  }
  span& set_attribute(std::string_view key, const char* value) {
    return set_attribute(key, boost::json::value(value));
  }
  void end();

private:
  friend class tracer;
  span(class context* ctx, std::string name);
  class context* ctx_; // null once ended (or moved from)
  span_record record_;
  boost::json::object attributes_;
};

/// Records spans with the current attempt, up to `context_limits::max_spans`
/// and `max_span_bytes`.
class tracer {
public:
  weft::span start_span(std::string name);
  /// Alias of `start_span`, in the style of `with tracer.span(...)`.
  weft::span span(std::string name) {
    return start_span(std::move(name));
  }

private:
  friend class context;
  explicit tracer(class context* ctx) : ctx_(ctx) {
  }
  class context* ctx_;
};

/// What a task sees while it executes: submit subtasks, report progress,
/// name itself, share data through the job cache, log and trace.
class context {
public:
  /// `observer`, if given, is told of the board that holds its indicators
  /// when the first one is created.
  context(current_task_info task, std::shared_ptr<cache_store> cache,
          context_limits limits, progress_observer* observer = nullptr);
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  /// Submits `task` as a subtask; it is queued once this execution has
  /// finished successfully. Throws `weft::error` for an invalid identifier,
  /// an oversized input or a foreign handle in `depends_on`.
  template <task_type T>
  subtask_handle submit_subtask(const T& task, subtask_options options = {}) {
    const auto& id = validated_identifier_of<T>();
    return add_subtask(id, json::encode(task), std::move(options));
  }

  /// Submits each task of a range with the same options.
  template <class Range>
  std::vector<subtask_handle> submit_subtasks(const Range& tasks,
                                              const subtask_options& options
                                              = {}) {
    std::vector<subtask_handle> handles;
    for (const auto& t : tasks)
      handles.push_back(submit_subtask(t, options));
    return handles;
  }

  /// Submits a task given by identifier and JSON input (any language's form).
  /// The input is checked as a root submission's is: text that is not a
  /// JSON object throws `weft::error` (invalid_input) here, failing this
  /// attempt, rather than failing the subtask later.
  subtask_handle submit_json(const task_identifier& id, std::string input,
                             subtask_options options = {});

  /// The indicator `label` (≤ 100 bytes; ≤ 1000 indicators per task).
  progress_handle progress(std::string_view label = {});

  const current_task_info& current_task() const noexcept {
    return task_;
  }

  /// The task's display name in visualizations: its first 1024 characters
  /// (Unicode code points; longer is cut on a character boundary), line
  /// breaks allowed. Not set: the identifier's name.
  void set_display(std::string_view display);

  /// The cache shared by the tasks of this job.
  cache_group job_cache() const;

  weft::logger& logger() noexcept {
    return logger_;
  }
  weft::tracer& tracer() noexcept {
    return tracer_;
  }

private:
  friend class weft::logger;
  friend class weft::span;
  friend struct context_access; // the runner takes what an execution made

  /// What an attempt kept and dropped of one kind of record (logs or
  /// spans) against its two limits.
  struct record_budget {
    enum class limit : uint8_t { none, count, bytes };
    const char* key;           // "logs", "spans": in the warning's fields
    const char* noun;          // "log record", "span": in its message
    const char* count_setting; // the context_limits fields, for messages
    const char* bytes_setting;
    size_t max_count = 0;
    size_t max_bytes = 0;
    size_t kept = 0;
    size_t kept_bytes = 0;
    size_t dropped = 0;
    size_t dropped_bytes = 0;
    limit hit = limit::none; // the limit that started the dropping

    /// Whether a record of `bytes` is kept; counted as dropped if not.
    bool admit(size_t bytes);
    /// The setting of the limit that was hit.
    const char* hit_setting() const noexcept;
    /// "3 spans (120 bytes) past its limit of 2 spans (context_limits::
    /// max_spans)", for a budget that dropped records.
    std::string dropped_text() const;
    /// Counts from zero again (a new attempt).
    void reset() noexcept;
  };

  /// Moves out what this execution produced.
  core::attempt_outcome take_outcome();
  void add_log(log_record&& record);
  void add_span(span_record&& record);
  /// The closing warning of an attempt that dropped records, if it did.
  std::optional<log_record> dropped_records_note() const;
  /// Queues a subtask whose input is known to be valid JSON.
  subtask_handle add_subtask(const task_identifier& id, std::string input,
                             subtask_options options);

  current_task_info task_;
  std::string display_;
  std::shared_ptr<cache_store> cache_;
  context_limits limits_;
  core::attempt_outcome outcome_;
  record_budget logs_;
  record_budget spans_;
  progress_observer* observer_;
  std::shared_ptr<progress_board> board_; // null until an indicator exists
  weft::logger logger_;
  weft::tracer tracer_;
};

} // namespace weft
