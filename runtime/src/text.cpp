#include "weft/text.hpp"

#include "weft/error.hpp"
#include "weft/json.hpp"

namespace weft::text {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

/// The code point of the well-formed `n`-byte sequence at `s[i]`.
char32_t decode(std::string_view s, size_t i, size_t n) noexcept {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  switch (n) {
    case 1: return b(0);
    case 2: return (char32_t{b(0)} & 0x1F) << 6 | (b(1) & 0x3F);
    case 3:
      return (char32_t{b(0)} & 0x0F) << 12 | (char32_t{b(1)} & 0x3F) << 6
             | (b(2) & 0x3F);
    default:
      return (char32_t{b(0)} & 0x07) << 18 | (char32_t{b(1)} & 0x3F) << 12
             | (char32_t{b(2)} & 0x3F) << 6 | (b(3) & 0x3F);
  }
}

void append_hex_byte(std::string& out, unsigned char c) {
  out += "\\x";
  out += hex_digits[c >> 4];
  out += hex_digits[c & 0xF];
}

void append_code_point(std::string& out, char32_t c) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4)
    out += hex_digits[(c >> shift) & 0xF];
}

/// Appends the escaped form of the character at `s[i]`; returns its length.
size_t append_escaped(std::string& out, std::string_view s, size_t i,
                      bool escape_quotes) {
  auto byte = static_cast<unsigned char>(s[i]);
  size_t n = json::detail::utf8_sequence_length(s, i);
  if (n == 0) {
    append_hex_byte(out, byte);
    return 1;
  }
  char32_t c = decode(s, i, n);
  if (escape_quotes && (c == '\\' || c == '"')) {
    out += '\\';
    out += static_cast<char>(c);
  } else if (!is_control(c)) {
    out.append(s.substr(i, n));
  } else if (c == '\n') {
    out += "\\n";
  } else if (c == '\r') {
    out += "\\r";
  } else if (c == '\t') {
    out += "\\t";
  } else if (c < 0x80) {
    append_hex_byte(out, byte);
  } else {
    append_code_point(out, c);
  }
  return n;
}

} // namespace

size_t invalid_utf8_offset(std::string_view s) noexcept {
  return json::detail::invalid_utf8_offset(s);
}

bool is_control(char32_t c) noexcept {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x061C || c == 0x200E
         || c == 0x200F || (c >= 0x2028 && c <= 0x202E)
         || (c >= 0x2066 && c <= 0x2069);
}

size_t control_offset(std::string_view s, bool allow_newline) noexcept {
  for (size_t i = 0; i < s.size();) {
    size_t n = json::detail::utf8_sequence_length(s, i);
    if (n == 0) {
      ++i;
      continue;
    }
    char32_t c = decode(s, i, n);
    if (is_control(c) && !(allow_newline && c == '\n'))
      return i;
    i += n;
  }
  return std::string_view::npos;
}

std::string to_valid_utf8(std::string_view s) {
  if (invalid_utf8_offset(s) == std::string_view::npos)
    return std::string{s};
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    size_t n = json::detail::utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD"; // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();)
    i += append_escaped(out, s, i, true);
  return out;
}

std::string quote(std::string_view s, size_t limit) {
  std::string out = "\"";
  size_t shown = 0;
  size_t i = 0;
  while (i < s.size() && shown < limit) {
    i += append_escaped(out, s, i, true);
    ++shown;
  }
  if (i < s.size())
    return out + "...\" (" + std::to_string(s.size()) + " bytes)";
  return out + "\"";
}

std::string one_line(std::string_view message, size_t limit) {
  std::string out;
  out.reserve(message.size());
  size_t i = 0;
  while (i < message.size() && out.size() < limit)
    i += append_escaped(out, message, i, false);
  if (i < message.size())
    out += "... (" + std::to_string(message.size()) + " bytes)";
  return out;
}

} // namespace weft::text

namespace weft {

namespace {

/// Fails unless `name` is UTF-8 without control characters.
void check_printable(const char* what, std::string_view name) {
  if (auto bad = text::invalid_utf8_offset(name); bad != std::string_view::npos)
    throw error(errc::invalid_argument,
                std::string{what} + " " + text::quote(name)
                  + " is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  if (auto at = text::control_offset(name); at != std::string_view::npos)
    throw error(errc::invalid_argument,
                std::string{what} + " " + text::quote(name)
                  + " contains a control character at byte "
                  + std::to_string(at)
                  + ": names are one line of printable text");
}

} // namespace

void validate_job_name(std::string_view name) {
  if (name.empty() || name.size() > max_job_name_bytes)
    throw error(errc::invalid_argument,
                "a job name must be 1 to " + std::to_string(max_job_name_bytes)
                  + " bytes long, not " + std::to_string(name.size()));
  check_printable("job name", name);
}

void validate_cluster_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= max_cluster_name_bytes;
  for (char c : name)
    ok = ok
         && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
             || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.');
  if (!ok)
    throw error(errc::invalid_argument,
                "cluster name " + text::quote(name) + " is not 1 to "
                  + std::to_string(max_cluster_name_bytes)
                  + " letters, digits, '-', '_' or '.'");
}

std::string clean_display_name(std::string_view display, size_t max_chars) {
  std::string out;
  out.reserve(display.size());
  size_t chars = 0;
  for (size_t i = 0; i < display.size() && chars < max_chars; ++chars) {
    size_t n = json::detail::utf8_sequence_length(display, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (display[i] == '\n')
      out += '\n';
    else
      text::append_escaped(out, display, i, false);
    i += n;
  }
  return out;
}

} // namespace weft
