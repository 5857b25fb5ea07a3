#pragma once

// Actor tasks: a task whose `execute` returns the behavior of an
// event-based CAF actor instead of doing its work on a thread. It includes
// CAF, as code that writes actor tasks is CAF code (link it with CAF's core
// library too: weft::actors; see docs/writing-tasks.md). weft.hpp does not
// include it.

#include "weft/context.hpp"
#include "weft/json.hpp"
#include "weft/registry.hpp"
#include "weft/task.hpp"

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>

#include <boost/json/value.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

namespace detail {
class task_attempt; // a runner's running actor attempt (weft's own)
} // namespace detail

/// What an actor task sees: everything `weft::context` offers, the task
/// actor itself (`self()`), and the end of the attempt, which comes when
/// the task says so (`done()` or `fail(reason)`), not when `execute`
/// returns. Use it only from the task actor's own handlers.
class actor_context {
public:
  actor_context(const actor_context&) = delete;
  actor_context& operator=(const actor_context&) = delete;

  /// The task actor: send, request, delayed_send, spawn, monitor...
  caf::event_based_actor* self() const noexcept {
    return self_;
  }

  /// Ends the attempt successfully: its subtasks are queued, its progress,
  /// display name, logs and spans kept; the task actor quits. Once ended,
  /// later calls of `done` and `fail` do nothing.
  void done();
  /// Ends the attempt as failed with `reason` (retried if it has retries
  /// left; its subtasks are dropped); the task actor quits.
  void fail(std::string reason);
  /// Whether `done` or `fail` was called.
  bool ended() const noexcept;

  /// `fn` runs (on the task actor, once) when the job is canceled or fails
  /// while this attempt runs. Cooperative: the attempt still ends only by
  /// `done` or `fail`, and a canceled job keeps none of its subtasks; this
  /// only lets it end sooner. If the cancel came before, `fn` runs at once.
  void on_cancel(std::function<void()> fn);
  /// Whether the job was canceled (or failed) while this attempt ran.
  bool canceled() const noexcept {
    return canceled_;
  }

  /// As `context::submit_subtask`: queued once the attempt ends with
  /// `done()`.
  template <task_type T>
  subtask_handle submit_subtask(const T& task, subtask_options options = {}) {
    check_running("submit_subtask");
    return ctx_.submit_subtask(task, std::move(options));
  }
  template <class Range>
  std::vector<subtask_handle> submit_subtasks(const Range& tasks,
                                              const subtask_options& options
                                              = {}) {
    check_running("submit_subtasks");
    return ctx_.submit_subtasks(tasks, options);
  }
  subtask_handle submit_json(const task_identifier& id, std::string input,
                             subtask_options options = {}) {
    check_running("submit_json");
    return ctx_.submit_json(id, std::move(input), std::move(options));
  }
  /// As `context::progress`: sampled while the attempt runs, so watchers
  /// see it move during a wait.
  progress_handle progress(std::string_view label = {}) {
    check_running("progress");
    return ctx_.progress(label);
  }
  const current_task_info& current_task() const noexcept {
    return ctx_.current_task();
  }
  void set_display(std::string_view display) {
    check_running("set_display");
    ctx_.set_display(display);
  }
  cache_group job_cache() const {
    return ctx_.job_cache();
  }
  weft::logger& logger() noexcept {
    return ctx_.logger();
  }
  weft::tracer& tracer() noexcept {
    return ctx_.tracer();
  }

private:
  template <class T>
  friend struct actor_task_glue;
  friend class detail::task_attempt;

  actor_context(current_task_info task, std::shared_ptr<cache_store> cache,
                context_limits limits, progress_observer* observer,
                detail::task_attempt* attempt)
      : ctx_(std::move(task), std::move(cache), limits, observer),
        attempt_(attempt) {
  }

  /// Throws `weft::error` (invalid_state) once the attempt ended: what it
  /// produced has been sent.
  void check_running(const char* what) const;

  weft::context ctx_;
  detail::task_attempt* attempt_;
  caf::event_based_actor* self_ = nullptr;
  std::shared_ptr<const void> task_; // the task object, for its handlers
  caf::behavior behavior_;           // what execute returned
  std::function<void()> on_cancel_;
  bool canceled_ = false;
};

/// Registers weft's message types and error category with the
/// configuration of an actor system your program owns, before the system is
/// made, so that `weft::local_cluster{sys, options}` can run in it (its
/// actors beside yours, which actor tasks can then talk to).
void add_weft_types(caf::actor_system_config& cfg);

/// Starts actor task `T` on its task actor: decodes the input, calls
/// `execute` and hands the behavior to the runner, which the task actor
/// becomes. The task object lives as long as the attempt, so handlers may
/// capture `this`.
template <class T>
struct actor_task_glue {
  static void start(const boost::json::value& input, actor_context& ctx) {
    static_assert(
      std::is_same_v<decltype(std::declval<const T&>().execute(ctx)),
                     caf::behavior>,
      "an actor task's execute(weft::actor_context&) const returns "
      "caf::behavior");
    auto task = std::make_shared<const T>(json::from_value<T>(input));
    ctx.task_ = task;
    ctx.behavior_ = task->execute(ctx);
  }
};

} // namespace weft
