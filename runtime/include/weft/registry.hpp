#pragma once

#include "weft/context.hpp"
#include "weft/error.hpp"
#include "weft/json.hpp"
#include "weft/task.hpp"

#include <boost/json/value.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace weft {

/// The task types one runner can execute, by identifier and version.
class task_registry {
public:
  /// Decodes an input and runs `execute`.
  using executor
    = std::function<void(const boost::json::value& input, context& ctx)>;

  struct entry {
    task_identifier identifier;
    task_version version;
    std::string type_name;
    executor run;
  };

  /// Registers `T`. Throws `weft::error`: invalid_identifier for a bad name
  /// or version, duplicate_task when (name, version) is already registered.
  template <task_type T>
  task_registry& add() {
    static_assert(boost::describe::has_describe_members<T>::value,
                  "describe the task's fields with BOOST_DESCRIBE_STRUCT(T, "
                  "(), (field, ...)), even when it has none");
    const auto& id = validated_identifier_of<T>();
    add(id, boost::core::type_name<T>(),
        [](const boost::json::value& input, context& ctx) {
          auto task = json::from_value<T>(input);
          task.execute(ctx);
        });
    return *this;
  }

  template <task_type... Ts>
  task_registry& add_all() {
    (add<Ts>(), ...);
    return *this;
  }

  /// Registers an executor under an identifier (for bindings and tests).
  void add(const task_identifier& id, std::string type_name, executor run);

  /// The entry that may run a task submitted as `submitted`: same name, same
  /// major version, minor >= the submitted minor; the highest such minor.
  const entry* find(const task_identifier& submitted) const;

  std::vector<task_identifier> identifiers() const;
  bool empty() const noexcept {
    return entries_.empty();
  }

private:
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

/// Runs one attempt on the calling thread: finds the task type, decodes the
/// input, executes it and collects what it produced. Never throws: a decode
/// error, an unknown task or an exception from `execute` becomes a failed
/// outcome carrying the message. `observer`, if given, can sample its
/// progress indicators while it runs (see `progress_observer`).
core::attempt_outcome execute_attempt(const task_registry& registry,
                                      const attempt_request& request,
                                      std::shared_ptr<cache_store> cache,
                                      const context_limits& limits,
                                      const std::string& runner_name,
                                      progress_observer* observer = nullptr);

} // namespace weft
