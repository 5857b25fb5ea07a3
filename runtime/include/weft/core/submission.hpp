#pragma once

// What every submission of a task checks, wherever it is made: the client
// before sending, the job service on arrival (a remote client may be any
// program), and a task's context for its subtasks. One rule, one text.

#include "weft/identifier.hpp"

#include <cstddef>
#include <string_view>

namespace weft::core {

/// Throws `input_too_large` when `size` exceeds `max_input_bytes`. `role`
/// prefixes the task in the message ("subtask " or empty for a root).
void check_input_size(const task_identifier& id, size_t size,
                      size_t max_input_bytes, std::string_view role = {});

/// The identifier is valid, the input within `max_input_bytes` and a JSON
/// object (size first: parsing a huge text only to refuse it is waste).
/// Throws `weft::error` naming the task.
void validate_submission(const task_identifier& id, std::string_view input,
                         size_t max_input_bytes, std::string_view role);

/// A root task of a job, as the client and the job service check it.
inline void validate_root(const task_identifier& id, std::string_view input,
                          size_t max_input_bytes) {
  validate_submission(id, input, max_input_bytes, {});
}

} // namespace weft::core
