#include "weft/actors/directory.hpp"

#include <deque>
#include <map>
#include <unordered_map>

namespace weft {

namespace {

struct runner_entry {
  runner_actor handle;
  runner_registration reg;
  std::vector<std::pair<std::string, task_version>> versions;
  uint64_t credit = 0;
};

struct task_queue {
  std::string name;
  bool valid = false;  // the submitted version parses
  task_version version;
  std::deque<dispatch_spec> items;
};

struct cluster_data {
  std::string name;
  std::vector<runner_entry> runners;
  std::map<task_identifier, task_queue> queues;
  uint64_t next_seq = 0;
  // Dispatched to a runner and not yet processed by their job, by seq: who
  // to tell if that runner dies before starting them.
  struct dispatched {
    caf::actor_addr runner;
    job_actor job;
    uint32_t task;
    uint32_t attempt;
  };
  std::unordered_map<uint64_t, dispatched> inflight;
  size_t next_runner = 0;  // round robin start
  std::vector<std::pair<caf::actor_addr, caf::typed_response_promise<bool>>>
    idle_waiters;

  static inline const char* name_ = "weft.cluster";
};

using cluster_pointer = cluster_actor::stateful_pointer<cluster_data>;

bool can_run(const runner_entry& r, const task_queue& q) {
  if (!q.valid)
    return false;
  for (const auto& [name, version] : r.versions)
    if (name == q.name && compatible(q.version, version))
      return true;
  return false;
}

/// The compatible queue whose head arrived first, or null.
task_queue* next_queue(cluster_data& st, const runner_entry& r) {
  task_queue* best = nullptr;
  for (auto& [id, q] : st.queues)
    if (!q.items.empty() && can_run(r, q)
        && (best == nullptr || q.items.front().seq < best->items.front().seq))
      best = &q;
  return best;
}

bool idle_for(cluster_data& st, const caf::actor_addr& addr) {
  if (!st.inflight.empty())
    return false;
  for (auto& r : st.runners)
    if (caf::actor_cast<caf::actor_addr>(r.handle) == addr)
      return next_queue(st, r) == nullptr;
  return true;
}

void check_idle(cluster_pointer self) {
  auto& st = self->state;
  if (st.idle_waiters.empty() || !st.inflight.empty())
    return;
  auto& ws = st.idle_waiters;
  for (auto i = ws.begin(); i != ws.end();) {
    if (idle_for(st, i->first)) {
      i->second.deliver(true);
      i = ws.erase(i);
    } else {
      ++i;
    }
  }
}

/// Hands queued attempts to runners with credit, one batch per runner.
void dispatch(cluster_pointer self) {
  auto& st = self->state;
  auto n = st.runners.size();
  for (size_t k = 0; k < n; ++k) {
    auto& r = st.runners[(st.next_runner + k) % n];
    if (r.credit == 0)
      continue;
    std::vector<dispatch_spec> batch;
    auto addr = caf::actor_cast<caf::actor_addr>(r.handle);
    while (r.credit > 0) {
      auto* q = next_queue(st, r);
      if (q == nullptr)
        break;
      auto& spec = q->items.front();
      st.inflight.emplace(spec.seq, cluster_data::dispatched{
                                      addr, spec.job, spec.task, spec.attempt});
      batch.push_back(std::move(spec));
      q->items.pop_front();
      --r.credit;
    }
    if (!batch.empty())
      self->send(r.handle, atom::run_v, std::move(batch));
  }
  if (n > 0)
    st.next_runner = (st.next_runner + 1) % n;
}

cluster_actor::behavior_type cluster_fn(cluster_pointer self,
                                        std::string name) {
  self->state.name = std::move(name);
  auto forget_runner = [self](const caf::actor_addr& addr) {
    auto& rs = self->state.runners;
    rs.erase(std::remove_if(rs.begin(), rs.end(),
                            [&](const runner_entry& r) {
                              return caf::actor_cast<caf::actor_addr>(r.handle)
                                     == addr;
                            }),
             rs.end());
    check_idle(self);
  };
  auto remove_runner = [self, forget_runner](const caf::actor_addr& addr) {
    // Whatever it was sent and its job has not heard of yet goes back to the
    // jobs; those that did start are settled through the job's monitors.
    for (auto& [seq, d] : self->state.inflight)
      if (d.runner == addr)
        self->send(d.job, atom::lost_v, d.task, d.attempt, seq);
    forget_runner(addr);
  };
  self->set_down_handler(
    [remove_runner](caf::down_msg& msg) { remove_runner(msg.source); });

  return {
    [self](atom::enqueue, std::vector<dispatch_spec>& batch,
           const std::vector<uint64_t>& settled) {
      auto& st = self->state;
      for (auto& spec : batch) {
        spec.seq = st.next_seq++;
        auto i = st.queues.find(spec.identifier);
        if (i == st.queues.end()) {
          task_queue q;
          q.name = spec.identifier.name;
          try {
            q.version = parse_version(spec.identifier.version);
            q.valid = true;
          } catch (const error&) {
            q.valid = false;  // never dispatched; submission checks prevent it
          }
          i = st.queues.emplace(spec.identifier, std::move(q)).first;
        }
        i->second.items.push_back(std::move(spec));
      }
      for (auto seq : settled)
        st.inflight.erase(seq);
      dispatch(self);
      check_idle(self);
    },
    [self](atom::withdraw, const std::string& job_id) {
      for (auto& [id, q] : self->state.queues) {
        auto& items = q.items;
        items.erase(std::remove_if(items.begin(), items.end(),
                                   [&](const dispatch_spec& s) {
                                     return s.job_id == job_id;
                                   }),
                    items.end());
      }
      check_idle(self);
    },
    [self](atom::join, runner_actor& runner,
           runner_registration& reg) -> caf::result<bool> {
      runner_entry e;
      e.handle = runner;
      for (const auto& id : reg.identifiers) {
        try {
          validate_identifier(id);
        } catch (const error& err) {
          return make_weft_error(errc::invalid_identifier,
                                 "runner " + reg.name
                                   + " registered a bad task: " + err.what());
        }
        e.versions.emplace_back(id.name, parse_version(id.version));
      }
      e.reg = std::move(reg);
      self->monitor(runner);
      self->state.runners.push_back(std::move(e));
      return true;
    },
    [self](atom::credit, const runner_actor& runner, uint32_t n) {
      for (auto& r : self->state.runners)
        if (r.handle == runner) {
          r.credit += n;
          break;
        }
      dispatch(self);
    },
    [self](atom::idle, const runner_actor& runner) -> caf::result<bool> {
      auto addr = caf::actor_cast<caf::actor_addr>(runner);
      if (idle_for(self->state, addr))
        return true;
      auto rp = self->make_response_promise<bool>();
      self->state.idle_waiters.emplace_back(addr, rp);
      return rp;
    },
    [self, forget_runner](atom::stop, const runner_actor& runner) {
      // A graceful leave: everything sent so far reaches the runner before
      // this reply, and it runs it.
      self->demonitor(caf::actor_cast<caf::actor_addr>(runner));
      forget_runner(caf::actor_cast<caf::actor_addr>(runner));
      return true;
    },
    [self](atom::info) {
      auto& st = self->state;
      cluster_info info;
      info.name = st.name;
      for (const auto& r : st.runners)
        info.runners.push_back(r.reg);
      info.dispatched = st.inflight.size();
      for (const auto& [id, q] : st.queues) {
        info.queued += q.items.size();
        if (q.items.empty())
          continue;
        bool served = false;
        for (const auto& r : st.runners)
          served = served || can_run(r, q);
        if (!served)
          info.unserved.push_back(id);
      }
      return info;
    },
  };
}

} // namespace

cluster_actor spawn_cluster(caf::actor_system& sys, std::string name) {
  return sys.spawn(cluster_fn, std::move(name));
}

} // namespace weft
