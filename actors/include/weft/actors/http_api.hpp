#pragma once

// The HTTP listener's handlers, apart from the sockets: a request in, a
// reply out (http_api.cpp), and the update stream's events (http_stream.cpp).
// The listener (http_server.cpp) parses and writes HTTP with Boost.Beast.

#include "weft/client.hpp"
#include "weft/http.hpp"
#include "weft/orchestrator_options.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace weft::http {

struct request {
  std::string method; ///< "GET", "POST", ...
  std::string path;   ///< decoded, without the query
  std::map<std::string, std::string> query;
  std::string content_type;
  std::string body;
};

struct reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// `{"error": {"code": ..., "message": ...}}` with `status`.
reply error_reply(unsigned status, const std::string& code,
                  const std::string& message);
/// The reply to a `weft::error`, with the status its code fits.
reply error_reply(const error& e);

/// Splits a request target into a decoded path and query; throws
/// `weft::error` (invalid_argument) for a malformed percent escape.
void split_target(const std::string& target, std::string& path,
                  std::map<std::string, std::string>& query);

/// The id in `/api/v1/jobs/{id}/events`, or empty for any other path.
std::string stream_job(const std::string& method, const std::string& path);

/// A file of the dashboard, or of the API's description.
struct asset {
  const char* content_type;
  std::string_view bytes;
};
std::optional<asset> find_asset(const std::string& name);

/// The handlers of every route but the update stream. Blocking: called on
/// the listener's worker threads, never on its I/O threads.
class api {
public:
  api(job_client client, std::function<std::string()> metrics,
      const orchestrator_options& orchestrator);

  reply handle(const request& r);

  job_client& client() noexcept {
    return client_;
  }

private:
  reply jobs(const request& r);
  reply submit(const request& r);
  reply job(const request& r, const std::string& id, const std::string& rest);
  reply clusters(const request& r, const std::string& name);
  reply page(const std::string& path);

  job_client client_;
  std::function<std::string()> metrics_;
  size_t max_input_bytes_;
};

/// One update stream: turns the job's updates into Server-Sent Events
/// (docs/http.md, "The update stream"). Pure: the listener feeds it.
class event_stream {
public:
  /// `last_event_id`: what a reconnecting browser last received (empty on
  /// a first connection); `interval`: the least time between two
  /// `execution_progress` events.
  event_stream(const std::string& last_event_id,
               std::chrono::milliseconds interval);

  /// The events an update gives now (may be empty). A progress event held
  /// back by the interval is kept and given by `flush` later.
  std::string on_update(const progress_update& u,
                        std::chrono::steady_clock::time_point now);
  /// When the held-back progress event is due, if there is one.
  std::optional<std::chrono::steady_clock::time_point> due() const;
  /// The held-back progress event, if due by `now`.
  std::string flush(std::chrono::steady_clock::time_point now);
  /// The final event, with the final job as `find` answers it.
  std::string done(const job_info& job);
  /// The job reached its final update: `done` comes next.
  bool finished() const noexcept {
    return finished_;
  }

private:
  std::string event(const char* name, const std::string& data, timestamp at,
                    job_state state);
  std::string progress_event(const progress_update& u);

  std::chrono::milliseconds interval_;
  std::optional<job_state> last_state_;
  timestamp last_at_ = 0;
  std::string last_progress_; ///< the data of the last progress event
  std::optional<progress_update> held_;
  std::chrono::steady_clock::time_point last_sent_{};
  bool finished_ = false;
  timestamp final_at_ = 0;
};

} // namespace weft::http
