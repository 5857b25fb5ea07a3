#pragma once

// Text that crosses a trust boundary: names users give, inputs echoed in
// error messages, strings written as JSON. One set of rules for the client,
// the command line and the orchestrator, so that a remote client cannot
// store what the command line would refuse.

#include <cstddef>
#include <string>
#include <string_view>

namespace weft::text {

/// How many characters of an echoed input an error message shows.
inline constexpr size_t echo_limit = 80;

/// Offset of the first byte that is not well-formed UTF-8 (overlong forms,
/// surrogates and code points above U+10FFFF included), or npos.
size_t invalid_utf8_offset(std::string_view s) noexcept;

/// True for code points that move the cursor, end a line or reorder text
/// on a terminal: C0 controls, DEL, C1 controls, U+2028/U+2029 and the
/// bidirectional formatting characters (U+061C, U+200E, U+200F,
/// U+202A-U+202E, U+2066-U+2069).
bool is_control(char32_t c) noexcept;

/// Where the first control character of `s` starts, or npos; `allow_newline`
/// lets '\n' pass. Bytes that are not UTF-8 are skipped, not reported.
size_t control_offset(std::string_view s, bool allow_newline = false) noexcept;

/// `s` with every byte that is not UTF-8 replaced by U+FFFD: what JSON
/// output may always contain.
std::string to_valid_utf8(std::string_view s);

/// `s` as one printable line: control characters as \n, \r, \t, \xNN (C0,
/// DEL) or \uXXXX, bytes that are not UTF-8 as \xNN, and '\\' and '"' as
/// \\ and \" so that the result reads back unambiguously inside quotes.
std::string escape(std::string_view s);

/// `s` escaped and in double quotes, cut after `limit` characters with the
/// full size noted: "abc..." (5000 bytes). For echoing user input.
std::string quote(std::string_view s, size_t limit = echo_limit);

/// A message made safe for one terminal line: control characters and bytes
/// that are not UTF-8 are escaped (backslashes are left alone, since the
/// message's own echoes are already escaped), and past `limit` bytes it is
/// cut with its size noted. The last line of defence for error output.
std::string one_line(std::string_view message, size_t limit = 1000);

} // namespace weft::text

namespace weft {

/// Longest job name, in bytes.
inline constexpr size_t max_job_name_bytes = 1024;
/// Longest cluster name, in bytes.
inline constexpr size_t max_cluster_name_bytes = 64;

/// Throws `weft::error` (invalid_argument) unless `name` is 1 to 1024 bytes
/// of UTF-8 without control characters (see `text::is_control`).
void validate_job_name(std::string_view name);

/// Throws `weft::error` (invalid_argument) unless `name` is 1 to 64
/// letters, digits, '-', '_' or '.'. The message states the rule.
void validate_cluster_name(std::string_view name);

/// A display name as it is stored: its first `max_chars` characters (Unicode
/// code points, as the reference counts them), bytes that are not UTF-8 as
/// U+FFFD, control characters other than '\n' shown escaped (\x1b).
std::string clean_display_name(std::string_view display, size_t max_chars);

} // namespace weft
