#pragma once

#include "weft/job.hpp"

#include <string>
#include <vector>

namespace weft {

/// How `render_svg` draws a job.
struct render_options {
  /// Above this many tasks, tasks with the same identifier and state whose
  /// parents were drawn as one node are drawn as one node with a count.
  size_t collapse_threshold = 200;
};

/// The fill colour of a state in pictures ("#rrggbb").
const char* state_color(task_state state) noexcept;

/// An SVG picture of a job laid out by Graphviz (dot): one node per task
/// with its display name and a colour per state, solid edges from parent to
/// subtask, dashed edges from a dependency to its dependent, the job's name
/// and state in the title and a legend of the states. Large jobs collapse
/// (see `render_options`). Throws `weft::error` (invalid_state) if Graphviz
/// fails.
std::string render_svg(const job_info& job, const std::vector<task_info>& tasks,
                       const render_options& options = {});

} // namespace weft
