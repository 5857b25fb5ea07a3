// Task actors: one event-based actor per attempt of an actor task, on its
// runner's actor system. It builds the attempt's context, starts the task
// (which returns the behavior it becomes) and reports the outcome to the
// runner actor exactly as a worker thread does; its job monitors it while
// it runs (docs/semantics.md, "Actor tasks").

#include "weft/actor_task.hpp"
#include "weft/actors/runner_actor.hpp"

#include <caf/all.hpp>

#include <exception>
#include <optional>

namespace weft {

namespace detail {

/// One running attempt of an actor task, inside its task actor.
class task_attempt {
public:
  task_attempt(std::shared_ptr<runner_shared> shared, runner_shared::lease l)
      : shared_(std::move(shared)), spec_(std::move(l.spec)), epoch_(l.epoch),
        entry_(l.entry),
        live_(*shared_, spec_.job,
              attempt_id{spec_.task, spec_.attempt, spec_.seq, spec_.lease}),
        ctx_(task_info(), shared_->cache, shared_->limits, &live_, this) {
  }

  bool ended() const noexcept {
    return ended_;
  }

  /// Finds the task and starts it on `self`; returns the behavior to become
  /// (empty once the attempt ended, or when the task returned none).
  caf::behavior start(caf::event_based_actor* self) {
    ctx_.self_ = self;
    started_ = now();
    {
      std::lock_guard<std::mutex> guard{shared_->actors_mtx};
      shared_->task_actors.emplace(key(), caf::actor_cast<caf::actor>(self));
    }
    try {
      // The runner found the actor task's entry when the lease came (an
      // unknown identifier goes to a thread, which reports it).
      auto input = json::parse(spec_.input);
      entry_->actor_run(input, ctx_);
    } catch (const std::exception& e) {
      finish(false, e.what());
      return {};
    } catch (...) {
      finish(false, "execute threw an exception that is not a std::exception");
      return {};
    }
    if (ended_)
      return {};
    return std::move(ctx_.behavior_);
  }

  /// Ends the attempt, once: its outcome goes to the runner actor of the
  /// current connection (or waits for the next one), its actor slot is free.
  void finish(bool ok, std::string_view failure) {
    if (ended_)
      return;
    ended_ = true;
    live_.end();
    auto out = finish_attempt(ctx_.ctx_, ok, failure, started_, shared_->name);
    if (shared_->print_logs)
      print_attempt_logs(ctx_.current_task().id, out);
    task_result result{spec_.task, spec_.attempt, spec_.lease, std::move(out)};
    {
      // Uncounted before the runner actor hears of it, so that the slot it
      // frees is free when the result arrives.
      std::lock_guard<std::mutex> guard{shared_->actors_mtx};
      --shared_->actors_running;
      shared_->task_actors.erase(key());
    }
    runner_actor wake;
    {
      std::lock_guard<std::mutex> guard{shared_->lease_mtx};
      if (!shared_->current) {
        shared_->orphans.push_back(
          {std::move(spec_.job_id), std::move(result)});
        return;
      }
      auto& ended = shared_->actors_ended;
      ended.push_back({std::move(spec_.job), std::move(spec_.job_id), epoch_,
                       std::move(result)});
      if (ended.size() == 1 || shared_->actors_woken != shared_->current) {
        shared_->actors_woken = shared_->current;
        wake = shared_->current;
      }
    }
    if (wake)
      caf::anon_send(wake, atom::done_v);
  }

  /// The job's cooperative cancel, if it comes from the job.
  void cancel(caf::scheduled_actor* self) {
    if (ended_ || ctx_.canceled_
        || caf::actor_cast<caf::actor_addr>(self->current_sender())
             != spec_.job.address())
      return;
    ctx_.canceled_ = true;
    if (ctx_.on_cancel_) {
      auto fn = ctx_.on_cancel_; // it may replace itself
      fn();
    }
  }

private:
  runner_shared::lease_key key() const {
    return {spec_.job.id(), spec_.lease};
  }

  current_task_info task_info() const {
    current_task_info task;
    task.job_id = spec_.job_id;
    task.id = spec_.job_id + "/" + std::to_string(spec_.task);
    task.identifier = spec_.identifier;
    task.attempt = spec_.attempt;
    task.runner = shared_->name;
    return task;
  }

  std::shared_ptr<runner_shared> shared_;
  dispatch_spec spec_;
  uint64_t epoch_;
  const task_registry::entry* entry_;
  live_registration live_;
  actor_context ctx_;
  timestamp started_ = 0;
  bool ended_ = false; // only its task actor touches it
};

} // namespace detail

namespace {

std::string exception_text(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "a handler threw an exception that is not a std::exception";
  }
}

/// The task actor: an event-based actor holding its attempt, so that one
/// allocation carries both. The attempt (its context) is made when the
/// actor begins, on its own scheduler thread rather than its runner's.
class task_actor : public caf::event_based_actor {
public:
  task_actor(caf::actor_config& cfg, std::shared_ptr<runner_shared> shared,
             runner_shared::lease lease)
      : caf::event_based_actor(cfg), shared_(std::move(shared)),
        lease_(std::move(lease)) {
  }

  caf::behavior make_behavior() override {
    begin();
    // Handlers capture `this` only: trivially copied, never allocated.
    set_exception_handler(
      [this](caf::scheduled_actor*, std::exception_ptr& ep) -> caf::error {
        attempt_->finish(false, exception_text(ep));
        return caf::exit_reason::unhandled_exception;
      });
    // The job's cancel reaches the task through the default handler: the
    // task's behavior (whatever it becomes) does not handle weft's atom.
    // Anything else unexpected is dropped as CAF does.
    set_default_handler(
      [this](caf::scheduled_actor* s,
             caf::message_view& x) -> caf::result<caf::message> {
        if (x.content().match_elements<atom::cancel>()) {
          attempt_->cancel(s);
          return caf::message{};
        }
        return caf::print_and_drop(s, x);
      });
    auto bhvr = attempt_->start(this);
    if (attempt_->ended())
      quit();
    return bhvr; // empty: it quits unless it awaits responses
  }

  /// However it exits without done() or fail() (a quit, a kill, an
  /// exception, an exit message), the attempt fails with the reason.
  void on_exit() override {
    begin(); // an actor that never ran still ends its attempt
    if (!attempt_->ended())
      attempt_->finish(false, "the task actor exited without done() or fail(): "
                                + home_system().render(fail_state()));
    caf::event_based_actor::on_exit();
  }

  const char* name() const override {
    return "weft.task";
  }

private:
  void begin() {
    if (!attempt_)
      attempt_.emplace(std::move(shared_), std::move(lease_));
  }

  std::shared_ptr<runner_shared> shared_; // until the attempt is made
  runner_shared::lease lease_;
  std::optional<detail::task_attempt> attempt_;
};

} // namespace

void spawn_task_actors(caf::actor_system& sys,
                       const std::shared_ptr<runner_shared>& shared,
                       std::vector<runner_shared::lease> leases) {
  constexpr size_t per_helper = 32;
  if (leases.size() <= 2) {
    for (auto& l : leases)
      sys.spawn<task_actor>(shared, std::move(l));
    return;
  }
  auto all
    = std::make_shared<std::vector<runner_shared::lease>>(std::move(leases));
  for (size_t first = 0; first < all->size(); first += per_helper) {
    auto last = std::min(all->size(), first + per_helper);
    // Hidden: nothing waits for it; it spawns its share and is gone. The
    // scheduler places the helpers on its workers.
    sys.spawn<caf::hidden>(
      [shared, all, first, last](caf::event_based_actor* helper) {
        // On the helper's own worker: they run there next, and a worker
        // with nothing to do steals from a queue of a few dozen.
        for (auto i = first; i < last; ++i)
          helper->spawn<task_actor>(shared, std::move((*all)[i]));
      });
  }
}

void actor_context::done() {
  attempt_->finish(true, {});
  if (self_ != nullptr)
    self_->quit();
}

void actor_context::fail(std::string reason) {
  attempt_->finish(false, reason);
  if (self_ != nullptr)
    self_->quit();
}

bool actor_context::ended() const noexcept {
  return attempt_->ended();
}

void actor_context::on_cancel(std::function<void()> fn) {
  on_cancel_ = std::move(fn);
  if (canceled_ && !ended() && on_cancel_) {
    auto run = on_cancel_;
    run();
  }
}

void actor_context::check_running(const char* what) const {
  if (attempt_->ended())
    throw error(errc::invalid_state,
                std::string{what} + " after the attempt of task "
                  + ctx_.current_task().id
                  + " ended (done() or fail() was called)");
}

} // namespace weft
