// weft::parse_time and utc_time: the times a query takes as text.

#include "weft/error.hpp"
#include "weft/job.hpp"
#include "weft/time.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace {

constexpr weft::timestamp day_ns = 86'400LL * 1'000'000'000;

/// The message of what `parse_time` throws; fails the test if it accepts.
std::string refusal(const std::string& text) {
  try {
    weft::parse_time(text);
  } catch (const weft::error& e) {
    CHECK(e.code() == weft::errc::invalid_argument);
    std::string what = e.what();
    CHECK(what.find('\n') == std::string::npos);
    return what;
  }
  FAIL("parse_time accepted " << text);
  return {};
}

} // namespace

TEST_CASE("time: parse_time reads dates and UTC times") {
  CHECK(weft::parse_time("1970-01-01") == 0);
  CHECK(weft::parse_time("1970-01-02") == day_ns);
  CHECK(weft::parse_time("1970-01-01T00:00:01Z") == 1'000'000'000);
  CHECK(weft::parse_time("2025-01-01") == 1'735'689'600LL * 1'000'000'000);
  CHECK(weft::parse_time("2026-11-22T10:30:00Z")
        == weft::parse_time("2026-11-22")
             + (10 * 3600 + 30 * 60) * 1'000'000'000LL);
  CHECK(weft::parse_time("2025-12-31T23:59:59Z")
        == weft::parse_time("2026-01-01") - 1'000'000'000);
  // Leap years: every fourth, not every hundredth, every four hundredth.
  CHECK(weft::parse_time("2024-02-29")
        == weft::parse_time("2024-03-01") - day_ns);
  CHECK(weft::parse_time("2000-02-29")
        == weft::parse_time("2000-03-01") - day_ns);
  // The bounds of 64-bit nanoseconds.
  CHECK(weft::parse_time("2261-12-31T23:59:59Z") > 0);
  // What format_time writes, cut to seconds, reads back.
  auto t = weft::parse_time("2026-11-22T09:31:05Z");
  CHECK(weft::format_time(t) == "2026-11-22T09:31:05.000Z");
}

TEST_CASE("time: parse_time refuses what is not a date or a time") {
  CHECK_THAT(refusal("2025-02-29"),
             Catch::Contains("\"2025-02-29\" is not a date (February 2025 has "
                             "28 days)"));
  CHECK_THAT(refusal("2100-02-29"), Catch::Contains("February 2100 has 28"));
  CHECK_THAT(refusal("2026-02-30"), Catch::Contains("February 2026 has 28"));
  CHECK_THAT(refusal("2026-04-31"), Catch::Contains("April 2026 has 30"));
  CHECK_THAT(refusal("2026-01-00"), Catch::Contains("is not a date"));
  CHECK_THAT(refusal("2026-13-01"), Catch::Contains("no month 13"));
  CHECK_THAT(refusal("2026-00-01"), Catch::Contains("no month 0"));
  CHECK_THAT(refusal("2026-11-22T24:00:00Z"),
             Catch::Contains("no such time of day"));
  CHECK_THAT(refusal("2026-11-22T23:60:00Z"),
             Catch::Contains("no such time of day"));
  CHECK_THAT(refusal("2026-11-22T23:59:60Z"),
             Catch::Contains("no such time of day"));
  for (const char* shapeless :
       {"", "2026-11-22T10:30:00", "2026-11-22 10:30:00Z", "26-11-22",
        "2026-1-22", "2026/11/22", "2026-11-22T10:30Z", "2026-11-22Z",
        "2026-11-22T10:30:00.123Z", "2026-11-22T10:30:00+01:00", " 2026-11-22",
        "yesterday"})
    CHECK_THAT(refusal(shapeless), Catch::Contains("is not a time"));
  CHECK_THAT(refusal("1969-12-31"), Catch::Contains("outside the years 1970"));
  CHECK_THAT(refusal("2262-01-01"), Catch::Contains("outside the years"));
  // The input is named, escaped, and cut when long.
  CHECK_THAT(refusal("2026-11-22\n"), Catch::Contains(R"("2026-11-22\n")"));
  auto long_input = refusal(std::string(5000, '9'));
  CHECK(long_input.size() < 300);
  CHECK_THAT(long_input, Catch::Contains("5000 bytes"));
}

TEST_CASE("time: a query takes its bounds as text or as nanoseconds") {
  weft::job_query q{.from = "2025-01-01", .to = "2025-02-01"};
  CHECK(q.from.ns == weft::parse_time("2025-01-01"));
  CHECK(q.to.ns == weft::parse_time("2025-02-01"));
  auto between = weft::job_query::between("2025-01-01", "2025-02-01T00:00:00Z");
  CHECK(between.from.ns == q.from.ns);
  CHECK(between.to.ns == q.to.ns);
  std::string text = "2024-02-29T12:00:00Z";
  weft::job_query s{.from = text};
  CHECK(s.from.ns == weft::parse_time(text));
  CHECK(s.to.ns == 0);
  weft::timestamp ns = 12345;
  weft::job_query n{.from = ns, .to = 0};
  CHECK(n.from == 12345);
  CHECK(n.to.ns == 0);
  CHECK_THROWS_AS(weft::job_query{.from = "2025-02-29"}, weft::error);
  CHECK_THROWS_AS(weft::job_query::between("2025-01-01", "2025-13-01"),
                  weft::error);
}
