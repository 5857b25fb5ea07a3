#pragma once

#include "weft/identifier.hpp"

#include <boost/core/type_name.hpp>
#include <boost/describe.hpp>

#include <cstdint>
#include <string>
#include <type_traits>

namespace weft {

class context;
class actor_context;

/// A plain task: a struct with `void execute(weft::context&) const` whose
/// fields are described with BOOST_DESCRIBE_STRUCT (they are its JSON
/// input). It runs on one of its runner's threads.
///
/// The description is not part of the concept on purpose: a task that
/// submits itself from an inline `execute` is checked before the
/// BOOST_DESCRIBE_STRUCT line that follows the struct, and a concept's
/// answer is fixed at its first check. Registration asserts it instead.
template <class T>
concept plain_task_type = requires(const T& t, context& ctx) {
  { t.execute(ctx) } -> std::same_as<void>;
};

/// An actor task: `caf::behavior execute(weft::actor_context&) const`
/// (weft/actor_task.hpp), run as an event-based actor on its runner's actor
/// system. `actor_context` is not a `context` (nor derived from one), so
/// whether it is complete where this is first checked cannot change the
/// answer.
template <class T>
concept actor_task_type
  = !plain_task_type<T> && requires(const T& t, actor_context& ctx) {
  t.execute(ctx);
};

/// Either kind: what can be submitted, registered and run.
template <class T>
concept task_type = plain_task_type<T> || actor_task_type<T>;

/// How a registered task runs: on a thread of its runner, or as a task
/// actor.
enum class task_kind : uint8_t { plain = 0, actor = 1 };

namespace detail {

template <class T>
concept has_static_identifier = requires {
  { T::identifier() } -> std::convertible_to<task_identifier>;
};

/// The unqualified type name: Tilebox's default identifier is the class name.
template <class T>
std::string short_type_name() {
  auto full = boost::core::type_name<T>();
  auto angle = full.find('<');
  auto scope = full.rfind("::", angle);
  return scope == std::string::npos ? full : full.substr(scope + 2);
}

} // namespace detail

/// The identifier of task type `T`: `T::identifier()` when it exists, else
/// (unqualified type name, "v0.0"). Not validated here; see
/// `validated_identifier_of`.
template <class T>
task_identifier identifier_of() {
  if constexpr (detail::has_static_identifier<T>)
    return T::identifier();
  else
    return task_identifier{detail::short_type_name<T>(), "v0.0"};
}

/// `identifier_of<T>()`, checked once per type; throws `weft::error`
/// (invalid_identifier) naming the type and the rule it breaks.
template <class T>
const task_identifier& validated_identifier_of() {
  static const task_identifier id = [] {
    auto x = identifier_of<T>();
    validate_identifier(x, boost::core::type_name<T>());
    return x;
  }();
  return id;
}

} // namespace weft
