#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace weft {

/// What went wrong, as a class a caller can act on. The same codes travel
/// between actors, and between nodes, as `caf::error` values of the "weft"
/// category: a code is its number on the wire, so the values are pinned
/// (like CAF's `sec`). If you add a value:
/// - append it with the next number; never renumber, reorder or reuse one;
/// - add its `static_assert` below and its name in runtime/src/error.cpp;
/// - a node that does not know it yet shows it as "unknown": say in the
///   message what it means.
enum class errc : uint8_t {
  none = 0,
  invalid_identifier = 1,   ///< a task name or version breaks the rules
  duplicate_task = 2,       ///< a registry already holds this (name, version)
  unknown_task = 3,         ///< no registered task matches the identifier
  incompatible_version = 4, ///< the runner's version cannot run the submission
  invalid_input = 5,        ///< JSON not decodable into the task's fields
  input_too_large = 6,      ///< an input above the configured byte limit
  invalid_argument = 7,     ///< an API argument breaks a documented limit
  missing_key = 8,          ///< a job cache key that was never written
  unknown_job = 9,          ///< no job with that id
  io_error = 10,            ///< the file system refused an operation
  timeout = 11,             ///< a blocking call ran out of time
  not_running = 12,         ///< the orchestrator or runner is stopped
  invalid_state = 13,       ///< the operation does not apply in this state
  bad_data = 14,            ///< stored data is corrupt, foreign or too new
  data_in_use = 15,         ///< another process holds the data directory
  unknown_cluster = 16,     ///< no cluster with that name
  already_exists = 17,      ///< a cluster with that name exists
  unreachable = 18,         ///< no connection to the orchestrator
  refused = 19,             ///< the peer refused: protocol, certificate, state
};

static_assert(static_cast<uint8_t>(errc::none) == 0);
static_assert(static_cast<uint8_t>(errc::invalid_identifier) == 1);
static_assert(static_cast<uint8_t>(errc::duplicate_task) == 2);
static_assert(static_cast<uint8_t>(errc::unknown_task) == 3);
static_assert(static_cast<uint8_t>(errc::incompatible_version) == 4);
static_assert(static_cast<uint8_t>(errc::invalid_input) == 5);
static_assert(static_cast<uint8_t>(errc::input_too_large) == 6);
static_assert(static_cast<uint8_t>(errc::invalid_argument) == 7);
static_assert(static_cast<uint8_t>(errc::missing_key) == 8);
static_assert(static_cast<uint8_t>(errc::unknown_job) == 9);
static_assert(static_cast<uint8_t>(errc::io_error) == 10);
static_assert(static_cast<uint8_t>(errc::timeout) == 11);
static_assert(static_cast<uint8_t>(errc::not_running) == 12);
static_assert(static_cast<uint8_t>(errc::invalid_state) == 13);
static_assert(static_cast<uint8_t>(errc::bad_data) == 14);
static_assert(static_cast<uint8_t>(errc::data_in_use) == 15);
static_assert(static_cast<uint8_t>(errc::unknown_cluster) == 16);
static_assert(static_cast<uint8_t>(errc::already_exists) == 17);
static_assert(static_cast<uint8_t>(errc::unreachable) == 18);
static_assert(static_cast<uint8_t>(errc::refused) == 19);

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
