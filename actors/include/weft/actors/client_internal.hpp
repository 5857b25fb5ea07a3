#pragma once

#include "weft/actors/fwd.hpp"
#include "weft/client.hpp"

#include <optional>

namespace weft {

/// A blocking request/response channel to a job service.
struct job_client::impl {
  caf::actor_system& sys;
  job_service_actor service;
  std::chrono::milliseconds timeout{std::chrono::seconds{60}};
  /// Keeps an actor system weft created alive while this client exists
  /// (calls then fail cleanly once the orchestrator is gone).
  std::shared_ptr<void> keep_alive;

  impl(caf::actor_system& s, job_service_actor svc,
       std::shared_ptr<void> owner = nullptr)
    : sys(s), service(std::move(svc)), keep_alive(std::move(owner)) {
  }

  template <class T, class... Ts>
  T ask(std::chrono::milliseconds wait_for, Ts&&... xs) {
    caf::scoped_actor self{sys};
    std::optional<T> result;
    caf::error err;
    self->request(service, caf::duration{wait_for}, std::forward<Ts>(xs)...)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& e) { err = std::move(e); });
    if (err)
      throw to_weft_error(err);
    return std::move(*result);
  }
};

} // namespace weft
