#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weft {

/// A parsed task version "vX.Y".
struct task_version {
  uint32_t major = 0;
  uint32_t minor = 0;

  friend bool operator==(const task_version&, const task_version&) = default;
};

/// The name and version a task is known by: what runners use to pick the
/// type that decodes and executes a submitted task.
struct task_identifier {
  std::string name;
  std::string version = "v0.0";

  friend bool operator==(const task_identifier&, const task_identifier&)
    = default;
  friend auto operator<=>(const task_identifier&, const task_identifier&)
    = default;
};

/// "name@vX.Y", the form the command line and messages use.
std::string to_string(const task_identifier& id);

/// Parses "vX.Y" (`^v(\d+)\.(\d+)$`, each part fitting 32 bits); throws
/// `weft::error` (invalid_identifier) naming the rule otherwise.
task_version parse_version(std::string_view text);

/// Checks the name (1–256 bytes) and the version; `task_type` names the task
/// in the error message. Throws `weft::error` (invalid_identifier).
void validate_identifier(const task_identifier& id,
                         std::string_view task_type = {});

/// True when a runner holding `runner` may execute a task submitted as
/// `submitted`: same major version, runner minor >= submitted minor.
bool compatible(task_version submitted, task_version runner) noexcept;

} // namespace weft
