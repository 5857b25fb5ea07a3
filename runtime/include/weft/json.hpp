#pragma once

// JSON codec for task inputs: described structs (BOOST_DESCRIBE_STRUCT) and
// the types their fields may have. Errors name the field's path, e.g.
// "field 'items[2].name': expected string, got number".

#include "weft/error.hpp"

#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <boost/mp11/algorithm.hpp>

#include <cmath>
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

/// "input" for the root, "field 'a.b[2]'" below it.
inline std::string where(const std::string& path) {
  return path.empty() ? std::string{"input"} : "field '" + path + "'";
}

[[noreturn]] inline void fail(const std::string& path, const std::string& what) {
  throw error(errc::invalid_input, where(path) + ": " + what);
}

[[noreturn]] inline void mismatch(const std::string& path, const char* expected,
                                  const boost::json::value& v) {
  fail(path, std::string{"expected "} + expected + ", got " + kind_name(v));
}

inline std::string member_path(const std::string& path, std::string_view name) {
  return path.empty() ? std::string{name} : path + "." + std::string{name};
}

// -- encode ---------------------------------------------------------------------

template <class T>
boost::json::value encode_value(const T& x, const std::string& path);

template <class T>
boost::json::value encode_value(const T& x, const std::string& path) {
  if constexpr (std::is_same_v<T, boost::json::value>) {
    return x;
  } else if constexpr (std::is_same_v<T, bool>) {
    return boost::json::value(x);
  } else if constexpr (std::is_integral_v<T>) {
    if constexpr (std::is_signed_v<T>)
      return boost::json::value(static_cast<int64_t>(x));
    else
      return boost::json::value(static_cast<uint64_t>(x));
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(x))
      fail(path, "cannot encode a NaN or infinite number: JSON has none");
    return boost::json::value(static_cast<double>(x));
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return boost::json::value(std::string_view{x});
  } else if constexpr (is_optional<T>::value) {
    if (!x)
      return nullptr;
    return encode_value(*x, path);
  } else if constexpr (is_vector<T>::value) {
    boost::json::array arr;
    arr.reserve(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      arr.push_back(encode_value(x[i], path + "[" + std::to_string(i) + "]"));
    return arr;
  } else if constexpr (is_string_map<T>::value) {
    boost::json::object obj;
    for (const auto& [k, v] : x)
      obj[k] = encode_value(v, path + "[\"" + k + "\"]");
    return obj;
  } else if constexpr (is_described<T>) {
    boost::json::object obj;
    using members
      = boost::describe::describe_members<T, boost::describe::mod_public>;
    boost::mp11::mp_for_each<members>([&](auto m) {
      obj[m.name] = encode_value(x.*m.pointer, member_path(path, m.name));
    });
    return obj;
  } else {
    static_assert(sizeof(T) == 0,
                  "weft::json: unsupported field type; use strings, numbers, "
                  "booleans, std::optional, std::vector, std::map<std::string, "
                  "T> or described structs");
  }
}

// -- decode ---------------------------------------------------------------------

template <class T>
void decode_value(const boost::json::value& v, T& out, const std::string& path);

template <class Int>
void decode_integer(const boost::json::value& v, Int& out,
                    const std::string& path) {
  using limits = std::numeric_limits<Int>;
  auto out_of_range = [&](const std::string& text) {
    fail(path, "integer " + text + " is out of range ["
                 + std::to_string(limits::min()) + ", "
                 + std::to_string(limits::max()) + "]");
  };
  if (v.is_int64()) {
    auto x = v.get_int64();
    if constexpr (std::is_signed_v<Int>) {
      if (x < static_cast<int64_t>(limits::min())
          || x > static_cast<int64_t>(limits::max()))
        out_of_range(std::to_string(x));
    } else {
      if (x < 0 || static_cast<uint64_t>(x) > limits::max())
        out_of_range(std::to_string(x));
    }
    out = static_cast<Int>(x);
  } else if (v.is_uint64()) {
    auto x = v.get_uint64();
    if (x > static_cast<uint64_t>(limits::max()))
      out_of_range(std::to_string(x));
    out = static_cast<Int>(x);
  } else if (v.is_double()) {
    auto x = v.get_double();
    if (std::trunc(x) != x)
      fail(path, "expected integer, got fraction " + std::to_string(x));
    if (x < static_cast<double>(limits::min())
        || x > static_cast<double>(limits::max()))
      out_of_range(std::to_string(x));
    out = static_cast<Int>(x);
  } else {
    mismatch(path, "integer", v);
  }
}

template <class T>
void decode_value(const boost::json::value& v, T& out,
                  const std::string& path) {
  if constexpr (std::is_same_v<T, boost::json::value>) {
    out = v;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_bool())
      mismatch(path, "boolean", v);
    out = v.get_bool();
  } else if constexpr (std::is_integral_v<T>) {
    decode_integer(v, out, path);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number())
      mismatch(path, "number", v);
    out = static_cast<T>(v.to_number<double>());
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string())
      mismatch(path, "string", v);
    out.assign(v.get_string().data(), v.get_string().size());
  } else if constexpr (is_optional<T>::value) {
    if (v.is_null()) {
      out.reset();
    } else {
      typename T::value_type x{};
      decode_value(v, x, path);
      out = std::move(x);
    }
  } else if constexpr (is_vector<T>::value) {
    if (!v.is_array())
      mismatch(path, "array", v);
    const auto& arr = v.get_array();
    out.clear();
    out.reserve(arr.size());
    for (size_t i = 0; i < arr.size(); ++i) {
      typename T::value_type x{};
      decode_value(arr[i], x, path + "[" + std::to_string(i) + "]");
      out.push_back(std::move(x));
    }
  } else if constexpr (is_string_map<T>::value) {
    if (!v.is_object())
      mismatch(path, "object", v);
    out.clear();
    for (const auto& kv : v.get_object()) {
      std::string key{kv.key()};
      typename T::mapped_type x{};
      decode_value(kv.value(), x, path + "[\"" + key + "\"]");
      out.emplace(std::move(key), std::move(x));
    }
  } else if constexpr (is_described<T>) {
    if (!v.is_object())
      mismatch(path, "object", v);
    const auto& obj = v.get_object();
    using members
      = boost::describe::describe_members<T, boost::describe::mod_public>;
    std::string known;
    boost::mp11::mp_for_each<members>([&](auto m) {
      known += known.empty() ? "" : ", ";
      known += m.name;
    });
    for (const auto& kv : obj) {
      bool found = false;
      boost::mp11::mp_for_each<members>(
        [&](auto m) { found = found || kv.key() == m.name; });
      if (!found)
        fail(member_path(path, kv.key()),
             "unknown field (known fields: "
               + (known.empty() ? std::string{"none"} : known) + ")");
    }
    boost::mp11::mp_for_each<members>([&](auto m) {
      auto& field = out.*m.pointer;
      using field_type = std::remove_reference_t<decltype(field)>;
      auto sub = member_path(path, m.name);
      if (const auto* x = obj.if_contains(m.name)) {
        decode_value(*x, field, sub);
      } else if constexpr (is_optional<field_type>::value) {
        field.reset();
      } else {
        fail(sub, "missing (fields that may be absent must be std::optional)");
      }
    });
  } else {
    static_assert(sizeof(T) == 0,
                  "weft::json: unsupported field type; use strings, numbers, "
                  "booleans, std::optional, std::vector, std::map<std::string, "
                  "T> or described structs");
  }
}

} // namespace detail

/// Parses JSON text; malformed text throws `weft::error` (invalid_input)
/// saying where it stopped making sense.
inline boost::json::value parse(std::string_view text) {
  boost::json::stream_parser p;
  boost::system::error_code ec;
  auto n = p.write_some(text.data(), text.size(), ec);
  if (!ec && n < text.size())
    ec = boost::json::error::extra_data;
  if (!ec)
    p.finish(ec);
  if (ec)
    throw error(errc::invalid_input,
                "malformed JSON at offset " + std::to_string(n) + ": "
                  + ec.message());
  return p.release();
}

/// Encodes `x` as a JSON value; NaN or infinity throw `weft::error`.
template <class T>
boost::json::value to_value(const T& x) {
  return detail::encode_value(x, std::string{});
}

/// Encodes `x` as JSON text.
template <class T>
std::string encode(const T& x) {
  return boost::json::serialize(to_value(x));
}

/// Decodes a JSON value into a `T`; throws `weft::error` (invalid_input)
/// naming the offending field.
template <class T>
T from_value(const boost::json::value& v) {
  T result{};
  detail::decode_value(v, result, std::string{});
  return result;
}

/// Parses and decodes JSON text.
template <class T>
T decode(std::string_view text) {
  return from_value<T>(parse(text));
}

} // namespace weft::json
