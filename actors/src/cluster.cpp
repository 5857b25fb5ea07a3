#include "weft/actors/cluster.hpp"
#include "weft/actors/messages.hpp"

#include "weft/core/dispatch_queue.hpp"

#include <caf/all.hpp>

#include <map>

namespace weft {

namespace {

using cluster_queue
  = core::dispatch_queue<dispatch_spec, caf::actor_addr, dispatch_ticket>;

/// One cluster: its runners, and the rules of `core::dispatch_queue` for
/// what each of them runs. The handlers only move messages.
///
/// It monitors its runners and the jobs it holds work of: a runner that
/// goes hands back what its job has not settled, a job that goes takes its
/// work with it (nobody would settle or start it, and `idle` would never
/// answer). A job stays monitored for as long as it lives, not only while
/// its work is here: one map entry per job, and a down message when it
/// ends, cost less than counting each job's items on every dispatch and
/// settle.
class cluster_state {
public:
  using pointer = cluster_actor::stateful_pointer<cluster_state>;

  void init(pointer self, std::string name) {
    self_ = self;
    name_ = std::move(name);
    self->set_down_handler([this](caf::down_msg& msg) { down(msg.source); });
  }

  /// New attempts from a job, and the dispatches it has processed.
  void enqueue(std::vector<dispatch_spec>& batch,
               const std::vector<uint64_t>& settled) {
    watch_jobs(batch);
    queue_.enqueue(batch);
    queue_.settle(settled);
    dispatch();
    answer_idle_waiters();
  }

  void withdraw(const std::string& job_id) {
    queue_.withdraw(job_id);
    answer_idle_waiters();
  }

  caf::result<bool> join(runner_actor& runner, runner_registration& reg) {
    for (const auto& id : reg.identifiers) {
      try {
        validate_identifier(id);
      } catch (const error& err) {
        return make_weft_error(errc::invalid_identifier,
                               "runner " + reg.name
                                 + " registered a bad task: " + err.what());
      }
    }
    auto addr = caf::actor_cast<caf::actor_addr>(runner);
    queue_.add_runner(addr, reg.identifiers);
    self_->monitor(runner);
    runners_.push_back({addr, std::move(runner), std::move(reg)});
    return true;
  }

  void credit(const runner_actor& runner, uint32_t n) {
    queue_.add_credit(caf::actor_cast<caf::actor_addr>(runner), n);
    dispatch();
  }

  /// Answers once nothing is in flight and nothing queued is for `runner`.
  caf::result<bool> idle(const runner_actor& runner) {
    auto addr = caf::actor_cast<caf::actor_addr>(runner);
    if (queue_.idle_for(addr))
      return true;
    auto rp = self_->make_response_promise<bool>();
    idle_waiters_.emplace_back(addr, rp);
    return rp;
  }

  /// A graceful leave: everything sent so far reaches the runner before
  /// this reply, and it runs it.
  bool leave(const runner_actor& runner) {
    auto addr = caf::actor_cast<caf::actor_addr>(runner);
    self_->demonitor(addr);
    queue_.forget_runner(addr);
    forget(addr);
    return true;
  }

  cluster_info info() const {
    cluster_info out;
    out.name = name_;
    for (const auto& r : runners_)
      out.runners.push_back(r.reg);
    out.dispatched = queue_.dispatched();
    out.queued = queue_.queued();
    out.unserved = queue_.unserved();
    return out;
  }

  static inline const char* name = "weft.cluster";

private:
  struct runner_entry {
    caf::actor_addr addr;
    runner_actor handle;
    runner_registration reg;
  };

  void dispatch() {
    for (auto& [addr, batch] : queue_.dispatch())
      for (const auto& r : runners_)
        if (r.addr == addr) {
          self_->send(r.handle, atom::run_v, std::move(batch));
          break;
        }
  }

  /// Monitors the jobs of `batch` it did not know yet.
  void watch_jobs(const std::vector<dispatch_spec>& batch) {
    caf::actor_addr last;
    for (const auto& spec : batch) {
      auto addr = spec.job.address();
      if (!spec.job || addr == last)
        continue;  // a batch is mostly one job's
      last = addr;
      if (jobs_.emplace(addr, spec.job_id).second)
        self_->monitor(spec.job);
    }
  }

  void down(const caf::actor_addr& source) {
    if (auto i = jobs_.find(source); i != jobs_.end()) {
      job_lost(i->second);
      jobs_.erase(i);
    } else {
      runner_lost(source);
    }
  }

  /// Its queued work and its dispatches go; runners return the credit of
  /// those they hold themselves (see dispatch_queue::forget_job).
  void job_lost(const std::string& job_id) {
    queue_.forget_job(job_id);
    answer_idle_waiters();
  }

  /// Whatever it was sent and its job has not heard of yet goes back to the
  /// jobs; those that did start are settled through the job's monitors.
  void runner_lost(const caf::actor_addr& addr) {
    for (auto& [seq, t] : queue_.remove_runner(addr))
      self_->send(t.job, atom::lost_v, t.task, t.attempt, seq);
    forget(addr);
  }

  void forget(const caf::actor_addr& addr) {
    runners_.erase(std::remove_if(runners_.begin(), runners_.end(),
                                  [&](const runner_entry& r) {
                                    return r.addr == addr;
                                  }),
                   runners_.end());
    answer_idle_waiters();
  }

  void answer_idle_waiters() {
    if (idle_waiters_.empty() || queue_.any_in_flight())
      return;
    auto& ws = idle_waiters_;
    for (auto i = ws.begin(); i != ws.end();) {
      if (queue_.idle_for(i->first)) {
        i->second.deliver(true);
        i = ws.erase(i);
      } else {
        ++i;
      }
    }
  }

  pointer self_ = nullptr;
  std::string name_;
  std::vector<runner_entry> runners_;
  std::map<caf::actor_addr, std::string> jobs_;  // monitored, with their ids
  cluster_queue queue_;
  std::vector<std::pair<caf::actor_addr, caf::typed_response_promise<bool>>>
    idle_waiters_;
};

cluster_actor::behavior_type cluster_fn(cluster_state::pointer self,
                                        std::string name) {
  auto& st = self->state;
  st.init(self, std::move(name));
  return {
    [&st](atom::enqueue, std::vector<dispatch_spec>& batch,
          const std::vector<uint64_t>& settled) { st.enqueue(batch, settled); },
    [&st](atom::withdraw, const std::string& job_id) { st.withdraw(job_id); },
    [&st](atom::join, runner_actor& runner, runner_registration& reg) {
      return st.join(runner, reg);
    },
    [&st](atom::credit, const runner_actor& runner, uint32_t n) {
      st.credit(runner, n);
    },
    [&st](atom::idle, const runner_actor& runner) { return st.idle(runner); },
    [&st](atom::stop, const runner_actor& runner) { return st.leave(runner); },
    [&st](atom::info) { return st.info(); },
  };
}

} // namespace

cluster_actor spawn_cluster(caf::actor_system& sys, std::string name) {
  return sys.spawn(cluster_fn, std::move(name));
}

} // namespace weft
