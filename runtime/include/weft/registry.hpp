#pragma once

#include "weft/context.hpp"
#include "weft/error.hpp"
#include "weft/json.hpp"
#include "weft/task.hpp"

#include <boost/json/value.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

/// How an actor task `T` starts: decodes its input, calls its `execute`
/// and hands the behavior it returns to the context. Declared only: it is
/// defined in weft/actor_task.hpp, which every file that writes an actor
/// task includes, so that this header needs no CAF.
template <class T>
struct actor_task_glue;

/// The task types one runner can execute, by identifier and version.
class task_registry {
public:
  /// Decodes an input and runs `execute` (a plain task).
  using executor
    = std::function<void(const boost::json::value& input, context& ctx)>;
  /// Decodes an input and starts an actor task on its task actor.
  using actor_executor
    = std::function<void(const boost::json::value& input, actor_context& ctx)>;

  struct entry {
    task_identifier identifier;
    task_version version;
    std::string type_name;
    task_kind kind = task_kind::plain;
    executor run;             ///< plain tasks
    actor_executor actor_run; ///< actor tasks
  };

  /// Registers `T`. Throws `weft::error`: invalid_identifier for a bad name
  /// or version, duplicate_task when (name, version) is already registered.
  template <task_type T>
  task_registry& add() {
    static_assert(boost::describe::has_describe_members<T>::value,
                  "describe the task's fields with BOOST_DESCRIBE_STRUCT(T, "
                  "(), (field, ...)), even when it has none");
    const auto& id = validated_identifier_of<T>();
    if constexpr (plain_task_type<T>) {
      add(id, boost::core::type_name<T>(),
          [](const boost::json::value& input, context& ctx) {
            auto task = json::from_value<T>(input);
            task.execute(ctx);
          });
    } else {
      // Dependent on T: found where the task is registered, which has
      // included weft/actor_task.hpp to write it.
      add_actor(id, boost::core::type_name<T>(),
                [](const boost::json::value& input, actor_context& ctx) {
                  actor_task_glue<T>::start(input, ctx);
                });
    }
    return *this;
  }

  template <task_type... Ts>
  task_registry& add_all() {
    (add<Ts>(), ...);
    return *this;
  }

  /// Registers an executor under an identifier (for bindings and tests).
  void add(const task_identifier& id, std::string type_name, executor run);
  /// Registers an actor task's starter under an identifier.
  void add_actor(const task_identifier& id, std::string type_name,
                 actor_executor run);

  /// The entry that may run a task submitted as `submitted`: same name, same
  /// major version, minor >= the submitted minor; the highest such minor.
  const entry* find(const task_identifier& submitted) const;

  /// Every registered identifier, and those of them that are actor tasks.
  std::vector<task_identifier> identifiers() const;
  std::vector<task_identifier> actor_identifiers() const;
  bool empty() const noexcept {
    return entries_.empty();
  }

private:
  void insert(const task_identifier& id, std::string type_name,
              std::shared_ptr<entry> e);
  std::vector<std::shared_ptr<const entry>> entries_;
};

/// One attempt to run, as a runner receives it.
struct attempt_request {
  std::string job_id;
  uint32_t task = 0;
  uint32_t attempt = 0;
  task_identifier identifier;
  std::string input;
};

/// The task an attempt runs, as its context shows it.
current_task_info attempt_task_info(const attempt_request& request,
                                    const std::string& runner_name);

/// Ends an attempt that ran in `ctx` since `started`: takes what it
/// produced, and without `succeeded` marks it failed with `failure` (as
/// "task ID failed: ...") and drops its subtasks. For plain attempts, and
/// for actor attempts, which end later than the call that started them.
core::attempt_outcome finish_attempt(context& ctx, bool succeeded,
                                     std::string_view failure,
                                     timestamp started,
                                     const std::string& runner_name);

/// Runs one attempt on the calling thread: finds the task type, decodes the
/// input, executes it and collects what it produced. Never throws: a decode
/// error, an unknown task, an actor task (it runs on a task actor, not
/// here) or an exception from `execute` becomes a failed outcome carrying
/// the message. `observer`, if given, can sample its progress indicators
/// while it runs (see `progress_observer`).
core::attempt_outcome execute_attempt(const task_registry& registry,
                                      const attempt_request& request,
                                      std::shared_ptr<cache_store> cache,
                                      const context_limits& limits,
                                      const std::string& runner_name,
                                      progress_observer* observer = nullptr);

} // namespace weft
