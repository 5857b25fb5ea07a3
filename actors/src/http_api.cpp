#include "weft/actors/http_api.hpp"

#include "weft/core/json_views.hpp"
#include "weft/core/uuid.hpp"
#include "weft/json.hpp"
#include "weft/text.hpp"
#include "weft/time.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace weft::http {

namespace json = boost::json;

namespace {

/// A refusal whose status is not the one its error code fits.
struct refusal {
  unsigned status;
  std::string code;
  std::string message;
};

reply json_reply(unsigned status, json::value v) {
  core::make_valid_utf8(v);
  reply r;
  r.status = status;
  r.body = json::serialize(v);
  return r;
}

unsigned status_of(errc code) {
  switch (code) {
    case errc::unknown_job:
    case errc::unknown_cluster: return 404;
    case errc::already_exists:
    case errc::refused:
    case errc::invalid_state: return 409;
    case errc::input_too_large: return 413;
    case errc::not_running:
    case errc::unreachable:
    case errc::timeout:
    case errc::data_in_use: return 503;
    case errc::io_error:
    case errc::bad_data: return 500;
    default: return 400;
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c == '%') {
      int hi = i + 2 < s.size() ? hex_digit(s[i + 1]) : -1;
      int lo = hi >= 0 ? hex_digit(s[i + 2]) : -1;
      if (lo < 0)
        throw error(errc::invalid_argument,
                    "malformed percent escape in the request target: use %XX "
                    "with two hex digits");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string checked_job_id(const std::string& word) {
  if (!core::is_uuid(word))
    throw error(errc::unknown_job,
                text::quote(word)
                  + " is not a job id: job ids are UUIDs such as "
                    "018dd029-58ca-74e5-8b58-b4f99d610f9a (GET /api/v1/jobs "
                    "lists them)");
  return word;
}

json::object parse_body(const request& r) {
  auto type = r.content_type.substr(0, r.content_type.find(';'));
  while (!type.empty() && type.back() == ' ')
    type.pop_back();
  if (type != "application/json")
    throw refusal{415, "unsupported_media_type",
                  "this endpoint takes a JSON body: send it with "
                  "Content-Type: application/json"};
  auto v = weft::json::parse(r.body);
  if (!v.is_object())
    throw error(errc::invalid_input,
                "the request body must be a JSON object (see docs/http.md)");
  return std::move(v.get_object());
}

std::string string_field(const json::object& o, const char* key,
                         bool required) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) {
    if (required)
      throw error(errc::invalid_input,
                  std::string{"the body needs \""} + key + "\", a string");
    return {};
  }
  if (!v->is_string())
    throw error(errc::invalid_input,
                std::string{"\""} + key + "\" must be a string");
  return std::string{v->get_string()};
}

uint64_t count_of(const std::string& what, const std::string& text,
                  uint64_t max) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()
      || n > max)
    throw error(errc::invalid_argument,
                what + " must be a whole number from 0 to "
                  + std::to_string(max) + ", not " + text::quote(text));
  return n;
}

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    auto j = path.find('/', i);
    if (j == std::string::npos)
      j = path.size();
    parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

reply method_not_allowed(const std::string& allowed) {
  auto r = error_reply(405, "method_not_allowed",
                       "this resource takes " + allowed + " only");
  r.headers.emplace_back("Allow", allowed);
  return r;
}

reply unknown_route(const std::string& path) {
  return error_reply(404, "unknown_route",
                     "no resource at " + text::quote(path)
                       + ": see /api/v1/openapi.json for the API");
}

} // namespace

reply error_reply(unsigned status, const std::string& code,
                  const std::string& message) {
  return json_reply(status, json::object{
                              {"error", json::object{{"code", code},
                                                     {"message", message}}}});
}

reply error_reply(const error& e) {
  return error_reply(status_of(e.code()), to_string(e.code()), e.what());
}

void split_target(const std::string& target, std::string& path,
                  std::map<std::string, std::string>& query) {
  auto q = target.find('?');
  path = decode(std::string_view{target}.substr(0, q), false);
  if (q == std::string::npos)
    return;
  std::string_view rest{target};
  rest.remove_prefix(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    auto key = decode(pair.substr(0, eq), true);
    auto value = eq == std::string_view::npos
                   ? std::string{}
                   : decode(pair.substr(eq + 1), true);
    if (!key.empty())
      query[key] = value;
    if (amp == std::string_view::npos)
      break;
    rest.remove_prefix(amp + 1);
  }
}

std::string stream_job(const std::string& method, const std::string& path) {
  auto parts = split(path);
  if (method != "GET" || parts.size() != 5 || parts[0] != "api"
      || parts[1] != "v1" || parts[2] != "jobs" || parts[4] != "events")
    return {};
  return parts[3];
}

api::api(job_client client, std::function<std::string()> metrics,
         const orchestrator_options& orchestrator)
    : client_(std::move(client)), metrics_(std::move(metrics)),
      max_input_bytes_(orchestrator.max_input_bytes) {
  client_.set_max_input_bytes(max_input_bytes_);
}

reply api::handle(const request& r) {
  try {
    auto parts = split(r.path);
    if (parts.size() >= 2 && parts[0] == "api" && parts[1] == "v1") {
      if (parts.size() == 3 && parts[2] == "jobs")
        return r.method == "POST"  ? submit(r)
               : r.method == "GET" ? jobs(r)
                                   : method_not_allowed("GET, POST");
      if (parts.size() >= 4 && parts[2] == "jobs")
        return job(r, parts[3], parts.size() == 5 ? parts[4] : "");
      if (parts.size() == 3 && parts[2] == "clusters")
        return clusters(r, "");
      if (parts.size() == 4 && parts[2] == "clusters")
        return clusters(r, parts[3]);
      if (parts.size() == 3 && parts[2] == "openapi.json") {
        auto a = find_asset("openapi.json");
        return reply{200, a->content_type, std::string{a->bytes}, {}};
      }
      return unknown_route(r.path);
    }
    if (r.path == "/metrics") {
      if (r.method != "GET")
        return method_not_allowed("GET");
      return reply{200,
                   "text/plain; version=0.0.4; charset=utf-8",
                   metrics_(),
                   {}};
    }
    if (r.method != "GET")
      return method_not_allowed("GET");
    return page(r.path);
  } catch (const refusal& x) {
    return error_reply(x.status, x.code, x.message);
  } catch (const error& e) {
    return error_reply(e);
  } catch (const std::exception& e) {
    return error_reply(500, "internal",
                       std::string{"the request failed: "} + e.what());
  }
}

reply api::page(const std::string& path) {
  auto parts = split(path);
  std::string name;
  if (parts.empty())
    name = "index.html";
  else if (parts.size() == 2 && parts[0] == "jobs")
    name = "job.html";
  else if (parts.size() == 1 && parts[0] == "clusters")
    name = "clusters.html";
  else if (parts.size() == 2 && parts[0] == "static")
    name = parts[1];
  auto a = name.empty() ? std::nullopt : find_asset(name);
  if (!a || name == "openapi.json")
    return unknown_route(path);
  reply r{200, a->content_type, std::string{a->bytes}, {}};
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

reply api::jobs(const request& r) {
  job_query q;
  auto get = [&](const char* key) -> const std::string* {
    auto i = r.query.find(key);
    return i == r.query.end() || i->second.empty() ? nullptr : &i->second;
  };
  auto time_of = [](const char* key, const std::string& text) {
    try {
      return utc_time{parse_time(text)};
    } catch (const error& e) {
      throw error(errc::invalid_argument, std::string{key} + ": " + e.what());
    }
  };
  if (auto x = get("from"))
    q.from = time_of("from", *x);
  if (auto x = get("to"))
    q.to = time_of("to", *x);
  if (auto x = get("state")) {
    size_t i = 0;
    while (i <= x->size()) {
      auto j = std::min(x->find(',', i), x->size());
      auto word = x->substr(i, j - i);
      auto s = parse_job_state(word);
      if (!s)
        throw error(errc::invalid_argument,
                    "state: " + text::quote(word)
                      + " is not a job state (SUBMITTED, RUNNING, STARTED, "
                        "COMPLETED, FAILED, CANCELED)");
      q.states.push_back(*s);
      i = j + 1;
    }
  }
  if (auto x = get("name"))
    q.name = *x;
  if (auto x = get("cluster"))
    q.cluster = *x;
  q.limit = 100;
  if (auto x = get("limit"))
    q.limit = static_cast<uint32_t>(count_of("limit", *x, 1000));
  if (q.limit == 0)
    q.limit = 100;
  if (auto x = get("cursor"))
    q.cursor = checked_job_id(*x);
  if (auto x = get("order")) {
    if (*x != "newest" && *x != "oldest")
      throw error(errc::invalid_argument, "order: " + text::quote(*x)
                                            + " is neither newest nor oldest");
    q.newest_first = *x == "newest";
  }
  auto found = client_.query(q);
  // The index holds a job's counts and progress as of its submission
  // until it settles (and none for jobs kept without a data directory):
  // the jobs of the page that run, or lack them, are asked for their own.
  constexpr size_t refreshed_at_most = 200;
  size_t refreshed = 0;
  json::array list;
  for (auto& j : found) {
    if ((!is_final(j.state) || j.stats.total_tasks == 0)
        && refreshed++ < refreshed_at_most) {
      try {
        j = client_.find(j.id);
      } catch (const error&) {
        // gone meanwhile (retention): the index's entry stands
      }
    }
    list.push_back(core::to_json(j));
  }
  json::object o;
  o["jobs"] = std::move(list);
  if (found.size() == q.limit)
    o["next_cursor"] = found.back().id;
  else
    o["next_cursor"] = nullptr;
  return json_reply(200, std::move(o));
}

reply api::submit(const request& r) {
  if (r.body.size() > max_input_bytes_ + (64u << 10))
    throw error(errc::input_too_large,
                "the body has " + std::to_string(r.body.size())
                  + " bytes, above the server's input limit of "
                  + std::to_string(max_input_bytes_) + " bytes per root input");
  auto body = parse_body(r);
  auto name = string_field(body, "name", true);
  validate_job_name(name);
  submit_options opts;
  opts.cluster = string_field(body, "cluster", false);
  if (!opts.cluster.empty())
    validate_cluster_name(opts.cluster);
  if (auto* m = body.if_contains("max_retries"); m && !m->is_null()) {
    if (!m->is_int64() && !m->is_uint64())
      throw error(errc::invalid_input, "\"max_retries\" must be a number");
    auto n
      = m->is_int64() ? m->get_int64() : static_cast<int64_t>(m->get_uint64());
    if (n < 0 || n > 1000)
      throw error(errc::invalid_input,
                  "\"max_retries\" must be from 0 to 1000");
    opts.max_retries = static_cast<uint32_t>(n);
  }
  auto* roots = body.if_contains("roots");
  if (!roots || !roots->is_array() || roots->get_array().empty())
    throw error(errc::invalid_input,
                "the body needs \"roots\": [{\"task\": \"NAME@vX.Y\", "
                "\"input\": {...}}, ...]");
  std::vector<task_input> inputs;
  for (const auto& root : roots->get_array()) {
    if (!root.is_object())
      throw error(errc::invalid_input,
                  "each root is {\"task\": \"NAME@vX.Y\", \"input\": {...}}");
    auto task = string_field(root.get_object(), "task", true);
    auto at = task.rfind('@');
    if (at == std::string::npos || at == 0)
      throw error(errc::invalid_identifier,
                  "\"task\" wants NAME@vX.Y (such as ResizeImage@v1.0), not "
                    + text::quote(task));
    task_identifier id{task.substr(0, at), task.substr(at + 1)};
    validate_identifier(id);
    auto* input = root.get_object().if_contains("input");
    if (!input || !input->is_object())
      throw error(errc::invalid_input, "the root " + text::quote(task)
                                         + " needs \"input\", a JSON object");
    inputs.push_back(task_input{std::move(id), json::serialize(*input)});
  }
  auto job = client_.submit(std::move(name), std::move(inputs), opts);
  auto rep = json_reply(201, core::to_json(job));
  rep.headers.emplace_back("Location", "/api/v1/jobs/" + job.id);
  return rep;
}

reply api::job(const request& r, const std::string& word,
               const std::string& rest) {
  auto id = checked_job_id(word);
  if (rest.empty()) {
    if (r.method != "GET")
      return method_not_allowed("GET");
    return json_reply(200, core::to_json(client_.find(id)));
  }
  if (rest == "cancel" || rest == "retry") {
    if (r.method != "POST")
      return method_not_allowed("POST");
    json::object o;
    if (rest == "cancel")
      o["canceled"] = client_.cancel(id);
    else
      o["requeued"] = client_.retry(id);
    o["job"] = core::to_json(client_.find(id));
    return json_reply(200, std::move(o));
  }
  if (r.method != "GET")
    return method_not_allowed("GET");
  if (rest == "tasks") {
    json::array list;
    for (const auto& t : client_.tasks(id))
      list.push_back(core::to_json(t));
    return json_reply(200, json::object{{"tasks", std::move(list)}});
  }
  if (rest == "graph.svg") {
    reply rep{200, "image/svg+xml", client_.visualize(id), {}};
    rep.headers.emplace_back("Cache-Control", "no-store");
    return rep;
  }
  return unknown_route(r.path);
}

reply api::clusters(const request& r, const std::string& name) {
  if (name.empty()) {
    if (r.method == "GET") {
      json::array list;
      for (const auto& c : client_.clusters())
        list.push_back(core::to_json(c));
      return json_reply(200, json::object{{"clusters", std::move(list)}});
    }
    if (r.method != "POST")
      return method_not_allowed("GET, POST");
    auto body = parse_body(r);
    auto n = string_field(body, "name", true);
    validate_cluster_name(n);
    auto c = client_.create_cluster(n);
    auto rep = json_reply(201, core::to_json(c));
    rep.headers.emplace_back("Location", "/api/v1/clusters/" + c.name);
    return rep;
  }
  if (r.method == "GET")
    return json_reply(200, core::to_json(client_.find_cluster(name)));
  if (r.method != "DELETE")
    return method_not_allowed("GET, DELETE");
  client_.delete_cluster(name);
  reply rep;
  rep.status = 204;
  rep.content_type.clear();
  return rep;
}

} // namespace weft::http
