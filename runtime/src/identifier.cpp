#include "weft/identifier.hpp"

#include "weft/error.hpp"

#include <charconv>

namespace weft {

std::string to_string(const task_identifier& id) {
  return id.name + "@" + id.version;
}

namespace {

bool parse_number(std::string_view text, uint32_t& out) {
  if (text.empty())
    return false;
  for (char c : text)
    if (c < '0' || c > '9')
      return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && ptr == text.data() + text.size();
}

bool try_parse_version(std::string_view text, task_version& out) {
  if (text.size() < 4 || text[0] != 'v')
    return false;
  auto dot = text.find('.');
  if (dot == std::string_view::npos)
    return false;
  return parse_number(text.substr(1, dot - 1), out.major)
         && parse_number(text.substr(dot + 1), out.minor);
}

} // namespace

task_version parse_version(std::string_view text) {
  task_version result;
  if (!try_parse_version(text, result))
    throw error(errc::invalid_identifier,
                "invalid task version '" + std::string{text}
                  + "': a version must match ^v(\\d+)\\.(\\d+)$, e.g. v1.3, "
                    "each number fitting 32 bits");
  return result;
}

void validate_identifier(const task_identifier& id, std::string_view task_type) {
  std::string who = task_type.empty() ? "task '" + id.name + "'"
                                      : "task type " + std::string{task_type};
  if (id.name.empty() || id.name.size() > 256)
    throw error(errc::invalid_identifier,
                who + ": identifier name must be 1 to 256 bytes long, got "
                  + std::to_string(id.name.size()));
  task_version ignored;
  if (!try_parse_version(id.version, ignored))
    throw error(errc::invalid_identifier,
                who + ": invalid version '" + id.version
                  + "': a version must match ^v(\\d+)\\.(\\d+)$, e.g. v1.3");
}

bool compatible(task_version submitted, task_version runner) noexcept {
  return submitted.major == runner.major && runner.minor >= submitted.minor;
}

bool compatible(const task_identifier& submitted,
                const task_identifier& runner) noexcept {
  task_version s;
  task_version r;
  return submitted.name == runner.name
         && try_parse_version(submitted.version, s)
         && try_parse_version(runner.version, r) && compatible(s, r);
}

} // namespace weft
