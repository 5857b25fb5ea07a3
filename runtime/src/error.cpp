#include "weft/error.hpp"

namespace weft {

const char* to_string(errc code) noexcept {
  switch (code) {
    case errc::none: return "none";
    case errc::invalid_identifier: return "invalid_identifier";
    case errc::duplicate_task: return "duplicate_task";
    case errc::unknown_task: return "unknown_task";
    case errc::incompatible_version: return "incompatible_version";
    case errc::invalid_input: return "invalid_input";
    case errc::input_too_large: return "input_too_large";
    case errc::invalid_argument: return "invalid_argument";
    case errc::missing_key: return "missing_key";
    case errc::unknown_job: return "unknown_job";
    case errc::io_error: return "io_error";
    case errc::timeout: return "timeout";
    case errc::not_running: return "not_running";
    case errc::invalid_state: return "invalid_state";
    case errc::bad_data: return "bad_data";
    case errc::data_in_use: return "data_in_use";
    case errc::unknown_cluster: return "unknown_cluster";
    case errc::already_exists: return "already_exists";
    case errc::unreachable: return "unreachable";
    case errc::refused: return "refused";
  }
  return "unknown";
}

} // namespace weft
