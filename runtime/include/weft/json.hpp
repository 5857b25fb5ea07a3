#pragma once

// JSON codec for task inputs: described structs (BOOST_DESCRIBE_STRUCT) and
// the types their fields may have. Task inputs come from users, so every
// failure is a `weft::error` (errc::invalid_input) that names the field by
// its path from the root, e.g. "field 'items[2].name': expected string, got
// number", or "input" for the root itself.
//
// Supported types, nested freely: std::string, bool, every integer type
// (range-checked), float and double (finite only), std::optional<T> (null or
// absent), std::vector<T>, std::map / std::unordered_map with std::string
// keys, boost::json::value (passed through) and described structs (public
// members, inherited ones included, encoded in declaration order).

#include "weft/error.hpp"

#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <boost/mp11/algorithm.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace weft::json {

namespace detail {

// -- type traits --------------------------------------------------------------

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};

template <class T>
struct is_string_map : std::false_type {};
template <class V, class C, class A>
struct is_string_map<std::map<std::string, V, C, A>> : std::true_type {};
template <class V, class H, class E, class A>
struct is_string_map<std::unordered_map<std::string, V, H, E, A>>
    : std::true_type {};

template <class T>
inline constexpr bool is_described
  = boost::describe::has_describe_members<T>::value;

// Inherited members count: a derived task struct would otherwise drop its
// base's fields on encode and reject them as unknown on decode.
template <class T>
using members_of
  = boost::describe::describe_members<T, boost::describe::mod_public
                                           | boost::describe::mod_inherited>;

/// The name of what a `T` decodes from, as used in error messages.
template <class T>
constexpr const char* expected_name() noexcept {
  if constexpr (std::is_same_v<T, boost::json::value>)
    return "any value";
  else if constexpr (std::is_same_v<T, bool>)
    return "boolean";
  else if constexpr (std::is_integral_v<T>)
    return "integer";
  else if constexpr (std::is_floating_point_v<T>)
    return "number";
  else if constexpr (std::is_same_v<T, std::string>)
    return "string";
  else if constexpr (is_optional<T>::value)
    return expected_name<typename T::value_type>();
  else if constexpr (is_vector<T>::value)
    return "array";
  else
    return "object";
}

inline const char* kind_name(const boost::json::value& v) noexcept {
  switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "number";
    case boost::json::kind::string: return "string";
    case boost::json::kind::array: return "array";
    case boost::json::kind::object: return "object";
  }
  return "value";
}

// -- UTF-8 --------------------------------------------------------------------

/// Length of the well-formed UTF-8 sequence starting at `s[i]`, or 0 when the
/// bytes there are not one (overlong forms, surrogates and code points above
/// U+10FFFF included). Matches what boost::json's parser accepts.
inline size_t utf8_sequence_length(std::string_view s, size_t i) noexcept {
  auto byte = [&](size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0x100u;
  };
  auto in
    = [](unsigned b, unsigned lo, unsigned hi) { return b >= lo && b <= hi; };
  unsigned b0 = byte(0);
  if (b0 < 0x80)
    return 1;
  if (in(b0, 0xC2, 0xDF))
    return in(byte(1), 0x80, 0xBF) ? 2 : 0;
  if (in(b0, 0xE0, 0xEF)) {
    unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80;
    unsigned hi = b0 == 0xED ? 0x9F : 0xBF;
    return in(byte(1), lo, hi) && in(byte(2), 0x80, 0xBF) ? 3 : 0;
  }
  if (in(b0, 0xF0, 0xF4)) {
    unsigned lo = b0 == 0xF0 ? 0x90 : 0x80;
    unsigned hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return in(byte(1), lo, hi) && in(byte(2), 0x80, 0xBF)
               && in(byte(3), 0x80, 0xBF)
             ? 4
             : 0;
  }
  return 0;
}

/// Offset of the first byte that is not well-formed UTF-8, or npos.
inline size_t invalid_utf8_offset(std::string_view s) noexcept {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence_length(s, i);
    if (n == 0)
      return i;
    i += n;
  }
  return std::string_view::npos;
}

// -- paths --------------------------------------------------------------------

/// Where a value sits below the root. Steps live on the stack of the
/// recursive calls and are only rendered when something fails, so converting
/// a large array allocates nothing per element.
struct path {
  enum class step : uint8_t { root, member, index, key };

  const path* parent = nullptr;
  step kind = step::root;
  std::string_view name; // member name or map key; outlives this step
  size_t index = 0;

  path member(std::string_view n) const noexcept {
    return {this, step::member, n, 0};
  }
  path element(size_t i) const noexcept {
    return {this, step::index, {}, i};
  }
  path key(std::string_view k) const noexcept {
    return {this, step::key, k, 0};
  }
};

// Keys come from user input; a huge one must not make a huge message.
inline constexpr size_t max_name_in_message = 64;

inline bool is_identifier(std::string_view s) noexcept {
  if (s.empty() || s.size() > max_name_in_message
      || (s[0] >= '0' && s[0] <= '9'))
    return false;
  for (char c : s)
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')))
      return false;
  return true;
}

/// Appends `s` escaped as in a JSON string, with bytes that are not UTF-8
/// shown as \xNN, cut after `max_name_in_message` bytes.
inline void append_escaped(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < s.size();) {
    if (i >= max_name_in_message) {
      out += "...";
      return;
    }
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = utf8_sequence_length(s, i);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || n == 0) {
      out += c < 0x20 ? "\\u00" : "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    } else {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    ++i;
  }
}

inline void render(std::string& out, const path& p) {
  if (p.parent != nullptr)
    render(out, *p.parent);
  switch (p.kind) {
    case path::step::root: break;
    case path::step::member:
      if (is_identifier(p.name)) {
        if (!out.empty())
          out += '.';
        out.append(p.name);
        break;
      }
      [[fallthrough]]; // odd keys are quoted like map keys to stay unambiguous
    case path::step::key:
      out += "[\"";
      append_escaped(out, p.name);
      out += "\"]";
      break;
    case path::step::index:
      out += '[';
      out += std::to_string(p.index);
      out += ']';
      break;
  }
}

/// "input" for the root, "field 'a.b[2]'" below it.
inline std::string where(const path& p) {
  std::string rendered;
  render(rendered, p);
  return rendered.empty() ? std::string{"input"} : "field '" + rendered + "'";
}

[[noreturn]] inline void fail(const path& at, std::string_view what) {
  throw error(errc::invalid_input, where(at) + ": " + std::string{what});
}

[[noreturn]] inline void mismatch(const path& at, const char* expected,
                                  const boost::json::value& v) {
  fail(at, std::string{"expected "} + expected + ", got " + kind_name(v));
}

/// Shortest text that reads back as `x` ("1.5", "1e+20").
inline std::string number_text(double x) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

inline std::string number_text(const boost::json::value& v) {
  if (v.is_int64())
    return std::to_string(v.get_int64());
  if (v.is_uint64())
    return std::to_string(v.get_uint64());
  return number_text(v.get_double());
}

[[noreturn]] inline void non_finite(const path& at, double x) {
  fail(at, std::isnan(x)
             ? "NaN cannot be represented in JSON"
             : "number too large in magnitude (JSON numbers must be finite)");
}

inline void check_utf8(const path& at, std::string_view s, const char* what) {
  auto bad = invalid_utf8_offset(s);
  if (bad != std::string_view::npos)
    fail(at, std::string{what} + " is not valid UTF-8 (byte "
               + std::to_string(bad) + ")");
}

/// Checks a passed-through value for what JSON text cannot hold, so that an
/// input which encodes also decodes on the other side.
inline void check_representable(const boost::json::value& v, const path& at) {
  switch (v.kind()) {
    case boost::json::kind::double_:
      if (!std::isfinite(v.get_double()))
        non_finite(at, v.get_double());
      break;
    case boost::json::kind::string:
      check_utf8(at, v.get_string(), "string");
      break;
    case boost::json::kind::array: {
      const auto& arr = v.get_array();
      for (size_t i = 0; i < arr.size(); ++i)
        check_representable(arr[i], at.element(i));
      break;
    }
    case boost::json::kind::object:
      for (const auto& kv : v.get_object()) {
        auto sub = at.key(kv.key());
        check_utf8(sub, kv.key(), "key");
        check_representable(kv.value(), sub);
      }
      break;
    default: break;
  }
}

// -- encode -------------------------------------------------------------------

template <class T>
boost::json::value encode_at(const T& x, const path& at) {
  if constexpr (std::is_same_v<T, boost::json::value>) {
    check_representable(x, at);
    return x;
  } else if constexpr (std::is_same_v<T, bool>) {
    return boost::json::value(x);
  } else if constexpr (std::is_integral_v<T>) {
    if constexpr (std::is_signed_v<T>)
      return boost::json::value(static_cast<int64_t>(x));
    else
      return boost::json::value(static_cast<uint64_t>(x));
  } else if constexpr (std::is_floating_point_v<T>) {
    // Checked after the cast: a long double can overflow a double.
    auto d = static_cast<double>(x);
    if (!std::isfinite(d))
      non_finite(at, d);
    return boost::json::value(d);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    if constexpr (std::is_pointer_v<T>)
      if (x == nullptr)
        fail(at, "null string pointer");
    std::string_view s = x;
    // boost::json writes such bytes unchanged, and its parser then rejects
    // the whole text; better to fail here, naming the field.
    check_utf8(at, s, "string");
    return boost::json::value(s);
  } else if constexpr (is_optional<T>::value) {
    if (!x)
      return nullptr;
    return encode_at(*x, at);
  } else if constexpr (is_vector<T>::value) {
    boost::json::array arr;
    arr.reserve(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      arr.push_back(encode_at<typename T::value_type>(x[i], at.element(i)));
    return arr;
  } else if constexpr (is_string_map<T>::value) {
    boost::json::object obj;
    obj.reserve(x.size());
    for (const auto& [k, v] : x) {
      auto sub = at.key(k);
      check_utf8(sub, k, "key");
      obj.emplace(k, encode_at(v, sub));
    }
    return obj;
  } else if constexpr (is_described<T>) {
    boost::json::object obj;
    obj.reserve(boost::mp11::mp_size<members_of<T>>::value);
    boost::mp11::mp_for_each<members_of<T>>([&](auto m) {
      obj.emplace(m.name, encode_at(x.*m.pointer, at.member(m.name)));
    });
    return obj;
  } else {
    static_assert(sizeof(T) == 0,
                  "weft::json: unsupported type; use std::string, bool, "
                  "integers, float, double, std::optional, std::vector, "
                  "std::map/std::unordered_map with std::string keys, "
                  "boost::json::value or BOOST_DESCRIBE_STRUCT structs");
  }
}

// -- decode -------------------------------------------------------------------

template <class Int>
Int decode_integer(const boost::json::value& v, const path& at) {
  using limits = std::numeric_limits<Int>;
  auto out_of_range = [&] {
    fail(at, "integer " + number_text(v) + " is out of range (expected "
               + std::to_string(limits::min()) + " to "
               + std::to_string(limits::max()) + ")");
  };
  if (v.is_int64()) {
    auto x = v.get_int64();
    bool ok;
    if constexpr (std::is_signed_v<Int>)
      ok = x >= static_cast<int64_t>(limits::min())
           && x <= static_cast<int64_t>(limits::max());
    else
      ok = x >= 0 && static_cast<uint64_t>(x) <= limits::max();
    if (!ok)
      out_of_range();
    return static_cast<Int>(x);
  }
  if (v.is_uint64()) {
    // The parser only makes a uint64 of values above INT64_MAX.
    auto x = v.get_uint64();
    if (x > static_cast<uint64_t>(limits::max()))
      out_of_range();
    return static_cast<Int>(x);
  }
  if (v.is_double()) {
    auto x = v.get_double();
    if (!std::isfinite(x))
      non_finite(at, x);
    if (std::trunc(x) != x)
      fail(at, "expected integer, got fractional number " + number_text(x));
    // The bounds are powers of two, exact as doubles, unlike `max()` which
    // rounds up to 2^63 or 2^64 and would let the cast overflow.
    const double upper = std::ldexp(1.0, limits::digits);
    const double lower = std::is_signed_v<Int> ? -upper : 0.0;
    if (x < lower || x >= upper)
      out_of_range();
    return static_cast<Int>(x);
  }
  mismatch(at, "integer", v);
}

template <class Float>
Float decode_floating(const boost::json::value& v, const path& at) {
  if (!v.is_number())
    mismatch(at, "number", v);
  // Exact for every int64/uint64 the parser produces, up to rounding.
  double x = v.to_number<double>();
  if (!std::isfinite(x))
    non_finite(at, x);
  if constexpr (sizeof(Float) < sizeof(double)) {
    if (std::fabs(x) > static_cast<double>(std::numeric_limits<Float>::max()))
      fail(at, "number " + number_text(x) + " is out of range (at most "
                 + number_text(
                   static_cast<double>(std::numeric_limits<Float>::max()))
                 + " in magnitude)");
  }
  return static_cast<Float>(x);
}

template <class T>
T decode_at(const boost::json::value& v, const path& at);

template <class T>
[[noreturn]] void unknown_field(const path& at) {
  std::string known;
  boost::mp11::mp_for_each<members_of<T>>([&](auto m) {
    if (!known.empty())
      known += ", ";
    known += m.name;
  });
  fail(at, "unknown field (known fields: "
             + (known.empty() ? std::string{"none"} : known) + ")");
}

template <class T>
T decode_struct(const boost::json::value& v, const path& at) {
  if (!v.is_object())
    mismatch(at, "object", v);
  const auto& obj = v.get_object();
  // Unknown keys first: a misspelt field would otherwise be reported as the
  // right one missing, which hides the typo.
  for (const auto& kv : obj) {
    bool known = false;
    boost::mp11::mp_for_each<members_of<T>>(
      [&](auto m) { known = known || kv.key() == m.name; });
    if (!known)
      unknown_field<T>(at.member(kv.key()));
  }
  T out{};
  boost::mp11::mp_for_each<members_of<T>>([&](auto m) {
    auto& field = out.*m.pointer;
    using field_type = std::remove_cvref_t<decltype(field)>;
    auto sub = at.member(m.name);
    if (const auto* x = obj.if_contains(m.name)) {
      field = decode_at<field_type>(*x, sub);
    } else if constexpr (is_optional<field_type>::value) {
      field.reset();
    } else {
      fail(sub, std::string{"missing (expected "} + expected_name<field_type>()
                  + ")");
    }
  });
  return out;
}

template <class T>
T decode_at(const boost::json::value& v, const path& at) {
  if constexpr (std::is_same_v<T, boost::json::value>) {
    check_representable(v, at);
    return v;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_bool())
      mismatch(at, "boolean", v);
    return v.get_bool();
  } else if constexpr (std::is_integral_v<T>) {
    return decode_integer<T>(v, at);
  } else if constexpr (std::is_floating_point_v<T>) {
    return decode_floating<T>(v, at);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string())
      mismatch(at, "string", v);
    const auto& s = v.get_string();
    return std::string(s.data(), s.size());
  } else if constexpr (is_optional<T>::value) {
    if (v.is_null())
      return T{};
    return T{decode_at<typename T::value_type>(v, at)};
  } else if constexpr (is_vector<T>::value) {
    if (!v.is_array())
      mismatch(at, "array", v);
    const auto& arr = v.get_array();
    T out;
    out.reserve(arr.size());
    for (size_t i = 0; i < arr.size(); ++i)
      out.push_back(decode_at<typename T::value_type>(arr[i], at.element(i)));
    return out;
  } else if constexpr (is_string_map<T>::value) {
    if (!v.is_object())
      mismatch(at, "object", v);
    T out;
    for (const auto& kv : v.get_object())
      out.emplace(std::string{kv.key()},
                  decode_at<typename T::mapped_type>(kv.value(),
                                                     at.key(kv.key())));
    return out;
  } else if constexpr (is_described<T>) {
    return decode_struct<T>(v, at);
  } else {
    static_assert(sizeof(T) == 0,
                  "weft::json: unsupported type; use std::string, bool, "
                  "integers, float, double, std::optional, std::vector, "
                  "std::map/std::unordered_map with std::string keys, "
                  "boost::json::value or BOOST_DESCRIBE_STRUCT structs");
  }
}

} // namespace detail

/// How deep JSON text may nest (objects and arrays), as boost::json's
/// parser enforces it.
inline constexpr size_t max_depth = 32;

/// Parses JSON text. Malformed text throws `weft::error` (invalid_input)
/// saying where it stopped making sense: "malformed JSON at offset 14 (line
/// 1, column 15): incomplete JSON". Bytes that are not UTF-8 and nesting
/// deeper than `max_depth` are named as such.
inline boost::json::value parse(std::string_view text) {
  boost::json::stream_parser p;
  boost::system::error_code ec;
  size_t offset = p.write_some(text.data(), text.size(), ec);
  if (!ec && offset < text.size())
    ec = boost::json::error::extra_data;
  if (!ec)
    p.finish(ec);
  if (ec) {
    std::string what = ec.message();
    // The parser calls bad UTF-8 a syntax error, at or just before the
    // offending byte; the byte itself is what the writer needs to find.
    auto bad = detail::invalid_utf8_offset(text);
    if (bad != std::string_view::npos && bad <= offset + 4) {
      offset = bad;
      static constexpr char hex[] = "0123456789abcdef";
      auto byte = static_cast<unsigned char>(text[bad]);
      what = std::string{"invalid UTF-8 (byte 0x"} + hex[byte >> 4]
             + hex[byte & 0xF] + ")";
    } else if (ec == boost::json::error::too_deep) {
      what = "nested deeper than " + std::to_string(max_depth) + " levels";
    } else if (ec == boost::json::error::extra_data) {
      what = "extra text after the JSON value";
    }
    // Line and column (in characters) help with hand-written, multi-line
    // inputs where a byte offset is hard to find.
    size_t line = 1;
    size_t column = 1;
    for (size_t i = 0; i < offset && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
        ++column;
      }
    }
    throw error(errc::invalid_input, "malformed JSON at offset "
                                       + std::to_string(offset) + " (line "
                                       + std::to_string(line) + ", column "
                                       + std::to_string(column) + "): " + what);
  }
  return p.release();
}

/// Checks a task input as submitted (a JSON object) and returns it parsed.
/// Root submissions, `context::submit_json` and the command line share it,
/// so all three refuse the same texts with the same words. Throws
/// `weft::error` (invalid_input).
inline boost::json::object parse_input(std::string_view text) {
  auto value = parse(text);
  if (!value.is_object())
    throw error(errc::invalid_input,
                std::string{"not a JSON object but "}
                  + (value.is_array()  ? "an "
                     : value.is_null() ? ""
                                       : "a ")
                  + detail::kind_name(value)
                  + ": task inputs are objects such as {\"size\": 3}");
  return std::move(value.get_object());
}

/// Encodes `x` as a JSON value. Throws `weft::error` (invalid_input) for
/// what JSON cannot hold: NaN, infinity, strings that are not UTF-8.
template <class T>
boost::json::value to_value(const T& x) {
  return detail::encode_at(x, detail::path{});
}

/// Encodes `x` as JSON text.
template <class T>
std::string encode(const T& x) {
  return boost::json::serialize(to_value(x));
}

/// Decodes a JSON value into a `T`. Throws `weft::error` (invalid_input)
/// naming the offending field.
template <class T>
T from_value(const boost::json::value& v) {
  return detail::decode_at<T>(v, detail::path{});
}

/// Parses and decodes JSON text.
template <class T>
T decode(std::string_view text) {
  return from_value<T>(parse(text));
}

} // namespace weft::json
