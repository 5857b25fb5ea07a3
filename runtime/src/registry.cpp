#include "weft/registry.hpp"

namespace weft {

struct context_access {
  static core::attempt_outcome take_outcome(context& ctx) {
    return ctx.take_outcome();
  }
};

void task_registry::add(const task_identifier& id, std::string type_name,
                        executor run) {
  auto e = std::make_shared<entry>();
  e->run = std::move(run);
  insert(id, std::move(type_name), std::move(e));
}

void task_registry::add_actor(const task_identifier& id, std::string type_name,
                              actor_executor run) {
  auto e = std::make_shared<entry>();
  e->kind = task_kind::actor;
  e->actor_run = std::move(run);
  insert(id, std::move(type_name), std::move(e));
}

void task_registry::insert(const task_identifier& id, std::string type_name,
                           std::shared_ptr<entry> e) {
  validate_identifier(id, type_name);
  for (const auto& e : entries_)
    if (e->identifier == id)
      throw error(errc::duplicate_task,
                  "cannot register " + type_name + " as " + to_string(id) + ": "
                    + e->type_name
                    + " is already registered with that name and version; "
                      "give one of them another identifier() or version");
  e->identifier = id;
  e->version = parse_version(id.version);
  e->type_name = std::move(type_name);
  entries_.push_back(std::move(e));
}

const task_registry::entry* task_registry::find(
  const task_identifier& submitted) const {
  task_version wanted;
  try {
    wanted = parse_version(submitted.version);
  } catch (const error&) {
    return nullptr;
  }
  const entry* best = nullptr;
  for (const auto& e : entries_)
    if (e->identifier.name == submitted.name && compatible(wanted, e->version)
        && (best == nullptr || e->version.minor > best->version.minor))
      best = e.get();
  return best;
}

std::vector<task_identifier> task_registry::identifiers() const {
  std::vector<task_identifier> result;
  result.reserve(entries_.size());
  for (const auto& e : entries_)
    result.push_back(e->identifier);
  return result;
}

std::vector<task_identifier> task_registry::actor_identifiers() const {
  std::vector<task_identifier> result;
  for (const auto& e : entries_)
    if (e->kind == task_kind::actor)
      result.push_back(e->identifier);
  return result;
}

current_task_info attempt_task_info(const attempt_request& request,
                                    const std::string& runner_name) {
  current_task_info task;
  task.job_id = request.job_id;
  task.id = request.job_id + "/" + std::to_string(request.task);
  task.identifier = request.identifier;
  task.attempt = request.attempt;
  task.runner = runner_name;
  return task;
}

core::attempt_outcome finish_attempt(context& ctx, bool succeeded,
                                     std::string_view failure,
                                     timestamp started,
                                     const std::string& runner_name) {
  auto out = context_access::take_outcome(ctx);
  out.succeeded = succeeded;
  if (!succeeded) {
    out.error = "task " + to_string(ctx.current_task().identifier)
                + " failed: " + std::string{failure};
    out.subtasks.clear(); // subtasks of a failed attempt are dropped
  }
  out.started = started;
  out.stopped = now();
  out.runner = runner_name;
  return out;
}

core::attempt_outcome execute_attempt(const task_registry& registry,
                                      const attempt_request& request,
                                      std::shared_ptr<cache_store> cache,
                                      const context_limits& limits,
                                      const std::string& runner_name,
                                      progress_observer* observer) {
  context ctx{attempt_task_info(request, runner_name), std::move(cache), limits,
              observer};
  auto started = now();
  std::string failure;
  bool ok = false;
  try {
    auto* e = registry.find(request.identifier);
    if (e == nullptr)
      throw error(errc::unknown_task,
                  "runner " + runner_name
                    + " has no task registered that can run "
                    + to_string(request.identifier));
    if (e->kind != task_kind::plain)
      throw error(errc::invalid_state,
                  e->type_name
                    + " is an actor task: it runs on a task actor of its "
                      "runner, not on a thread");
    auto input = json::parse(request.input);
    e->run(input, ctx);
    ok = true;
  } catch (const error& e) {
    failure = e.what();
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "execute threw an exception that is not a std::exception";
  }
  return finish_attempt(ctx, ok, failure, started, runner_name);
}

} // namespace weft
