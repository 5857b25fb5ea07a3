#include "weft/actors/directory.hpp"
#include "weft/core/task_graph.hpp"

#include <map>
#include <memory>

namespace weft {

namespace {

struct job_data {
  std::string id;
  std::string name;
  std::string cluster;
  timestamp submitted_at = 0;
  std::unique_ptr<core::task_graph> graph;
  job_service_actor service;
  std::shared_ptr<cluster_directory> dir;
  // Task actors of running attempts: which attempt and dispatch each one
  // executes.
  struct attempt_ref {
    uint32_t task;
    uint32_t attempt;
    uint64_t seq;
  };
  std::map<caf::actor_addr, attempt_ref> running;
  // Clusters this job has sent work to, with dispatches it has finished
  // processing since the last message to each.
  std::map<std::string, cluster_actor> clusters;
  std::map<std::string, std::vector<uint64_t>> settled;
  std::vector<caf::typed_response_promise<job_info>> waiters;
  job_state last_state = job_state::submitted;
  bool was_halted = false;

  static inline const char* name_ = "weft.job";
};

using job_pointer = job_actor::stateful_pointer<job_data>;

job_info make_info(const job_data& st) {
  job_info info;
  info.id = st.id;
  info.name = st.name;
  info.cluster = st.cluster;
  info.state = st.graph->state();
  info.submitted_at = st.submitted_at;
  info.running = st.graph->count(task_state::running);
  info.progress = st.graph->progress();
  info.stats = st.graph->stats();
  return info;
}

cluster_actor& cluster_of(job_data& st, const std::string& name) {
  auto i = st.clusters.find(name);
  if (i == st.clusters.end())
    i = st.clusters.emplace(name, st.dir->get(name)).first;
  return i->second;
}

/// Dispatch `seq` of `task` is fully processed: its cluster may stop
/// counting it as in flight (idempotent there).
void settle(job_data& st, core::task_index task, uint64_t seq) {
  st.settled[st.graph->cluster(task)].push_back(seq);
}

/// After every event: dispatch what became ready, tell each cluster how many
/// of its dispatches are processed, report state changes, answer waiters.
void flush(job_pointer self) {
  auto& st = self->state;
  auto& graph = *st.graph;
  if (graph.halted() && !st.was_halted)
    for (auto& [name, hdl] : st.clusters)
      self->send(hdl, atom::withdraw_v, st.id);
  st.was_halted = graph.halted();
  std::map<std::string, std::vector<dispatch_spec>> batches;
  auto me = caf::actor_cast<job_actor>(self);
  for (auto i : graph.take_ready()) {
    dispatch_spec spec;
    spec.job = me;
    spec.job_id = st.id;
    spec.task = i;
    spec.attempt = graph.attempt(i);
    spec.identifier = graph.identifier(i);
    spec.input = graph.input(i);
    batches[graph.cluster(i)].push_back(std::move(spec));
  }
  for (auto& [name, batch] : batches) {
    std::vector<uint64_t> seqs;
    if (auto i = st.settled.find(name); i != st.settled.end()) {
      seqs = std::move(i->second);
      st.settled.erase(i);
    }
    self->send(cluster_of(st, name), atom::enqueue_v, std::move(batch),
               std::move(seqs));
  }
  for (auto& [name, seqs] : st.settled)
    self->send(cluster_of(st, name), atom::enqueue_v,
               std::vector<dispatch_spec>{}, std::move(seqs));
  st.settled.clear();
  auto state = graph.state();
  if (state != st.last_state) {
    st.last_state = state;
    self->send(st.service, atom::state_v, st.id, state);
  }
  if (is_final(state) && graph.quiescent() && !st.waiters.empty()) {
    auto info = make_info(st);
    for (auto& rp : st.waiters)
      rp.deliver(info);
    st.waiters.clear();
  }
}

job_actor::behavior_type job_fn(job_pointer self, job_service_actor service,
                                std::shared_ptr<cluster_directory> dir,
                                std::string id, submit_request req,
                                timestamp submitted_at) {
  auto& st = self->state;
  st.id = std::move(id);
  st.name = std::move(req.name);
  st.cluster = req.cluster;
  st.submitted_at = submitted_at;
  st.service = std::move(service);
  st.dir = std::move(dir);
  for (auto& root : req.roots)
    root.max_retries = req.max_retries;
  st.graph = std::make_unique<core::task_graph>(std::move(req.roots),
                                                req.cluster);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    auto i = st.running.find(msg.source);
    if (i == st.running.end())
      return;
    auto ref = i->second;
    st.running.erase(i);
    // A task actor gone without a result: its runner vanished.
    st.graph->lose(ref.task, ref.attempt, caf::to_string(msg.reason), now());
    settle(st, ref.task, ref.seq);
    flush(self);
  });
  flush(self);
  return {
    [self](atom::start, uint32_t task, uint32_t attempt, uint64_t seq,
           const std::string&) -> bool {
      auto& st = self->state;
      auto sender = self->current_sender();
      if (sender == nullptr || !st.graph->start(task, attempt, now())) {
        if (task < st.graph->size())
          settle(st, task, seq);
        flush(self);
        return false;
      }
      self->monitor(sender);
      st.running.emplace(caf::actor_cast<caf::actor_addr>(sender),
                         job_data::attempt_ref{task, attempt, seq});
      flush(self);
      return true;
    },
    [self](atom::done, task_result& result) {
      auto& st = self->state;
      auto sender = self->current_sender();
      if (sender == nullptr)
        return;
      auto addr = caf::actor_cast<caf::actor_addr>(sender);
      auto i = st.running.find(addr);
      if (i == st.running.end())
        return;  // not an attempt this job started
      auto ref = i->second;
      st.running.erase(i);
      self->demonitor(addr);
      st.graph->finish(ref.task, ref.attempt, std::move(result.outcome));
      settle(st, ref.task, ref.seq);
      flush(self);
    },
    [self](atom::lost, uint32_t task, uint32_t attempt, uint64_t seq) {
      // Never started (its start request would have come first): run it
      // again under a new attempt.
      auto& st = self->state;
      if (task >= st.graph->size())
        return;
      st.graph->redeliver(task, attempt);
      settle(st, task, seq);
      flush(self);
    },
    [self](atom::find) -> job_info { return make_info(self->state); },
    [self](atom::cancel) -> uint64_t {
      auto n = self->state.graph->cancel();
      flush(self);
      return n;
    },
    [self](atom::retry) -> uint64_t {
      auto n = self->state.graph->retry();
      flush(self);
      return n;
    },
    [self](atom::tasks) -> std::vector<task_info> {
      const auto& graph = *self->state.graph;
      std::vector<task_info> result;
      result.reserve(graph.size());
      for (core::task_index i = 0; i < graph.size(); ++i)
        result.push_back(graph.info(i));
      return result;
    },
    [self](atom::wait) -> caf::result<job_info> {
      auto& st = self->state;
      if (is_final(st.graph->state()) && st.graph->quiescent())
        return make_info(st);
      auto rp = self->make_response_promise<job_info>();
      st.waiters.push_back(rp);
      return rp;
    },
  };
}

} // namespace

job_actor spawn_job(caf::actor_system& sys, job_service_actor service,
                    std::shared_ptr<cluster_directory> dir, std::string id,
                    submit_request req, timestamp submitted_at) {
  return sys.spawn(job_fn, std::move(service), std::move(dir), std::move(id),
                   std::move(req), submitted_at);
}

} // namespace weft
