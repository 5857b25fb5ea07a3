#pragma once

#include "weft/identifier.hpp"
#include "weft/job.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace weft::core {

using task_index = uint32_t;
inline constexpr task_index no_task = UINT32_MAX;

/// A task to add: a root at submission, or a subtask of a finished attempt.
struct task_submission {
  task_identifier identifier;
  std::string input;                ///< JSON
  std::string cluster;              ///< empty: the parent's (or job's) cluster
  std::vector<uint32_t> depends_on; ///< earlier positions in the same batch
  uint32_t max_retries = 0;
  bool optional = false;
};

/// What one finished execution reports.
struct attempt_outcome {
  bool succeeded = false;
  std::string error;
  std::vector<task_submission> subtasks;
  std::vector<progress_indicator> progress; ///< this execution's totals
  std::string display;
  std::vector<log_record> logs;
  std::vector<span_record> spans;
  timestamp started = 0;
  timestamp stopped = 0;
  std::string runner;
};

} // namespace weft::core
