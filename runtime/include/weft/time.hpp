#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace weft {

/// Nanoseconds since the Unix epoch; 0 means "not yet".
using timestamp = int64_t;

/// The time now.
timestamp now() noexcept;

/// "2026-11-22T09:31:05.123Z"
std::string format_time(timestamp t);

/// Reads a UTC time as people write one: `YYYY-MM-DD` (midnight) or
/// `YYYY-MM-DDTHH:MM:SSZ`. The date is checked against the Gregorian
/// calendar (2024-02-29 is a date, 2025-02-29 is not), the time of day runs
/// from 00:00:00 to 23:59:59, and the year from 1970 to 2261 (what 64 bits
/// of nanoseconds hold). Throws `weft::error` (invalid_argument) with one
/// line that quotes the input and says what is wrong with it.
timestamp parse_time(std::string_view text);

/// A point in time as a query bound: nanoseconds, or text that
/// `parse_time` reads. Converting from text validates it at once, so that
/// `{.from = "2025-01-01", .to = "2025-02-01"}` throws where it is written
/// rather than in the orchestrator; 0 (the default) means "no bound".
struct utc_time {
  timestamp ns = 0;

  constexpr utc_time() noexcept = default;

  /// Nanoseconds since the Unix epoch, as `now()` and `job_info` give them.
  constexpr utc_time(timestamp t) noexcept : ns(t) {
  }

  /// Text such as "2025-01-01" or "2025-01-01T10:30:00Z"; throws
  /// `weft::error` (invalid_argument) as `parse_time` does. A template so
  /// that the literal 0 picks the nanosecond constructor, not `const char*`.
  template <class Text>
  requires std::convertible_to<const Text&, std::string_view> &&(
    !std::is_arithmetic_v<Text>)utc_time(const Text& text)
      : ns(parse_time(std::string_view{text})) {
  }

  constexpr operator timestamp() const noexcept {
    return ns;
  }
};

} // namespace weft
