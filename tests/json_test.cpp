// The JSON codec of task inputs: round trips, and errors that say what was
// wrong and where.

#include "weft/json.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
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

struct shelf {
  std::string label;
  std::vector<item> items;
  std::map<std::string, std::vector<int>> groups;
  friend bool operator==(const shelf&, const shelf&) = default;
};
BOOST_DESCRIBE_STRUCT(shelf, (), (label, items, groups))

struct everything {
  std::string text;
  bool flag = false;
  char letter = 0;
  int8_t i8 = 0;
  uint8_t u8 = 0;
  int16_t i16 = 0;
  uint16_t u16 = 0;
  int32_t i32 = 0;
  uint32_t u32 = 0;
  int64_t i64 = 0;
  uint64_t u64 = 0;
  float ratio = 0;
  double precise = 0;
  std::optional<std::string> maybe;
  std::optional<int> absent;
  std::optional<std::vector<int>> maybe_list;
  std::vector<std::string> tags;
  std::vector<bool> bits;
  std::vector<std::vector<double>> matrix;
  std::vector<shelf> shelves;
  std::map<std::string, std::vector<int>> groups;
  std::unordered_map<std::string, point> places;
  std::map<std::string, std::optional<item>> slots;
  boost::json::value raw;
  friend bool operator==(const everything&, const everything&) = default;
};
BOOST_DESCRIBE_STRUCT(everything, (),
                      (text, flag, letter, i8, u8, i16, u16, i32, u32, i64, u64,
                       ratio, precise, maybe, absent, maybe_list, tags, bits,
                       matrix, shelves, groups, places, slots, raw))

template <class T>
struct holder {
  T value{};
};
BOOST_DESCRIBE_STRUCT(holder<int8_t>, (), (value))
BOOST_DESCRIBE_STRUCT(holder<uint8_t>, (), (value))
BOOST_DESCRIBE_STRUCT(holder<int16_t>, (), (value))
BOOST_DESCRIBE_STRUCT(holder<uint16_t>, (), (value))
BOOST_DESCRIBE_STRUCT(holder<int32_t>, (), (value))
BOOST_DESCRIBE_STRUCT(holder<uint32_t>, (), (value))
BOOST_DESCRIBE_STRUCT(holder<int64_t>, (), (value))
BOOST_DESCRIBE_STRUCT(holder<uint64_t>, (), (value))
BOOST_DESCRIBE_STRUCT(holder<float>, (), (value))
BOOST_DESCRIBE_STRUCT(holder<double>, (), (value))

struct with_shelves {
  std::vector<shelf> shelves;
  std::unordered_map<std::string, std::string> tags;
};
BOOST_DESCRIBE_STRUCT(with_shelves, (), (shelves, tags))

struct with_values {
  std::vector<double> values;
  boost::json::value raw;
};
BOOST_DESCRIBE_STRUCT(with_values, (), (values, raw))

struct base_task {
  std::string id;
};
BOOST_DESCRIBE_STRUCT(base_task, (), (id))

struct derived_task : base_task {
  int retries = 0;
};
BOOST_DESCRIBE_STRUCT(derived_task, (base_task), (retries))

struct empty_task {};
BOOST_DESCRIBE_STRUCT(empty_task, (), ())

} // namespace json_test

using namespace json_test;
using weft::errc;

namespace {

/// The message of the error a decode raises, checked to be invalid_input.
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

/// The message of the error an encode raises, checked to be invalid_input.
template <class T>
std::string encode_error(const T& x) {
  try {
    weft::json::encode(x);
  } catch (const weft::error& e) {
    CHECK(e.code() == errc::invalid_input);
    return e.what();
  }
  FAIL("encoded without error");
  return {};
}

template <class T>
T round_trip(const T& x) {
  return weft::json::decode<T>(weft::json::encode(x));
}

} // namespace

TEST_CASE("json: every supported type round-trips") {
  everything x;
  x.text = "grüße, 世界, 😀 \"quoted\" \\ \n\t newline";
  x.text.push_back('\0');
  x.text += "after nul";
  x.flag = true;
  x.letter = 'w';
  x.i8 = -128;
  x.u8 = 255;
  x.i16 = -32768;
  x.u16 = 65535;
  x.i32 = std::numeric_limits<int32_t>::min();
  x.u32 = std::numeric_limits<uint32_t>::max();
  x.i64 = std::numeric_limits<int64_t>::min();
  x.u64 = std::numeric_limits<uint64_t>::max();
  x.ratio = 0.1f;
  x.precise = 3.141592653589793;
  x.maybe = "here";
  x.maybe_list = std::vector<int>{};
  x.tags = {"a", "", "ü"};
  x.bits = {true, false, true};
  x.matrix = {{1, 2.5}, {}, {-1e300, 5e-324}};
  x.shelves = {
    {"top",
     {{"one", 1, point{1.5, -2}}, {"two", 2, std::nullopt}},
     {{"odd", {1, 3, 5}}, {"none", {}}}},
    {"bottom", {}, {}},
  };
  x.groups = {{"", {0}}, {"κλειδί", {-1, 1}}};
  x.places = {{"home", {0, 0}}, {"work", {10.25, 20}}};
  x.slots = {{"full", item{"i", 7, std::nullopt}}, {"empty", std::nullopt}};
  x.raw = boost::json::parse(R"({"free":["form",1,null,{"x":2.5}]})");

  auto text = weft::json::encode(x);
  auto back = weft::json::decode<everything>(text);
  CHECK(back == x);
  // Compared as values: an unordered_map has no fixed order in the text.
  CHECK(boost::json::parse(weft::json::encode(back))
        == boost::json::parse(text));
  // The value form agrees with the text form.
  CHECK(weft::json::to_value(x) == boost::json::parse(text));
  CHECK(weft::json::from_value<everything>(weft::json::to_value(x)) == x);

  x.i64 = std::numeric_limits<int64_t>::max();
  x.maybe.reset();
  x.maybe_list.reset();
  back = round_trip(x);
  CHECK(back.i64 == std::numeric_limits<int64_t>::max());
  CHECK_FALSE(back.maybe.has_value());
  CHECK_FALSE(back.maybe_list.has_value());
  CHECK(back == x);
}

TEMPLATE_TEST_CASE("json: integer limits of every width round-trip", "", int8_t,
                   uint8_t, int16_t, uint16_t, int32_t, uint32_t, int64_t,
                   uint64_t) {
  using limits = std::numeric_limits<TestType>;
  for (TestType v : {limits::min(), limits::max(), TestType{0}}) {
    CHECK(round_trip(holder<TestType>{v}).value == v);
    CHECK(weft::json::decode<TestType>(weft::json::encode(v)) == v);
  }
  // The text form of the limits, as another program would write them.
  auto min_text = std::to_string(limits::min());
  auto max_text = std::to_string(limits::max());
  CHECK(
    weft::json::decode<holder<TestType>>(R"({"value":)" + min_text + "}").value
    == limits::min());
  CHECK(
    weft::json::decode<holder<TestType>>(R"({"value":)" + max_text + "}").value
    == limits::max());
}

TEST_CASE("json: top-level values of every kind") {
  CHECK(weft::json::decode<std::vector<int>>("[1, 2, 3]")
        == std::vector<int>{1, 2, 3});
  CHECK(weft::json::decode<std::map<std::string, std::vector<std::string>>>(
          R"({"a":["x"],"b":[]})")
        == std::map<std::string, std::vector<std::string>>{{"a", {"x"}},
                                                           {"b", {}}});
  CHECK(weft::json::decode<std::optional<int>>("null") == std::nullopt);
  CHECK(weft::json::decode<std::optional<int>>("4") == 4);
  CHECK(weft::json::decode<std::string>(R"("\u00fc\ud83d\ude00")") == "ü😀");
  CHECK(weft::json::decode<bool>("true"));
  CHECK(weft::json::decode<double>("3") == 3.0);
  CHECK(weft::json::decode<double>("18446744073709551615")
        == 18446744073709551615.0);
  CHECK(weft::json::decode<boost::json::value>(R"({"a":[1,null]})")
        == boost::json::parse(R"({"a":[1,null]})"));
  CHECK(weft::json::encode(std::optional<int>{}) == "null");
  CHECK(weft::json::encode("literal") == R"("literal")");
  CHECK(weft::json::encode(std::string_view{"view"}) == R"("view")");
  CHECK(weft::json::encode(std::vector<bool>{true, false}) == "[true,false]");
}

TEST_CASE("json: encoding keeps declaration order and writes null") {
  item i{"n", 3, std::nullopt};
  CHECK(weft::json::encode(i) == R"({"name":"n","count":3,"where":null})");
  i.where = point{1, 2.5};
  CHECK(weft::json::encode(i)
        == R"({"name":"n","count":3,"where":{"x":1E0,"y":2.5E0}})");
  CHECK(weft::json::encode(empty_task{}) == "{}");
  CHECK_NOTHROW(weft::json::decode<empty_task>("{}"));
  CHECK(decode_error<empty_task>(R"({"x":1})")
        == "field 'x': unknown field (known fields: none)");
}

TEST_CASE("json: optional fields may be missing or null") {
  auto i = weft::json::decode<item>(R"({"name":"n","count":1})");
  CHECK_FALSE(i.where.has_value());
  i = weft::json::decode<item>(R"({"name":"n","count":1,"where":null})");
  CHECK_FALSE(i.where.has_value());
  i = weft::json::decode<item>(
    R"({"name":"n","count":1,"where":{"x":1,"y":2}})");
  CHECK(i.where == point{1, 2});
  // Only optionals may be null.
  CHECK(decode_error<item>(R"({"name":null,"count":1})")
        == "field 'name': expected string, got null");
}

TEST_CASE("json: inherited members are fields too") {
  derived_task t;
  t.id = "abc";
  t.retries = 2;
  CHECK(weft::json::encode(t) == R"({"id":"abc","retries":2})");
  auto back = round_trip(t);
  CHECK(back.id == "abc");
  CHECK(back.retries == 2);
  CHECK(decode_error<derived_task>(R"({"retries":1})")
        == "field 'id': missing (expected string)");
}

TEST_CASE("json: numbers convert only when nothing is lost") {
  CHECK(weft::json::decode<holder<int32_t>>(R"({"value":3.0})").value == 3);
  CHECK(weft::json::decode<holder<int32_t>>(R"({"value":-2e3})").value
        == -2000);
  CHECK(weft::json::decode<holder<uint64_t>>(R"({"value":-0.0})").value == 0);
  CHECK(weft::json::decode<holder<double>>(R"({"value":3})").value == 3.0);
  CHECK(weft::json::decode<holder<float>>(R"({"value":0.5})").value == 0.5f);
  CHECK(decode_error<holder<float>>(R"({"value":1e300})")
        == "field 'value': number 1e+300 is out of range (at most "
           "3.4028234663852886e+38 in magnitude)");
  // The parser turns 1e400 into infinity, which no field can hold.
  CHECK_THAT(decode_error<holder<double>>(R"({"value":1e400})"),
             Catch::StartsWith("field 'value': number too large"));
  CHECK_THAT(decode_error<holder<int64_t>>(R"({"value":-1e400})"),
             Catch::StartsWith("field 'value': number too large"));
  CHECK_THAT(decode_error<with_values>(R"({"values":[],"raw":[1e999]})"),
             Catch::StartsWith("field 'raw[0]': number too large"));
}

TEST_CASE("json: malformed text is reported with its position") {
  CHECK(decode_error<item>(R"({"name": "n", )")
        == "malformed JSON at offset 14 (line 1, column 15): incomplete JSON");
  CHECK_THAT(decode_error<item>("{\n  \"name\": \"ü\",\n  count: 1\n}"),
             Catch::StartsWith(
               "malformed JSON at offset 20 (line 3, column 3): syntax"));
  CHECK_THAT(decode_error<item>("{} trailing"),
             Catch::StartsWith(
               "malformed JSON at offset 3 (line 1, column 4): "));
  CHECK_THAT(decode_error<item>(""),
             Catch::StartsWith(
               "malformed JSON at offset 0 (line 1, column 1): "));
  CHECK_THAT(decode_error<std::string>("\"\xff\""),
             Catch::StartsWith("malformed JSON at offset 1 "));
  REQUIRE_THROWS_WITH(weft::json::parse("[1, 2,]"),
                      Catch::Contains("malformed JSON at offset 6"));
  CHECK_THROWS_AS(weft::json::parse("nul"), weft::error);
  CHECK(weft::json::parse(" [1] ") == boost::json::parse("[1]"));
}

TEST_CASE("json: a wrong type names the nested field") {
  CHECK(decode_error<with_shelves>(
          R"({"tags":{},"shelves":[{"label":"a","items":[],"groups":{}},
              {"label":"b","groups":{},"items":[{"name":"x","count":1},
                {"name":"y","count":2,"where":{"x":1,"y":"up"}}]}]})")
        == "field 'shelves[1].items[1].where.y': expected number, got string");
  CHECK(decode_error<with_shelves>(
          R"({"tags":{},"shelves":[{"label":"a","items":[],
              "groups":{"g":[1,"x"]}}]})")
        == R"(field 'shelves[0].groups["g"][1]': )"
           "expected integer, got string");
  CHECK(decode_error<with_shelves>(R"({"shelves":[],"tags":{"a\"b":5}})")
        == R"(field 'tags["a\"b"]': expected string, got number)");
  CHECK(decode_error<with_shelves>(R"({"shelves":["x"],"tags":{}})")
        == "field 'shelves[0]': expected object, got string");
  CHECK(decode_error<with_shelves>(R"({"shelves":{},"tags":[]})")
        == "field 'shelves': expected array, got object");
  CHECK(decode_error<with_values>(R"({"values":[true],"raw":1})")
        == "field 'values[0]': expected number, got boolean");
  CHECK(decode_error<item>(R"({"name":true,"count":1})")
        == "field 'name': expected string, got boolean");
}

TEST_CASE("json: an integer out of range names the field and the range") {
  CHECK(decode_error<holder<uint8_t>>(R"({"value":300})")
        == "field 'value': integer 300 is out of range (expected 0 to 255)");
  CHECK(decode_error<holder<unsigned int>>(R"({"value":-1})")
        == "field 'value': integer -1 is out of range (expected 0 to "
           "4294967295)");
  CHECK(decode_error<holder<int8_t>>(R"({"value":-129})")
        == "field 'value': integer -129 is out of range (expected -128 to "
           "127)");
  CHECK_THAT(decode_error<holder<int64_t>>(R"({"value":9223372036854775808})"),
             Catch::StartsWith("field 'value': integer 9223372036854775808 is "
                               "out of range"));
  CHECK_THAT(decode_error<holder<uint64_t>>(R"({"value":-1})"),
             Catch::StartsWith("field 'value': integer -1 is out of range"));
  // Above UINT64_MAX the parser makes a double; 2^64 itself must not pass.
  CHECK_THAT(
    decode_error<holder<uint64_t>>(R"({"value":18446744073709551616})"),
    Catch::StartsWith("field 'value': integer 18446744073709551616 is out of "
                      "range"));
  CHECK_THAT(decode_error<holder<int64_t>>(R"({"value":-9.3e18})"),
             Catch::StartsWith("field 'value': integer -9.3e+18 is "
                               "out of range"));
  CHECK_THAT(decode_error<with_shelves>(
               R"({"tags":{},"shelves":[{"label":"a","groups":{},
                   "items":[{"name":"n","count":4294967296}]}]})"),
             Catch::StartsWith("field 'shelves[0].items[0].count': integer "
                               "4294967296 is out of range"));
}

TEST_CASE("json: a fraction does not decode into an integer") {
  CHECK(decode_error<holder<int32_t>>(R"({"value":1.5})")
        == "field 'value': expected integer, got fractional number 1.5");
  CHECK(decode_error<std::vector<int>>("[1, 2, 2.25]")
        == "field '[2]': expected integer, got fractional number 2.25");
}

TEST_CASE("json: a missing field is named") {
  CHECK(decode_error<item>(R"({"name":"n"})")
        == "field 'count': missing (expected integer)");
  CHECK(decode_error<with_shelves>(
          R"({"tags":{},"shelves":[{"label":"a","groups":{},
              "items":[{"count":1}]}]})")
        == "field 'shelves[0].items[0].name': missing (expected string)");
}

TEST_CASE("json: an unknown field is named with the known ones") {
  CHECK(decode_error<item>(R"({"name":"n","count":1,"cuont":2})")
        == "field 'cuont': unknown field (known fields: name, count, where)");
  // Reported before the field it was meant to be goes missing.
  CHECK(decode_error<item>(R"({"nmae":"n","count":1})")
        == "field 'nmae': unknown field (known fields: name, count, where)");
  CHECK(decode_error<with_shelves>(
          R"({"tags":{},"shelves":[{"label":"a","groups":{},"items":[],
              "extra":true}]})")
        == "field 'shelves[0].extra': unknown field (known fields: label, "
           "items, groups)");
  CHECK(decode_error<item>(R"({"a.b":1})")
        == R"(field '["a.b"]': unknown field )"
           "(known fields: name, count, where)");
  // A huge key does not make a huge message.
  auto message = decode_error<item>("{\"" + std::string(10000, 'k') + "\":1}");
  CHECK(message.size() < 200);
  CHECK_THAT(message, Catch::Contains("...\"]': unknown field"));
}

TEST_CASE("json: the input itself must be an object") {
  CHECK(decode_error<item>("[1,2]") == "input: expected object, got array");
  CHECK(decode_error<item>("null") == "input: expected object, got null");
  CHECK(decode_error<item>("\"text\"") == "input: expected object, got string");
  CHECK(decode_error<std::vector<int>>("{}")
        == "input: expected array, got object");
  REQUIRE_THROWS_WITH(weft::json::from_value<item>(boost::json::value(4)),
                      "input: expected object, got number");
}

TEST_CASE("json: what JSON cannot hold is not encoded") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(encode_error(holder<double>{nan})
        == "field 'value': NaN cannot be represented in JSON");
  CHECK(encode_error(holder<double>{-inf})
        == "field 'value': number too large in magnitude (JSON numbers must "
           "be finite)");
  CHECK(encode_error(holder<float>{std::numeric_limits<float>::infinity()})
        == "field 'value': number too large in magnitude (JSON numbers must "
           "be finite)");
  CHECK(encode_error(with_values{{1, nan}, nullptr})
        == "field 'values[1]': NaN cannot be represented in JSON");
  CHECK(encode_error(nan) == "input: NaN cannot be represented in JSON");
  CHECK_THROWS_AS(weft::json::to_value(holder<double>{nan}), weft::error);

  boost::json::value raw = {{"deep", boost::json::array{1, inf}}};
  CHECK(encode_error(with_values{{}, raw})
        == R"(field 'raw["deep"][1]': number too large in magnitude (JSON )"
           "numbers must be finite)");

  // Bytes that are not UTF-8 would make text the parser rejects.
  shelf s{"bad \xff label", {}, {}};
  CHECK(encode_error(s) == "field 'label': string is not valid UTF-8 (byte 4)");
  s = shelf{"ok", {}, {{"k\xc0", {}}}};
  CHECK(encode_error(s)
        == R"(field 'groups["k\xc0"]': key is not valid UTF-8 (byte 1))");
}
