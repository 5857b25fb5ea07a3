// The JSON codec of task inputs: round trips and clear errors.

#include "weft/json.hpp"

#include <catch2/catch.hpp>

#include <limits>

namespace json_test {

struct point {
  double x = 0;
  double y = 0;
  friend bool operator==(const point&, const point&) = default;
};
BOOST_DESCRIBE_STRUCT(point, (), (x, y))

struct item {
  std::string name;
  int32_t count = 0;
  std::optional<point> where;
  friend bool operator==(const item&, const item&) = default;
};
BOOST_DESCRIBE_STRUCT(item, (), (name, count, where))

struct everything {
  std::string text;
  bool flag = false;
  int8_t small = 0;
  uint8_t byte = 0;
  int64_t big = 0;
  uint64_t huge = 0;
  float ratio = 0;
  double precise = 0;
  std::optional<std::string> maybe;
  std::optional<int> absent;
  std::vector<std::string> tags;
  std::vector<item> items;
  std::map<std::string, std::vector<int>> groups;
  std::unordered_map<std::string, point> places;
  boost::json::value raw;
  friend bool operator==(const everything&, const everything&) = default;
};
BOOST_DESCRIBE_STRUCT(everything, (),
                      (text, flag, small, byte, big, huge, ratio, precise,
                       maybe, absent, tags, items, groups, places, raw))

struct with_int {
  int value = 0;
};
BOOST_DESCRIBE_STRUCT(with_int, (), (value))

struct with_byte {
  uint8_t value = 0;
};
BOOST_DESCRIBE_STRUCT(with_byte, (), (value))

struct with_items {
  std::vector<item> items;
};
BOOST_DESCRIBE_STRUCT(with_items, (), (items))

struct with_double {
  double value = 0;
};
BOOST_DESCRIBE_STRUCT(with_double, (), (value))

struct empty_task {};
BOOST_DESCRIBE_STRUCT(empty_task, (), ())

} // namespace json_test

using namespace json_test;
using weft::errc;

namespace {

/// The error a decode raises, checked to be invalid_input.
template <class T>
std::string decode_error(std::string_view text) {
  try {
    weft::json::decode<T>(text);
  } catch (const weft::error& e) {
    CHECK(e.code() == errc::invalid_input);
    return e.what();
  }
  FAIL("decoded without error: " << text);
  return {};
}

} // namespace

TEST_CASE("json: every supported type round-trips") {
  everything x;
  x.text = "grüße, 世界 \"quoted\" \n newline";
  x.flag = true;
  x.small = -128;
  x.byte = 255;
  x.big = std::numeric_limits<int64_t>::min();
  x.huge = std::numeric_limits<uint64_t>::max();
  x.ratio = 0.5f;
  x.precise = 3.141592653589793;
  x.maybe = "here";
  x.tags = {"a", "", "c"};
  x.items = {{"one", 1, point{1.5, -2}}, {"two", 2, std::nullopt}};
  x.groups = {{"odd", {1, 3, 5}}, {"none", {}}};
  x.places = {{"home", {0, 0}}, {"work", {10.25, 20}}};
  x.raw = boost::json::parse(R"({"free":["form",1,null]})");
  auto text = weft::json::encode(x);
  auto back = weft::json::decode<everything>(text);
  CHECK(back == x);
  CHECK(boost::json::parse(weft::json::encode(back)) == boost::json::parse(text));

  x.big = std::numeric_limits<int64_t>::max();
  CHECK(weft::json::decode<everything>(weft::json::encode(x)).big == x.big);
}

TEST_CASE("json: encoding keeps declaration order and writes null") {
  item i{"n", 3, std::nullopt};
  CHECK(weft::json::encode(i) == R"({"name":"n","count":3,"where":null})");
  CHECK(weft::json::encode(empty_task{}) == "{}");
  CHECK_NOTHROW(weft::json::decode<empty_task>("{}"));
  CHECK_THAT(decode_error<empty_task>(R"({"x":1})"),
             Catch::Contains("known fields: none"));
}

TEST_CASE("json: optional fields may be missing or null") {
  auto i = weft::json::decode<item>(R"({"name":"n","count":1})");
  CHECK_FALSE(i.where.has_value());
  i = weft::json::decode<item>(R"({"name":"n","count":1,"where":null})");
  CHECK_FALSE(i.where.has_value());
}

TEST_CASE("json: integers accept exact floats and check their range") {
  CHECK(weft::json::decode<with_int>(R"({"value":3.0})").value == 3);
  CHECK(weft::json::decode<with_double>(R"({"value":3})").value == 3.0);
  CHECK_THAT(decode_error<with_byte>(R"({"value":300})"),
             Catch::Contains("field 'value'")
               && Catch::Contains("out of range"));
  CHECK_THAT(decode_error<with_byte>(R"({"value":-1})"),
             Catch::Contains("out of range"));
  CHECK_THAT(decode_error<with_int>(R"({"value":1.5})"),
             Catch::Contains("field 'value'") && Catch::Contains("fraction"));
  CHECK_THAT(decode_error<with_int>(R"({"value":99999999999})"),
             Catch::Contains("out of range"));
}

TEST_CASE("json: malformed text says where") {
  CHECK_THAT(decode_error<item>(R"({"name": "n", )"),
             Catch::Contains("malformed JSON at offset"));
  CHECK_THAT(decode_error<item>("{} trailing"),
             Catch::Contains("malformed JSON"));
  CHECK_THAT(decode_error<item>(""), Catch::Contains("malformed JSON"));
}

TEST_CASE("json: a wrong type names the nested field") {
  CHECK_THAT(
    decode_error<with_items>(
      R"({"items":[{"name":"a","count":1},{"name":"b","count":2,"where":{"x":1,"y":"up"}}]})"),
    Catch::Contains("field 'items[1].where.y': expected number, got string"));
  CHECK_THAT(decode_error<everything>(
               R"({"text":"","flag":false,"small":0,"byte":0,"big":0,"huge":0,
                   "ratio":0,"precise":0,"tags":[],"items":[],
                   "groups":{"g":[1,"x"]},"places":{},"raw":null})"),
             Catch::Contains("field 'groups[\"g\"][1]': expected integer"));
}

TEST_CASE("json: missing and unknown fields are errors") {
  CHECK_THAT(decode_error<item>(R"({"name":"n"})"),
             Catch::Contains("field 'count': missing"));
  CHECK_THAT(decode_error<item>(R"({"name":"n","count":1,"cuont":2})"),
             Catch::Contains("field 'cuont': unknown field")
               && Catch::Contains("name, count, where"));
}

TEST_CASE("json: the input itself must be an object") {
  CHECK_THAT(decode_error<item>("[1,2]"),
             Catch::Contains("input: expected object, got array"));
  CHECK_THAT(decode_error<item>("null"),
             Catch::Contains("input: expected object, got null"));
}

TEST_CASE("json: NaN and infinity cannot be encoded") {
  with_double d{std::numeric_limits<double>::quiet_NaN()};
  try {
    weft::json::encode(d);
    FAIL("NaN encoded");
  } catch (const weft::error& e) {
    CHECK(e.code() == errc::invalid_input);
    CHECK_THAT(e.what(), Catch::Contains("field 'value'"));
  }
  d.value = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(weft::json::encode(d), weft::error);
}
