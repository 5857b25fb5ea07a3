#pragma once

#include "weft/actors/fwd.hpp"
#include "weft/client.hpp"

#include <functional>
#include <mutex>
#include <optional>
#include <tuple>
#include <type_traits>
#include <variant>

namespace weft {

/// A blocking request/response channel to a job service.
struct job_client::impl {
  caf::actor_system& sys;
  std::chrono::milliseconds timeout{std::chrono::seconds{60}};
  /// Keeps an actor system weft created alive while this client exists
  /// (calls then fail cleanly once the orchestrator is gone).
  std::shared_ptr<void> keep_alive;
  /// For a remote orchestrator: finds its job service again after the
  /// connection dropped.
  std::function<job_service_actor()> reconnect;

  impl(caf::actor_system& s, job_service_actor svc,
       std::shared_ptr<void> owner = nullptr)
    : sys(s), keep_alive(std::move(owner)), service_(std::move(svc)) {
  }

  template <class T, class... Ts>
  T ask(std::chrono::milliseconds wait_for, Ts&&... xs) {
    auto err = try_ask<T>(wait_for, xs...);
    if (err.index() == 0)
      return std::move(std::get<0>(err));
    auto& e = std::get<1>(err);
    if (!reconnect || e.category() == caf::atom("weft")
        || e == caf::sec::request_timeout)
      throw to_weft_error(e);
    // The orchestrator's node went away: connect again (it may have
    // restarted from its journal). A submission is not repeated, since it
    // may have been acknowledged just before the loss.
    {
      auto svc = reconnect();
      std::lock_guard<std::mutex> guard{mtx_};
      service_ = std::move(svc);
    }
    using first = std::decay_t<std::tuple_element_t<0, std::tuple<Ts...>>>;
    if constexpr (std::is_same_v<first, atom::submit>) {
      throw error(errc::unreachable,
                  "the connection to the orchestrator dropped during the "
                  "submission; it may or may not have been accepted: check "
                  "`weft jobs` before submitting again");
    } else {
      auto again = try_ask<T>(wait_for, xs...);
      if (again.index() == 0)
        return std::move(std::get<0>(again));
      throw to_weft_error(std::get<1>(again));
    }
  }

private:
  template <class T, class... Ts>
  std::variant<T, caf::error> try_ask(std::chrono::milliseconds wait_for,
                                      const Ts&... xs) {
    job_service_actor svc;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      svc = service_;
    }
    caf::scoped_actor self{sys};
    std::optional<T> result;
    caf::error err;
    self->request(svc, caf::duration{wait_for}, xs...)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& e) { err = std::move(e); });
    if (err)
      return err;
    return std::move(*result);
  }

  std::mutex mtx_;
  job_service_actor service_;
};

} // namespace weft
