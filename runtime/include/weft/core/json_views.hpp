#pragma once

// The JSON form of what the orchestrator answers: one shape for
// `weft ... --json` and the HTTP API (docs/http.md).

#include "weft/job.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace weft::core {

/// A job as `weft job --json` prints it and `GET /api/v1/jobs/{id}` answers.
boost::json::object to_json(const job_info& job);
/// A cluster with its runners, what waits in it and what nobody serves.
boost::json::object to_json(const cluster_info& c);
/// A progress update as `weft watch --json` prints it.
boost::json::object to_json(const progress_update& u);
/// A task with its attempts, logs and spans.
boost::json::object to_json(const task_info& t);

/// Replaces bytes that are not UTF-8 in every string and key: JSON output
/// must be valid UTF-8 even for names and labels stored by older releases.
void make_valid_utf8(boost::json::value& v);

} // namespace weft::core
