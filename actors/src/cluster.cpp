#include "weft/actors/cluster.hpp"
#include "weft/actors/messages.hpp"
#include "weft/actors/metrics.hpp"

#include "weft/core/dispatch_queue.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
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
///
/// It also decides its own deletion (`remove`), so that no work can arrive
/// between the check that it has none and the deletion: it refuses while a
/// runner is joined or an attempt is queued or in flight, and otherwise,
/// in the same handler, stops taking work. Until the job service says
/// whether the deletion is journaled, what could add work (enqueue, join,
/// and withdraw, to keep their order) waits; then the cluster either opens
/// again and takes it, or refuses it: every enqueue from then on goes back
/// to its job, which looks the name up again (job.cpp, cluster_deleted).
/// Jobs may hold its handle long after the directory forgot its name, so
/// the actor lives on, deleted, for as long as they do.
class cluster_state {
public:
  using pointer = cluster_actor::stateful_pointer<cluster_state>;

  void init(pointer self, std::string name, std::shared_ptr<metrics> registry) {
    self_ = self;
    name_ = std::move(name);
    registry_ = registry ? std::move(registry) : std::make_shared<metrics>();
    meters_ = &registry_->cluster(name_);
    self->set_down_handler([this](caf::down_msg& msg) { down(msg.source); });
  }

  /// New attempts from a job, and the dispatches it has processed.
  void enqueue(std::vector<dispatch_spec>& batch,
               const std::vector<uint64_t>& settled) {
    if (life_ == life::deleting) {
      hold([this, batch = std::move(batch), settled]() mutable {
        enqueue(batch, settled);
      });
      return;
    }
    if (life_ == life::deleted) {
      refuse(batch);
      return;
    }
    watch_jobs(batch);
    if (!batch.empty()) {
      auto at = steady_ns();
      for (auto& spec : batch)
        spec.queued_at = at;
    }
    queue_.enqueue(batch);
    queue_.settle(settled);
    dispatch();
    answer_idle_waiters();
  }

  /// Revocation: the job's queued attempts go, and each runner holding
  /// leases of it drops those it has not started. Answers once all of them
  /// confirmed, or after `revoke_timeout` (a silent runner is about to be
  /// declared lost anyway, and its leases with it).
  caf::result<uint64_t> withdraw(const std::string& job_id) {
    auto rp = self_->make_response_promise<uint64_t>();
    if (life_ == life::deleting) {
      hold([this, job_id, rp]() mutable { revoke(job_id, rp); });
      return rp;
    }
    revoke(job_id, rp);
    return rp;
  }

  caf::result<bool> join(runner_actor& runner, runner_registration& reg) {
    if (life_ == life::deleting) {
      auto rp = self_->make_response_promise<bool>();
      hold([this, rp, runner, reg]() mutable {
        if (auto err = admit(runner, reg))
          rp.deliver(std::move(err));
        else
          rp.deliver(true);
      });
      return rp;
    }
    if (auto err = admit(runner, reg))
      return err;
    return true;
  }

  void credit(const runner_actor& runner, uint32_t plain, uint32_t actor) {
    queue_.add_credit(caf::actor_cast<caf::actor_addr>(runner), plain, actor);
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

  /// The decision to delete: refused while the cluster is in use, else it
  /// takes no work until `finish_removal` says whether the deletion is
  /// journaled. Only whoever asked may finish it, and only a local actor
  /// (the job service, which journals the deletion and takes the name out
  /// of the directory first) may ask: other nodes delete through it.
  caf::result<bool> remove() {
    auto sender = self_->current_sender();
    if (!sender || sender->node() != self_->node())
      return make_weft_error(errc::refused,
                             "clusters are deleted through the job service");
    if (auto err = in_use())
      return err;
    life_ = life::deleting;
    remover_ = caf::actor_cast<caf::actor_addr>(sender);
    return true;
  }

  /// The deletion is journaled (`durable`) or could not be: what waited is
  /// refused back to its jobs, or taken as if nothing had happened.
  void finish_removal(bool durable) {
    if (life_ != life::deleting
        || caf::actor_cast<caf::actor_addr>(self_->current_sender())
             != remover_)
      return;
    life_ = durable ? life::deleted : life::open;
    auto held = std::move(held_);
    held_.clear();
    for (auto& fn : held)
      fn();
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

  /// open -> deleting (decided, not yet journaled) -> deleted, or back to
  /// open if the journal refused the deletion.
  enum class life : uint8_t { open, deleting, deleted };

  void hold(std::function<void()> fn) {
    held_.push_back(std::move(fn));
  }

  /// Adds a runner, or says why not.
  caf::error admit(runner_actor& runner, runner_registration& reg) {
    if (life_ == life::deleted)
      return make_weft_error(errc::unknown_cluster,
                             "cluster " + name_ + " was deleted");
    for (const auto& id : reg.identifiers) {
      try {
        validate_identifier(id);
      } catch (const error& err) {
        return make_weft_error(errc::invalid_identifier,
                               "runner " + reg.name
                                 + " registered a bad task: " + err.what());
      }
    }
    for (const auto& id : reg.actor_tasks)
      if (std::find(reg.identifiers.begin(), reg.identifiers.end(), id)
          == reg.identifiers.end())
        return make_weft_error(errc::invalid_identifier,
                               "runner " + reg.name + " registered actor task "
                                 + to_string(id)
                                 + " that is not among its tasks");
    auto addr = caf::actor_cast<caf::actor_addr>(runner);
    queue_.add_runner(addr, reg.identifiers, reg.actor_tasks);
    self_->monitor(runner);
    runners_.push_back({addr, std::move(runner), std::move(reg)});
    return {};
  }

  /// Why the cluster may not be deleted now, if it may not.
  caf::error in_use() const {
    if (life_ != life::open)
      return make_weft_error(errc::refused,
                             "cluster " + name_
                               + (life_ == life::deleting ? " is being deleted"
                                                          : " was deleted"));
    if (!runners_.empty()) {
      std::string names;
      for (const auto& r : runners_)
        names += (names.empty() ? "" : ", ") + r.reg.name;
      return make_weft_error(errc::refused,
                             "cluster " + name_ + " has "
                               + std::to_string(runners_.size())
                               + " live runner(s) (" + names
                               + "): stop them before deleting it");
    }
    if (auto n = queue_.queued() + queue_.dispatched(); n > 0)
      return make_weft_error(errc::refused,
                             "cluster " + name_ + " still has "
                               + std::to_string(n)
                               + " task(s) to run: cancel their jobs before "
                                 "deleting it");
    return {};
  }

  /// Sends each job of `batch` those of its attempts that this deleted
  /// cluster will not run (seq 0: never queued here). The settled seqs
  /// that came with them need nothing: none was in flight here once the
  /// deletion was decided.
  void refuse(const std::vector<dispatch_spec>& batch) {
    std::map<caf::actor_addr, std::pair<job_actor, std::vector<attempt_id>>>
      by_job;
    for (const auto& spec : batch) {
      if (!spec.job)
        continue;
      auto& entry = by_job[spec.job.address()];
      entry.first = spec.job;
      entry.second.push_back(attempt_id{spec.task, spec.attempt, 0});
    }
    for (auto& [addr, entry] : by_job)
      self_->send(entry.first, atom::remove_v, std::move(entry.second));
  }

  void dispatch() {
    auto batches = queue_.dispatch();
    if (batches.empty())
      return;
    auto at = steady_ns();
    for (auto& [addr, batch] : batches) {
      for (const auto& spec : batch)
        meters_->dispatch_latency.observe(at - spec.queued_at);
      for (const auto& r : runners_)
        if (r.addr == addr) {
          self_->send(r.handle, atom::run_v, std::move(batch));
          break;
        }
    }
  }

  static int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
  }

  /// Monitors the jobs of `batch` it did not know yet.
  void watch_jobs(const std::vector<dispatch_spec>& batch) {
    caf::actor_addr last;
    for (const auto& spec : batch) {
      auto addr = spec.job.address();
      if (!spec.job || addr == last)
        continue; // a batch is mostly one job's
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
  /// jobs, one message per job; those that did start are settled through
  /// the job's monitors.
  void runner_lost(const caf::actor_addr& addr) {
    std::map<caf::actor_addr, std::pair<job_actor, std::vector<attempt_id>>>
      by_job;
    for (auto& [seq, t] : queue_.remove_runner(addr)) {
      auto& entry = by_job[t.job.address()];
      entry.first = t.job;
      entry.second.push_back(attempt_id{t.task, t.attempt, seq, t.lease});
    }
    for (auto& [job, entry] : by_job)
      self_->send(entry.first, atom::lost_v, std::move(entry.second));
    forget(addr);
  }

  void revoke(const std::string& job_id,
              caf::typed_response_promise<uint64_t> rp) {
    queue_.withdraw(job_id);
    struct tally {
      caf::typed_response_promise<uint64_t> rp;
      size_t waiting = 0;
      uint64_t revoked = 0;
    };
    auto t = std::make_shared<tally>();
    t->rp = std::move(rp);
    for (const auto& key : queue_.holders(job_id))
      for (const auto& r : runners_)
        if (r.addr == key) {
          ++t->waiting;
          self_->request(r.handle, revoke_timeout, atom::withdraw_v, job_id)
            .then(
              [this, t](const std::vector<uint64_t>& seqs) {
                // Dropped unstarted: nothing of theirs will reach the job.
                queue_.settle(seqs);
                t->revoked += seqs.size();
                if (--t->waiting == 0)
                  t->rp.deliver(t->revoked);
                answer_idle_waiters();
              },
              [t](caf::error&) {
                if (--t->waiting == 0)
                  t->rp.deliver(t->revoked);
              });
          break;
        }
    if (t->waiting == 0)
      t->rp.deliver(uint64_t{0});
    answer_idle_waiters();
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

  /// How long a revocation waits for a runner's confirmation.
  static constexpr std::chrono::seconds revoke_timeout{2};

  pointer self_ = nullptr;
  std::string name_;
  std::shared_ptr<metrics> registry_; // keeps meters_ valid
  cluster_metrics* meters_ = nullptr; // this cluster's, looked up once
  std::vector<runner_entry> runners_;
  std::map<caf::actor_addr, std::string> jobs_; // monitored, with their ids
  cluster_queue queue_;
  life life_ = life::open;
  caf::actor_addr remover_; // who decided the deletion under way
  std::vector<std::function<void()>> held_; // while deleting, in order
  std::vector<std::pair<caf::actor_addr, caf::typed_response_promise<bool>>>
    idle_waiters_;
};

cluster_actor::behavior_type cluster_fn(cluster_state::pointer self,
                                        std::string name,
                                        std::shared_ptr<metrics> registry) {
  auto& st = self->state;
  st.init(self, std::move(name), std::move(registry));
  return {
    [&st](atom::enqueue, std::vector<dispatch_spec>& batch,
          const std::vector<uint64_t>& settled) { st.enqueue(batch, settled); },
    [&st](atom::withdraw, const std::string& job_id) {
      return st.withdraw(job_id);
    },
    [&st](atom::join, runner_actor& runner, runner_registration& reg) {
      return st.join(runner, reg);
    },
    [&st](atom::credit, const runner_actor& runner, uint32_t plain,
          uint32_t actor) { st.credit(runner, plain, actor); },
    [&st](atom::idle, const runner_actor& runner) { return st.idle(runner); },
    [&st](atom::stop, const runner_actor& runner) { return st.leave(runner); },
    [&st](atom::info) { return st.info(); },
    [&st](atom::remove) { return st.remove(); },
    [&st](atom::remove, bool durable) { st.finish_removal(durable); },
  };
}

} // namespace

cluster_actor spawn_cluster(caf::actor_system& sys, std::string name,
                            std::shared_ptr<metrics> registry) {
  return sys.spawn(cluster_fn, std::move(name), std::move(registry));
}

} // namespace weft
