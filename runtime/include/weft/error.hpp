#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace weft {

/// What went wrong, as a class a caller can act on. The same codes travel
/// between actors as `caf::error` values of the "weft" category.
enum class errc : uint8_t {
  none = 0,
  invalid_identifier,   ///< a task name or version breaks the rules
  duplicate_task,       ///< a registry already holds this (name, version)
  unknown_task,         ///< no registered task matches the identifier
  incompatible_version, ///< the runner's version cannot run the submission
  invalid_input,        ///< JSON that does not decode into the task's fields
  input_too_large,      ///< an input above the configured byte limit
  invalid_argument,     ///< an API argument breaks a documented limit
  missing_key,          ///< a job cache key that was never written
  unknown_job,          ///< no job with that id
  io_error,             ///< the file system refused an operation
  timeout,              ///< a blocking call ran out of time
  not_running,          ///< the orchestrator or runner is stopped
  invalid_state,        ///< the operation does not apply in this state
  bad_data,             ///< stored data is corrupt, foreign or too new
  data_in_use,          ///< another process holds the data directory
  unknown_cluster,      ///< no cluster with that name
  already_exists,       ///< a cluster with that name exists
  unreachable,          ///< no connection to the orchestrator
  refused,              ///< the peer refused: protocol, certificate, state
};

/// Human-readable name of a code, e.g. "invalid_input".
const char* to_string(errc code) noexcept;

/// The exception thrown by weft's blocking API and by SDK calls made inside
/// `execute` (where it becomes a failed attempt with this message).
class error : public std::runtime_error {
public:
  error(errc code, const std::string& message)
    : std::runtime_error(message), code_(code) {
  }

  errc code() const noexcept {
    return code_;
  }

private:
  errc code_;
};

} // namespace weft
