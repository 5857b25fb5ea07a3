#pragma once

#include "weft/client.hpp"
#include "weft/workflow_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <tuple>
#include <type_traits>
#include <variant>

namespace weft {

/// Makes a client on an orchestrator's service (the constructor is not
/// part of the API).
struct job_client_access {
  static job_client make(std::shared_ptr<job_client::impl> ptr) {
    return job_client{std::move(ptr)};
  }
};

/// A blocking request/response channel over an orchestrator's public
/// `workflow_actor`: each call sends the message an actor program would.
struct job_client::impl {
  caf::actor_system& sys;
  std::chrono::milliseconds timeout{std::chrono::seconds{60}};
  /// Keeps an actor system weft created alive while this client exists
  /// (calls then fail cleanly once the orchestrator is gone).
  std::shared_ptr<void> keep_alive;
  /// For a remote orchestrator: finds its job service again after the
  /// connection dropped.
  std::function<workflow_actor()> reconnect;

  impl(caf::actor_system& s, workflow_actor svc,
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

  /// The orchestrator's workflow actor as of now.
  workflow_actor service() {
    std::lock_guard<std::mutex> guard{mtx_};
    return service_;
  }

  /// After a lost connection: connects again (throws if it cannot).
  void reconnect_now() {
    auto svc = reconnect();
    std::lock_guard<std::mutex> guard{mtx_};
    service_ = std::move(svc);
  }

private:
  /// One request; it fails at once (instead of at its timeout) when the
  /// service's node goes away while it is pending. The timeout is kept
  /// here, not as a CAF request timeout: CAF 0.17's clock keeps a request
  /// timeout, and with it the requesting actor, until it expires even when
  /// the answer came long before (a wait of an hour held each helper actor
  /// for an hour).
  template <class T, class... Ts>
  std::variant<T, caf::error> try_ask(std::chrono::milliseconds wait_for,
                                      const Ts&... xs) {
    workflow_actor svc;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      svc = service_;
    }
    using outcome = std::variant<T, caf::error>;
    auto result = std::make_shared<std::promise<outcome>>();
    auto future = result->get_future();
    auto args = std::make_tuple(xs...);
    auto helper = sys.spawn([svc, result, args](caf::event_based_actor* self) {
      auto done = std::make_shared<bool>(false);
      // Demonitors before quitting: the service keeps a monitor's record
      // (and with it this actor's memory) until it is removed.
      auto deliver = [self, svc, result, done](outcome x) {
        if (*done)
          return;
        *done = true;
        self->demonitor(svc.address());
        result->set_value(std::move(x));
        self->quit();
      };
      self->monitor(svc);
      self->set_down_handler([deliver](caf::down_msg& msg) {
        deliver(msg.reason ? msg.reason
                           : caf::error{caf::sec::request_receiver_down});
      });
      self->set_exit_handler([deliver](caf::exit_msg& msg) {
        deliver(msg.reason); // the caller gave up (its timeout)
      });
      std::apply(
        [&](const auto&... ys) {
          self->request(svc, caf::infinite, ys...)
            .then([deliver](T& x) { deliver(std::move(x)); },
                  [deliver](caf::error& e) { deliver(std::move(e)); });
        },
        args);
    });
    if (future.wait_for(wait_for) == std::future_status::timeout) {
      caf::anon_send_exit(helper, caf::exit_reason::user_shutdown);
      auto late = future.get(); // the helper answers its exit at once
      if (late.index() == 0)
        return late; // the answer came just before the exit
      return caf::error{caf::sec::request_timeout};
    }
    return future.get();
  }

  std::mutex mtx_;
  workflow_actor service_;
};

} // namespace weft
