#include <catch2/catch.hpp>

#include "weft/actors/messages.hpp"

#include <caf/all.hpp>

// What travels between nodes survives CAF's binary format: optional members
// keep "absent" apart from any value.

namespace {

template <class T>
T round_trip(const T& x) {
  caf::binary_serializer::container_type buf;
  caf::binary_serializer sink{nullptr, buf};
  auto copy = x;
  REQUIRE_FALSE(sink(copy));
  T result;
  caf::binary_deserializer source{nullptr, buf};
  REQUIRE_FALSE(source(result));
  return result;
}

} // namespace

TEST_CASE("messages: a progress update keeps absent and present estimates",
          "[messages]") {
  weft::progress_update u;
  u.job_id = "j";
  u.items.push_back({3, "file", weft::task_state::running, 42.5, 30.0});
  u.items.push_back(
    {4, "other", weft::task_state::queued, std::nullopt, std::nullopt});
  SECTION("absent") {
    auto v = round_trip(u);
    CHECK_FALSE(v.percent);
    CHECK_FALSE(v.raw_percent);
    CHECK_FALSE(v.eta_ns);
    REQUIRE(v.items.size() == 2);
    CHECK(v.items[0].percent == 42.5);
    CHECK(v.items[0].raw_percent == 30.0);
    CHECK_FALSE(v.items[1].percent);
    CHECK_FALSE(v.items[1].raw_percent);
  }
  SECTION("shown and estimate apart") {
    u.percent = 58.3;
    u.raw_percent = 41.0;
    auto v = round_trip(u);
    CHECK(v.percent == 58.3);
    CHECK(v.raw_percent == 41.0);
    CHECK(v.items[0].percent == 42.5);
    CHECK(v.items[0].raw_percent == 30.0);
  }
  SECTION("present, including zero") {
    u.percent = 0.0;
    u.eta_ns = 0;
    auto v = round_trip(u);
    CHECK(v.percent == 0.0);
    CHECK(v.eta_ns == 0);
  }
  SECTION("present") {
    u.percent = 99.9;
    u.eta_ns = 1'500'000'000;
    u.final = true;
    auto v = round_trip(u);
    CHECK(v.percent == 99.9);
    CHECK(v.eta_ns == 1'500'000'000);
    CHECK(v.final);
    CHECK(v.job_id == "j");
  }
  SECTION("as text") {
    u.percent = 50.0;
    auto text = caf::deep_to_string(u);
    CHECK(text.find("50") != std::string::npos);
  }
}
