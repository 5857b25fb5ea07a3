#include "weft/job.hpp"

namespace weft {

namespace {

constexpr const char* task_state_names[] = {
  "QUEUED",   "RUNNING",         "COMPUTED", "FAILED",
  "CANCELED", "FAILED_OPTIONAL", "SKIPPED",
};

constexpr const char* job_state_names[] = {
  "SUBMITTED", "RUNNING", "STARTED", "COMPLETED", "FAILED", "CANCELED",
};

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto x = a[i] >= 'a' && a[i] <= 'z' ? a[i] - 32 : a[i];
    auto y = b[i] >= 'a' && b[i] <= 'z' ? b[i] - 32 : b[i];
    if (x != y)
      return false;
  }
  return true;
}

} // namespace

const char* to_string(task_state state) noexcept {
  return task_state_names[static_cast<size_t>(state)];
}

const char* to_string(job_state state) noexcept {
  return job_state_names[static_cast<size_t>(state)];
}

std::optional<task_state> parse_task_state(std::string_view text) noexcept {
  for (size_t i = 0; i < task_state_count; ++i)
    if (iequals(text, task_state_names[i]))
      return static_cast<task_state>(i);
  return std::nullopt;
}

std::optional<job_state> parse_job_state(std::string_view text) noexcept {
  for (size_t i = 0; i < job_state_count; ++i)
    if (iequals(text, job_state_names[i]))
      return static_cast<job_state>(i);
  return std::nullopt;
}

bool is_final(job_state state) noexcept {
  return state == job_state::completed || state == job_state::failed
         || state == job_state::canceled;
}

} // namespace weft
