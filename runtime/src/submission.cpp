#include "weft/core/submission.hpp"

#include "weft/error.hpp"
#include "weft/json.hpp"

#include <string>

namespace weft::core {

void check_input_size(const task_identifier& id, size_t size,
                      size_t max_input_bytes, std::string_view role) {
  if (size <= max_input_bytes)
    return;
  throw error(errc::input_too_large,
              "input of " + std::string{role} + to_string(id) + " is "
                + std::to_string(size) + " bytes, above the limit of "
                + std::to_string(max_input_bytes)
                + " bytes: pass large data through the job cache instead");
}

void validate_submission(const task_identifier& id, std::string_view input,
                         size_t max_input_bytes, std::string_view role) {
  validate_identifier(id);
  check_input_size(id, input.size(), max_input_bytes, role);
  try {
    json::parse_input(input);
  } catch (const error& e) {
    throw error(e.code(), "input of " + std::string{role} + to_string(id) + ": "
                            + e.what());
  }
}

} // namespace weft::core
