#include "weft/identifier.hpp"

#include "weft/error.hpp"
#include "weft/text.hpp"

#include <charconv>

namespace weft {

std::string to_string(const task_identifier& id) {
  return id.name + "@" + id.version;
}

namespace {

constexpr const char* version_rule
  = "a version must match ^v(\\d+)\\.(\\d+)$, e.g. v1.3";

/// Parses "vX.Y"; returns what is wrong with it, or empty.
std::string try_parse_version(std::string_view text, task_version& out) {
  auto dot = text.find('.');
  if (text.size() < 4 || text[0] != 'v' || dot == std::string_view::npos)
    return "invalid version " + text::quote(text) + ": " + version_rule;
  for (auto [part, field] : {std::pair{text.substr(1, dot - 1), &out.major},
                             std::pair{text.substr(dot + 1), &out.minor}}) {
    bool digits
      = !part.empty()
        && part.find_first_not_of("0123456789") == std::string_view::npos;
    if (!digits)
      return "invalid version " + text::quote(text) + ": " + version_rule;
    auto [ptr, ec]
      = std::from_chars(part.data(), part.data() + part.size(), *field);
    if (ec == std::errc::result_out_of_range)
      return "version number "
             + (part.size() > 20 ? std::string{part.substr(0, 20)} + "..."
                                 : std::string{part})
             + " in " + text::quote(text) + " is too large (max "
             + std::to_string(UINT32_MAX) + ")";
  }
  return {};
}

} // namespace

task_version parse_version(std::string_view text) {
  task_version result;
  if (auto why = try_parse_version(text, result); !why.empty())
    throw error(errc::invalid_identifier, why);
  return result;
}

void validate_identifier(const task_identifier& id,
                         std::string_view task_type) {
  std::string who = task_type.empty() ? "task " + text::quote(id.name)
                                      : "task type " + std::string{task_type};
  if (id.name.empty() || id.name.size() > 256)
    throw error(errc::invalid_identifier,
                who + ": identifier name must be 1 to 256 bytes long, not "
                  + std::to_string(id.name.size()));
  if (text::invalid_utf8_offset(id.name) != std::string::npos
      || text::control_offset(id.name) != std::string::npos)
    throw error(errc::invalid_identifier,
                who
                  + ": identifier name must be UTF-8 without control "
                    "characters");
  task_version ignored;
  if (auto why = try_parse_version(id.version, ignored); !why.empty())
    throw error(errc::invalid_identifier, who + ": " + why);
}

bool compatible(task_version submitted, task_version runner) noexcept {
  return submitted.major == runner.major && runner.minor >= submitted.minor;
}

} // namespace weft
