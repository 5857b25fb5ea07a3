#include "weft/time.hpp"

#include "weft/error.hpp"
#include "weft/text.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace weft {

namespace {

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

} // namespace

timestamp now() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string format_time(timestamp t) {
  std::time_t secs = static_cast<std::time_t>(t / 1'000'000'000);
  auto millis = static_cast<int>((t / 1'000'000) % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, millis);
  return buf;
}

timestamp parse_time(std::string_view text) {
  auto bad = [&](const std::string& why) {
    // The input is quoted and cut: it may be long or hold control
    // characters, and the message must stay one readable line.
    return error(errc::invalid_argument,
                 "time " + text::quote(text, 24) + " " + why
                   + ": write a UTC time such as 2026-11-22 or "
                     "2026-11-22T10:30:00Z");
  };
  static constexpr std::string_view date_form = "dddd-dd-dd";
  static constexpr std::string_view time_form = "dddd-dd-ddTdd:dd:ddZ";
  const auto form = text.size() == date_form.size() ? date_form : time_form;
  bool shaped = text.size() == form.size();
  for (size_t i = 0; shaped && i < form.size(); ++i)
    shaped
      = form[i] == 'd' ? text[i] >= '0' && text[i] <= '9' : text[i] == form[i];
  if (!shaped)
    throw bad("is not a time");
  // Only digits are left at these places, so no parse can fail.
  auto number = [&](size_t at, size_t len) {
    unsigned n = 0;
    for (size_t i = at; i < at + len; ++i)
      n = n * 10 + static_cast<unsigned>(text[i] - '0');
    return n;
  };
  unsigned year = number(0, 4);
  unsigned month = number(5, 2);
  unsigned day = number(8, 2);
  static constexpr const char* months[]
    = {"January", "February", "March",     "April",   "May",      "June",
       "July",    "August",   "September", "October", "November", "December"};
  if (month < 1 || month > 12)
    throw bad("has no month " + std::to_string(month));
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  static constexpr unsigned days_in[]
    = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  unsigned last = days_in[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day < 1 || day > last)
    throw bad("is not a date (" + std::string{months[month - 1]} + " "
              + std::to_string(year) + " has " + std::to_string(last)
              + " days)");
  unsigned hour = 0, minute = 0, second = 0;
  if (text.size() == time_form.size()) {
    hour = number(11, 2);
    minute = number(14, 2);
    second = number(17, 2);
    if (hour > 23 || minute > 59 || second > 59)
      throw bad("has no such time of day (00:00:00 to 23:59:59)");
  }
  // Timestamps are nanoseconds since 1970 in 64 bits: 1970 to 2262.
  if (year < 1970 || year > 2261)
    throw bad("is outside the years 1970 to 2261");
  int64_t seconds = days_from_civil(year, month, day) * 86'400 + hour * 3600
                    + minute * 60 + second;
  return seconds * 1'000'000'000;
}

} // namespace weft
