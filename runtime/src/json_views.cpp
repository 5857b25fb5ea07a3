#include "weft/core/json_views.hpp"

#include "weft/text.hpp"
#include "weft/time.hpp"

#include <boost/json.hpp>

namespace weft::core {

namespace json = boost::json;

namespace {

json::array to_json(const std::vector<progress_indicator>& indicators) {
  json::array progress;
  for (const auto& p : indicators)
    progress.push_back(
      json::object{{"label", p.label}, {"done", p.done}, {"total", p.total}});
  return progress;
}

json::object counts_of(const execution_stats& stats) {
  json::object counts;
  for (size_t i = 0; i < task_state_count; ++i)
    if (stats.tasks_by_state[i] > 0)
      counts[to_string(static_cast<task_state>(i))] = stats.tasks_by_state[i];
  return counts;
}

/// A JSON object kept as text (log fields, span attributes), or the text
/// itself where it is not one.
json::value embedded(const std::string& text) {
  if (text.empty())
    return json::object{};
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec)
    return json::string{text};
  return v;
}

json::value optional_number(const std::optional<double>& x) {
  return x ? json::value(*x) : json::value();
}

} // namespace

json::object to_json(const job_info& job) {
  json::object o;
  o["id"] = job.id;
  o["name"] = job.name;
  o["cluster"] = job.cluster;
  o["state"] = to_string(job.state);
  o["submitted_at"] = format_time(job.submitted_at);
  o["running"] = job.running;
  o["progress"] = to_json(job.progress);
  json::object stats;
  stats["total_tasks"] = job.stats.total_tasks;
  stats["tasks_by_state"] = counts_of(job.stats);
  stats["compute_seconds"] = job.stats.compute_ns / 1e9;
  stats["elapsed_seconds"] = job.stats.elapsed_ns / 1e9;
  stats["parallelism"] = job.stats.parallelism;
  o["stats"] = std::move(stats);
  return o;
}

json::object to_json(const cluster_info& c) {
  json::object o;
  o["name"] = c.name;
  json::array runners;
  for (const auto& r : c.runners) {
    json::array ids;
    for (const auto& id : r.identifiers)
      ids.push_back(json::string{to_string(id)});
    json::array actor_ids;
    for (const auto& id : r.actor_tasks)
      actor_ids.push_back(json::string{to_string(id)});
    runners.push_back(json::object{{"name", r.name},
                                   {"slots", r.slots},
                                   {"tasks", std::move(ids)},
                                   {"actor_slots", r.actor_slots},
                                   {"actor_tasks", std::move(actor_ids)}});
  }
  o["runners"] = std::move(runners);
  o["queued"] = c.queued;
  o["dispatched"] = c.dispatched;
  json::array unserved;
  for (const auto& id : c.unserved)
    unserved.push_back(json::string{to_string(id)});
  o["unserved"] = std::move(unserved);
  return o;
}

void make_valid_utf8(json::value& v) {
  switch (v.kind()) {
    case json::kind::string: {
      auto& str = v.get_string();
      if (text::invalid_utf8_offset(str) != std::string_view::npos)
        str = text::to_valid_utf8(str);
      break;
    }
    case json::kind::array:
      for (auto& x : v.get_array())
        make_valid_utf8(x);
      break;
    case json::kind::object: {
      auto& obj = v.get_object();
      bool keys_valid = true;
      for (auto& kv : obj) {
        make_valid_utf8(kv.value());
        keys_valid
          = keys_valid
            && text::invalid_utf8_offset(kv.key()) == std::string_view::npos;
      }
      if (!keys_valid) {
        json::object fixed;
        for (auto& kv : obj)
          fixed[text::to_valid_utf8(kv.key())] = std::move(kv.value());
        obj = std::move(fixed);
      }
      break;
    }
    default: break;
  }
}

json::object to_json(const progress_update& u) {
  json::object o;
  o["id"] = u.job_id;
  o["name"] = u.name;
  o["state"] = to_string(u.state);
  o["progress"] = to_json(u.progress);
  o["total_tasks"] = u.stats.total_tasks;
  o["tasks_by_state"] = counts_of(u.stats);
  o["percent"] = optional_number(u.percent); // as shown: never falls
  o["raw_percent"] = optional_number(u.raw_percent);
  if (u.eta_ns)
    o["eta_seconds"] = static_cast<double>(*u.eta_ns) / 1e9;
  else
    o["eta_seconds"] = nullptr;
  // Where the figures came from: learned statistics, the indicators'
  // totals, the job having completed, or nothing.
  o["estimate"] = u.learned                         ? "learned"
                  : u.state == job_state::completed ? "completed"
                  : u.percent                       ? "indicators"
                                                    : "none";
  json::array items;
  for (const auto& i : u.items)
    items.push_back(
      json::object{{"task", i.task},
                   {"label", i.label},
                   {"state", to_string(i.state)},
                   {"percent", optional_number(i.percent)},
                   {"raw_percent", optional_number(i.raw_percent)}});
  o["items"] = std::move(items);
  o["final"] = u.final;
  return o;
}

json::object to_json(const task_info& t) {
  json::object o;
  o["index"] = t.index;
  if (t.parent != task_info::no_parent)
    o["parent"] = t.parent;
  else
    o["parent"] = nullptr;
  o["task"] = to_string(t.identifier);
  o["display"] = t.display;
  o["state"] = to_string(t.state);
  o["cluster"] = t.cluster;
  o["input"] = embedded(t.input);
  o["optional"] = t.optional;
  o["attempts"] = t.attempts;
  o["retries_used"] = t.retries_used;
  o["runner_losses"] = t.runner_losses;
  o["depends_on"] = json::value_from(t.depends_on);
  o["subtasks"] = json::value_from(t.subtasks);
  o["progress"] = to_json(t.progress);
  o["started_at"]
    = t.started ? json::value(format_time(t.started)) : json::value();
  o["stopped_at"]
    = t.stopped ? json::value(format_time(t.stopped)) : json::value();
  json::array history;
  for (const auto& a : t.history) {
    json::array logs;
    for (const auto& l : a.logs)
      logs.push_back(json::object{{"time", format_time(l.time)},
                                  {"level", l.level},
                                  {"message", l.message},
                                  {"fields", embedded(l.fields)}});
    json::array spans;
    for (const auto& sp : a.spans)
      spans.push_back(json::object{{"name", sp.name},
                                   {"start", format_time(sp.start)},
                                   {"end", format_time(sp.end)},
                                   {"attributes", embedded(sp.attributes)}});
    history.push_back(json::object{{"attempt", a.attempt},
                                   {"runner", a.runner},
                                   {"started_at", format_time(a.started)},
                                   {"stopped_at", format_time(a.stopped)},
                                   {"succeeded", a.succeeded},
                                   {"error", a.error},
                                   {"logs", std::move(logs)},
                                   {"spans", std::move(spans)}});
  }
  o["history"] = std::move(history);
  return o;
}

} // namespace weft::core
