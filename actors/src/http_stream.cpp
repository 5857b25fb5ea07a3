#include "weft/actors/http_api.hpp"

#include "weft/core/json_views.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace weft::http {

namespace json = boost::json;

namespace {

// An event's id is "<update time in ns>-<job state>": a browser that
// reconnects sends the last one back (Last-Event-ID), which says both what
// it has seen and which state it knows.
std::string event_id(timestamp at, job_state state) {
  return std::to_string(at) + "-" + to_string(state);
}

std::string to_text(json::value v) {
  core::make_valid_utf8(v);
  return json::serialize(v);
}

} // namespace

event_stream::event_stream(const std::string& last_event_id,
                           std::chrono::milliseconds interval)
    : interval_(interval) {
  // Anything else than an id this stream gave is ignored: the stream then
  // starts as for a first connection.
  auto dash = last_event_id.find('-');
  if (dash == std::string::npos)
    return;
  uint64_t at = 0;
  auto first = last_event_id.data();
  auto [end, ec] = std::from_chars(first, first + dash, at);
  if (ec != std::errc{} || end != first + dash)
    return;
  auto state = parse_job_state(last_event_id.substr(dash + 1));
  if (!state)
    return;
  last_at_ = static_cast<timestamp>(at);
  last_state_ = *state;
}

std::string event_stream::event(const char* name, const std::string& data,
                                timestamp at, job_state state) {
  last_at_ = std::max(last_at_, at);
  std::string out;
  out.reserve(data.size() + 64);
  out += "id: ";
  out += event_id(last_at_, state);
  out += "\nevent: ";
  out += name;
  out += "\ndata: ";
  out += data; // serialized JSON has no newline
  out += "\n\n";
  return out;
}

std::string event_stream::progress_event(const progress_update& u) {
  json::object o;
  o["progress_combined"] = *u.percent;
  json::array items;
  for (const auto& i : u.items)
    items.push_back(
      json::object{{"item", i.label},
                   {"task", i.task},
                   {"state", to_string(i.state)},
                   {"progress",
                    i.percent ? json::value(*i.percent) : json::value()}});
  o["progress_per_item"] = std::move(items);
  // The rest of the update: state, indicators, counts, ETA, the source of
  // the estimate.
  for (auto& kv : core::to_json(u))
    if (kv.key() != "items" && kv.key() != "final")
      o[kv.key()] = kv.value();
  return to_text(std::move(o));
}

std::string event_stream::on_update(const progress_update& u,
                                    std::chrono::steady_clock::time_point now) {
  std::string out;
  if (finished_)
    return out;
  if (!last_state_ || *last_state_ != u.state) {
    last_state_ = u.state;
    out += event("state", to_text(core::to_json(u)), u.at, u.state);
  }
  if (u.final) {
    finished_ = true;
    final_at_ = u.at;
    held_.reset();
    return out;
  }
  // As Transloadit does: no progress event while there is no estimate.
  if (!u.percent)
    return out;
  if (now - last_sent_ < interval_ && !last_progress_.empty()) {
    held_ = u;
    return out;
  }
  auto data = progress_event(u);
  if (data == last_progress_)
    return out;
  last_progress_ = data;
  last_sent_ = now;
  out += event("execution_progress", data, u.at, u.state);
  return out;
}

std::optional<std::chrono::steady_clock::time_point> event_stream::due() const {
  if (!held_)
    return std::nullopt;
  return last_sent_ + interval_;
}

std::string event_stream::flush(std::chrono::steady_clock::time_point now) {
  if (!held_ || now < last_sent_ + interval_)
    return {};
  auto u = std::move(*held_);
  held_.reset();
  auto data = progress_event(u);
  if (data == last_progress_)
    return {};
  last_progress_ = data;
  last_sent_ = now;
  return event("execution_progress", data, u.at, u.state);
}

std::string event_stream::done(const job_info& job) {
  return event("done", to_text(core::to_json(job)), final_at_, job.state);
}

} // namespace weft::http
