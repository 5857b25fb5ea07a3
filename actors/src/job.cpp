#include "weft/actors/job.hpp"
#include "weft/actors/journal.hpp"
#include "weft/actors/memory.hpp"
#include "weft/actors/messages.hpp"
#include "weft/actors/metrics.hpp"
#include "weft/core/journal_event.hpp"
#include "weft/core/shown_progress.hpp"
#include "weft/core/task_graph.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>
#include <utility>

namespace weft {

namespace {

/// What an event makes visible: dispatches, settled dispatches, replies.
/// With a journal, it happens only once the journal has the event: on
/// disk, except for task starts (see commit()).
struct effects {
  std::vector<core::task_index> ready;
  std::map<std::string, std::vector<uint64_t>> settled;
  bool withdraw = false;
  std::vector<std::function<void()>> replies;
  bool awaits_journal = false;
};

struct job_data {
  std::string id;
  std::string name;
  std::string cluster;
  timestamp submitted_at = 0;
  std::shared_ptr<core::task_graph> graph;
  job_service_actor service;
  std::shared_ptr<cluster_directory> dir;
  journal_actor journal; // null: no journal
  std::shared_ptr<core::task_statistics> stats;
  std::shared_ptr<weft::metrics> metrics; // never null once initialized
  // The counters of each cluster the graph names, by its cluster id
  // (looked up once), and how many tasks of each had entered each state
  // when last counted (see count_transitions).
  std::vector<cluster_metrics*> meters;
  std::vector<std::array<uint64_t, task_state_count>> counted;
  bool settle_counted = false; // its last settling is in jobs_finished
  // Running attempts by the runner executing them (monitored while it
  // runs any), then by task.
  struct attempt_ref {
    uint32_t attempt;
    uint64_t seq;
    uint64_t lease;
    caf::actor task_actor{}; // an actor task's, monitored while it runs
  };
  std::map<caf::actor_addr, std::map<uint32_t, attempt_ref>> running;
  // The task actors of running attempts: their runner and task.
  std::map<caf::actor_addr, std::pair<caf::actor_addr, uint32_t>> task_actors;
  // The lease of each task dispatched and not started yet (see
  // dispatch_spec::lease): a start, or a lost dispatch, counts only under
  // it. Leases are numbered from a random base, so that none of an earlier
  // actor of this job (before a restart) is taken for one of this one.
  std::unordered_map<uint32_t, uint64_t> leases;
  uint64_t next_lease = 0;
  std::map<std::string, cluster_actor> clusters;
  bool create_clusters = true;
  // Dispatches (task, attempt) that wait for a cluster of their name to
  // exist; the directory says when one does.
  std::map<std::string, std::vector<std::pair<uint32_t, uint32_t>>> unrouted;
  // Settled dispatches not yet reported to their cluster.
  std::map<std::string, std::vector<uint64_t>> settled;
  // Effects in event order; the front ones wait for the journal.
  std::deque<effects> pending;
  // Records not sent yet, and how many of the pending steps they are for:
  // one append is in flight at a time (see write_next).
  std::vector<journal_record> unsent;
  size_t unsent_steps = 0;
  bool writing = false;
  bool write_scheduled = false; // a flush message will call write_next
  std::vector<caf::typed_response_promise<job_info>> waiters;
  job_state last_state = job_state::submitted;
  bool was_halted = false;
  /// Finished as far as apply() has seen, and then snapshotted: its final
  /// state replaced its events in the journal (until it runs again).
  enum class rest : uint8_t { working, at_rest, snapshotted };
  rest lifecycle = rest::working;
  // Watchers, and whether they have seen everything so far.
  std::vector<progress_watcher> watchers;
  std::chrono::milliseconds progress_interval{std::chrono::seconds{2}};
  bool progress_dirty = false;
  bool tick_scheduled = false;
  // Updates for state changes are coalesced: at most one per
  // `min_push_gap`, a final one at once (see push).
  std::chrono::steady_clock::time_point last_push{};
  std::chrono::steady_clock::time_point push_due_at{}; // its timer's
  // The last update computed, for watchers that join within 100 ms of it.
  std::optional<progress_update> recent;
  std::chrono::steady_clock::time_point recent_at{};
  bool push_scheduled = false;
  static constexpr std::chrono::milliseconds min_push_gap{250};
  bool final_sent = false;
  // What the watchers are shown, one filter for all (docs/progress.md).
  core::shown_progress shown;
  std::optional<double> sent_percent;
  std::optional<double> sent_raw_percent;
  std::optional<int64_t> sent_eta_ns;

  ~job_data() {
    if (metrics)
      metrics->job_unloaded();
  }
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

bool finished(const job_data& st) {
  return is_final(st.graph->state()) && st.graph->quiescent()
         && st.pending.empty();
}

/// The job's progress now: estimated once, then shown through the job's
/// filter, so every watcher sees the same values and none goes back.
progress_update make_update(job_data& st) {
  progress_update u;
  u.job_id = st.id;
  u.name = st.name;
  u.state = st.graph->state();
  u.progress = st.graph->progress();
  u.stats = st.graph->stats();
  u.at = now();
  u.final = finished(st);
  auto est = core::estimate(*st.graph, *st.stats, u.at);
  u.raw_percent = est.percent;
  u.eta_ns = est.eta_ns;
  u.items = std::move(est.items);
  for (auto& item : u.items)
    item.raw_percent = item.percent;
  u.learned = est.learned;
  st.shown.apply(u);
  return u;
}

/// RUNNING (an attempt runs) or STARTED (one ran, none runs now).
bool running_phase(job_state s) {
  return s == job_state::running || s == job_state::started;
}

/// Sends the watchers an update; with `if_moved`, only when the
/// percentage or the ETA differ from the last one sent (they move with
/// time while tasks run, even when no event came).
void notify(job_pointer self, bool if_moved = false) {
  auto& st = self->state;
  st.progress_dirty = false;
  if (st.watchers.empty())
    return;
  auto u = make_update(st);
  st.recent = u;
  st.recent_at = std::chrono::steady_clock::now();
  if (if_moved && u.percent == st.sent_percent
      && u.raw_percent == st.sent_raw_percent && u.eta_ns == st.sent_eta_ns)
    return;
  st.sent_percent = u.percent;
  st.sent_raw_percent = u.raw_percent;
  st.sent_eta_ns = u.eta_ns;
  st.final_sent = u.final;
  st.last_push = std::chrono::steady_clock::now();
  for (auto& w : st.watchers)
    self->send(w, atom::progress_v, u);
}

/// A state change for the watchers: sent at once if the last update is at
/// least `min_push_gap` old or the job is finished, else once that much
/// time has passed, with whatever changed by then. However many events and
/// watchers a job has, they cost at most a few estimates a second.
void push(job_pointer self) {
  auto& st = self->state;
  if (st.watchers.empty())
    return;
  auto at = std::chrono::steady_clock::now();
  if (finished(st) || at - st.last_push >= job_data::min_push_gap) {
    notify(self);
    return;
  }
  st.progress_dirty = true;
  if (st.push_scheduled)
    return;
  st.push_scheduled = true;
  st.push_due_at = st.last_push + job_data::min_push_gap;
  self->delayed_send(self, st.push_due_at - at, atom::flush_v);
}

/// The coalesced update is due: sent if something is still unsent and
/// everything the graph shows is visible (else the next step sends it).
void push_due(job_pointer self) {
  auto& st = self->state;
  st.push_scheduled = false;
  if (st.progress_dirty && st.pending.empty()
      && !(st.final_sent && finished(st)))
    push(self); // sends, or waits again if an update went out meanwhile
}

/// Where the tasks of cluster `name` go: the cluster this job sent them to
/// before, else the directory's. Null when there is none and the
/// orchestrator creates none on use; the directory then tells this job once
/// one of that name is created (`cluster_created`).
cluster_actor cluster_of(job_pointer self, const std::string& name) {
  auto& st = self->state;
  if (auto i = st.clusters.find(name); i != st.clusters.end())
    return i->second;
  auto hdl = st.create_clusters
               ? st.dir->get(name)
               : st.dir->find_or_await(name, caf::actor_cast<job_actor>(self));
  if (hdl)
    st.clusters.emplace(name, hdl);
  return hdl;
}

/// Dispatch `seq` of `task` is fully processed: its cluster may stop
/// counting it as in flight (idempotent there).
void settle(job_data& st, core::task_index task, uint64_t seq) {
  st.settled[st.graph->cluster(task)].push_back(seq);
}

/// The counters of the graph's cluster `id`.
cluster_metrics& meters_of(job_data& st, uint32_t id) {
  if (id >= st.meters.size())
    st.meters.resize(st.graph->cluster_count(), nullptr);
  auto& m = st.meters[id];
  if (m == nullptr)
    m = &st.metrics->cluster(st.graph->cluster_name(id));
  return *m;
}

/// Adds to the task counters what entered a state since they last looked.
/// With `baseline`, only takes note: what a replay or an earlier actor of
/// the job did is not counted again.
void count_transitions(job_data& st, bool baseline = false) {
  const auto& graph = *st.graph;
  auto n = graph.cluster_count();
  if (st.counted.size() < n)
    st.counted.resize(n, {});
  for (uint32_t id = 0; id < n; ++id) {
    const auto& now = graph.entered(id);
    auto& seen = st.counted[id];
    if (now == seen)
      continue;
    if (!baseline) {
      auto& m = meters_of(st, id);
      for (size_t s = 0; s < task_state_count; ++s)
        if (auto d = now[s] - seen[s]; d > 0)
          m.tasks_entered[s].fetch_add(d, std::memory_order_relaxed);
    }
    seen = now;
  }
}

/// Takes what the graph's last transition produced.
effects collect(job_data& st) {
  count_transitions(st);
  effects fx;
  fx.ready = st.graph->take_ready();
  fx.settled.swap(st.settled);
  fx.withdraw = st.graph->halted() && !st.was_halted;
  st.was_halted = st.graph->halted();
  if (st.was_halted)
    st.leases.clear(); // nothing queued may start: no lease holds
  return fx;
}

/// Sends the ready tasks to their clusters, each batch with the settled
/// dispatches of that cluster.
void dispatch_ready(job_pointer self, effects& fx) {
  auto& st = self->state;
  auto& graph = *st.graph;
  std::map<std::string, std::vector<dispatch_spec>> batches;
  auto me = caf::actor_cast<job_actor>(self);
  for (auto i : fx.ready) {
    if (graph.state_of(i) != task_state::queued || graph.halted())
      continue; // canceled while its event was being written
    dispatch_spec spec;
    spec.job = me;
    spec.job_id = st.id;
    spec.task = i;
    spec.attempt = graph.attempt(i);
    spec.identifier = graph.identifier(i);
    spec.input = graph.input(i);
    spec.lease = ++st.next_lease;
    st.leases[i] = spec.lease;
    batches[graph.cluster(i)].push_back(std::move(spec));
  }
  for (auto& [name, batch] : batches) {
    std::vector<uint64_t> seqs;
    if (auto i = fx.settled.find(name); i != fx.settled.end()) {
      seqs = std::move(i->second);
      fx.settled.erase(i);
    }
    auto hdl = cluster_of(self, name);
    if (!hdl) {
      // No such cluster: QUEUED they wait, and `weft job` says for what.
      auto& waiting = st.unrouted[name];
      for (const auto& spec : batch)
        waiting.emplace_back(spec.task, spec.attempt);
      continue;
    }
    self->send(hdl, atom::enqueue_v, std::move(batch), std::move(seqs));
  }
}

/// Tells the clusters which of their dispatches are fully processed.
void report_settled(job_pointer self, effects& fx) {
  for (auto& [name, seqs] : fx.settled)
    if (auto hdl = cluster_of(self, name))
      self->send(hdl, atom::enqueue_v, std::vector<dispatch_spec>{},
                 std::move(seqs));
}

/// The job's state to its service and watchers, its final state to those
/// who wait for it; what a settled run left free goes back to the OS.
void publish_state(job_pointer self) {
  auto& st = self->state;
  auto& graph = *st.graph;
  auto state = graph.state();
  st.progress_dirty = true;
  bool done = finished(st);
  if (!done)
    st.final_sent = false; // running again (a retry)
  if (done && !st.settle_counted)
    st.metrics->job_settled(state);
  st.settle_counted = done;
  if (done && st.lifecycle == job_data::rest::working) {
    st.lifecycle = job_data::rest::at_rest;
    memory_releaser::process().job_settled(graph.size()); // see memory.hpp
  } else if (!done && st.lifecycle != job_data::rest::working) {
    st.lifecycle = job_data::rest::working; // runs again (a retry)
  }
  if (state != st.last_state) {
    auto was = st.last_state;
    st.last_state = state;
    self->send(st.service, atom::state_v, st.id, state);
    // RUNNING and STARTED alternate whenever no attempt happens to run:
    // watchers learn of that at the next tick, not with an update each
    // time (a busy job flipped thousands of times a second).
    if (!running_phase(was) || !running_phase(state) || done)
      push(self);
  } else if (done && !st.final_sent) {
    notify(self);
  }
  if (done && !st.waiters.empty()) {
    auto info = make_info(st);
    for (auto& rp : st.waiters)
      rp.deliver(info);
    st.waiters.clear();
  }
}

void write_next(job_pointer self);

/// A finished job's final state becomes one snapshot in the journal,
/// replacing its events (docs/journal.md); once that is written, or at once
/// without a journal, the job service may let this actor leave memory.
void snapshot(job_pointer self) {
  auto& st = self->state;
  if (st.lifecycle != job_data::rest::at_rest)
    return;
  st.lifecycle = job_data::rest::snapshotted;
  if (!st.journal) {
    self->send(st.service, atom::done_v, st.id);
    return;
  }
  // Unsynced: lost in a crash, the events stay and replay to the same
  // finished job, which is snapshotted again.
  journal_record rec{st.id, core::encode_summary(make_info(st))};
  rec.kind = journal_record::snapshot;
  rec.sync = false;
  // A retry's reopen waits for it: written in one batch with it, the
  // reopen would not find the snapshot yet.
  st.writing = true;
  self
    ->request(st.journal, caf::infinite, atom::append_v,
              std::vector<journal_record>{std::move(rec)})
    .then(
      [self](uint64_t) {
        auto& st = self->state;
        st.writing = false;
        if (st.lifecycle == job_data::rest::snapshotted)
          self->send(st.service, atom::done_v, st.id);
        write_next(self);
      },
      [self](caf::error&) {
        // The events stay: the job keeps its actor and stays as it is
        // (unless a retry runs it again meanwhile).
        auto& st = self->state;
        st.writing = false;
        if (st.lifecycle == job_data::rest::snapshotted)
          st.lifecycle = job_data::rest::at_rest;
        write_next(self);
      });
}

/// Revokes the leases of this halted job at every cluster it sent work
/// to; `then` runs once each cluster answered that its runners dropped the
/// leased attempts no slot took (or gave up waiting for one).
void revoke_leases(job_pointer self, std::function<void()> then) {
  auto& st = self->state;
  auto left = std::make_shared<size_t>(st.clusters.size());
  auto done = std::make_shared<std::function<void()>>(std::move(then));
  if (*left == 0) {
    (*done)();
    return;
  }
  for (auto& [name, hdl] : st.clusters)
    self->request(hdl, std::chrono::seconds{10}, atom::withdraw_v, st.id)
      .then(
        [left, done](uint64_t) {
          if (--*left == 0)
            (*done)();
        },
        [left, done](caf::error&) {
          if (--*left == 0)
            (*done)();
        });
}

/// What the job tells a task actor: it is dynamically typed (its behavior
/// is the task's), and handles this besides.
using cancelable = caf::typed_actor<caf::reacts_to<atom::cancel>>;

void send_cancel(job_pointer self, const caf::actor& task_actor) {
  self->send(caf::actor_cast<cancelable>(task_actor), atom::cancel_v);
}

/// The job halted: its running task actors hear of it, so that those that
/// watch for it (`on_cancel`) may end sooner. They still end as they choose.
void cancel_task_actors(job_pointer self) {
  for (const auto& [addr, where] : self->state.task_actors) {
    auto r = self->state.running.find(where.first);
    if (r == self->state.running.end())
      continue;
    if (auto i = r->second.find(where.second);
        i != r->second.end() && i->second.task_actor)
      send_cancel(self, i->second.task_actor);
  }
}

/// Makes one committed step visible, in this order.
void apply(job_pointer self, effects& fx) {
  if (fx.withdraw) {
    revoke_leases(self, [] {});
    cancel_task_actors(self);
  }
  dispatch_ready(self, fx);
  report_settled(self, fx);
  for (auto& reply : fx.replies)
    reply();
  publish_state(self);
  snapshot(self);
}

/// Makes the effects of the events just applied to the graph visible: at
/// once without a journal (or without events), else once the journal has
/// them (on disk, unless `sync` is false). Effects never overtake earlier
/// ones.
void commit(job_pointer self, std::vector<core::journal_event> events,
            effects fx, bool sync = true) {
  auto& st = self->state;
  if (!st.journal || events.empty()) {
    if (st.pending.empty()) {
      apply(self, fx);
      return;
    }
    fx.awaits_journal = false;
    st.pending.push_back(std::move(fx));
    return;
  }
  std::vector<journal_record> records;
  records.reserve(events.size() + 1);
  if (st.lifecycle == job_data::rest::snapshotted) {
    // It runs again: its history goes back among the events first.
    st.lifecycle = job_data::rest::working;
    records.push_back(journal_record{st.id, {}});
    records.back().kind = journal_record::reopen;
  }
  for (auto& e : events) {
    e.job_id = st.id;
    records.push_back(journal_record{st.id, core::encode_event(e)});
    records.back().sync = sync;
  }
  fx.awaits_journal = true;
  st.pending.push_back(std::move(fx));
  for (auto& r : records)
    st.unsent.push_back(std::move(r));
  ++st.unsent_steps;
  // Written once the messages already in the mailbox are taken in: a
  // runner's starts and results, sent back to back, share one write.
  if (st.write_scheduled || st.writing)
    return; // the flush or the write's answer takes these along
  if (self->mailbox().empty()) {
    write_next(self);
    return;
  }
  st.write_scheduled = true;
  self->send(self, atom::flush_v);
}

/// Sends the records waiting for the journal as one append, once the
/// previous one is acknowledged. One write at a time: after a failed write
/// nothing of this job reaches the journal behind it (a later write that
/// succeeded would leave a hole, such as a completion without its start,
/// and the journal would no longer replay).
void write_next(job_pointer self) {
  auto& st = self->state;
  if (st.writing || st.unsent.empty())
    return;
  st.writing = true;
  auto steps = std::exchange(st.unsent_steps, 0);
  auto records = std::move(st.unsent);
  st.unsent.clear();
  self->request(st.journal, caf::infinite, atom::append_v, std::move(records))
    .then(
      [self, steps](uint64_t) {
        auto& st = self->state;
        st.writing = false;
        // The first `steps` entries that wait for the journal were in this
        // write; the entries behind each that need no write follow it.
        for (size_t k = 0; k < steps; ++k) {
          auto fx = std::move(st.pending.front());
          st.pending.pop_front();
          apply(self, fx);
          while (!st.pending.empty() && !st.pending.front().awaits_journal) {
            auto next = std::move(st.pending.front());
            st.pending.pop_front();
            apply(self, next);
          }
        }
        write_next(self);
      },
      [self](caf::error& err) {
        // Without a durable journal nothing may become visible: stop the
        // job; a restarted orchestrator resumes it from what was written.
        self->quit(err);
      });
}

/// Runs `fn` once everything before it is visible (reads see only what the
/// journal has).
void after_pending(job_pointer self, std::function<void()> fn) {
  effects fx;
  fx.replies.push_back(std::move(fn));
  commit(self, {}, std::move(fx));
}

core::journal_event task_event(core::event_kind kind, uint32_t task,
                               uint32_t attempt) {
  core::journal_event e;
  e.kind = kind;
  e.time = now();
  e.task = task;
  e.attempt = attempt;
  return e;
}

/// These running attempts are lost with their runner (or its node): they
/// are requeued without spending a retry.
void lose_attempts(job_pointer self,
                   const std::map<uint32_t, job_data::attempt_ref>& attempts,
                   const std::string& reason) {
  auto& st = self->state;
  std::vector<core::journal_event> events;
  for (const auto& [task, ref] : attempts) {
    if (ref.task_actor) {
      st.task_actors.erase(ref.task_actor.address());
      self->demonitor(ref.task_actor);
    }
    if (st.graph->lose(task, ref.attempt, reason, now())) {
      // Queued again: not when the job halted, or the loss failed it.
      if (st.graph->state_of(task) == task_state::queued)
        meters_of(st, st.graph->cluster_id(task))
          .attempts_requeued.fetch_add(1, std::memory_order_relaxed);
      if (st.journal) {
        auto e = task_event(core::event_kind::task_lost, task, ref.attempt);
        e.reason = reason;
        events.push_back(std::move(e));
      }
    }
    settle(st, task, ref.seq);
  }
  commit(self, std::move(events), collect(st));
}

/// The task actor of a running attempt is gone. If its node is unreachable,
/// so is its runner: the attempt is lost (as in runner_down). Otherwise its
/// runner, which saw it end, reports the outcome (a failure if it ended
/// without one).
void task_actor_down(job_pointer self, const caf::down_msg& msg,
                     std::pair<caf::actor_addr, uint32_t> where) {
  auto& st = self->state;
  if (msg.reason != caf::exit_reason::remote_link_unreachable)
    return;
  auto r = st.running.find(where.first);
  if (r == st.running.end())
    return;
  auto i = r->second.find(where.second);
  if (i == r->second.end())
    return;
  std::map<uint32_t, job_data::attempt_ref> lost;
  lost.emplace(i->first, std::move(i->second));
  r->second.erase(i);
  if (r->second.empty()) {
    self->demonitor(r->first);
    st.running.erase(r);
  }
  lose_attempts(self, lost, caf::to_string(msg.reason));
}

/// A watcher left, a task actor ended, or a runner is gone with attempts
/// unreported: those are lost, not failed.
void runner_down(job_pointer self, caf::down_msg& msg) {
  auto& st = self->state;
  auto& ws = st.watchers;
  auto w = std::find_if(ws.begin(), ws.end(), [&](const progress_watcher& x) {
    return x.address() == msg.source;
  });
  if (w != ws.end()) {
    ws.erase(w); // nothing else changes
    return;
  }
  if (auto t = st.task_actors.find(msg.source); t != st.task_actors.end()) {
    auto where = t->second;
    st.task_actors.erase(t);
    task_actor_down(self, msg, where);
    return;
  }
  auto i = st.running.find(msg.source);
  if (i == st.running.end())
    return;
  auto attempts = std::move(i->second);
  st.running.erase(i);
  lose_attempts(self, attempts, caf::to_string(msg.reason));
}

/// A report (start or result) that no lease of this job accepts.
void reject(job_data& st, bool result, size_t n = 1) {
  st.metrics->reports_rejected(result, n);
}

/// A runner's slots started leased attempts (`actors`, if given, holds the
/// task actor of each, in the same order): those still under their lease
/// become RUNNING there; the others were canceled, revoked or given to
/// another runner meanwhile, and their execution counts for nothing.
void start_attempts(job_pointer self, const std::vector<attempt_id>& ids,
                    const std::string& runner,
                    const std::vector<caf::actor>* actors = nullptr) {
  auto& st = self->state;
  auto sender = self->current_sender();
  auto addr = caf::actor_cast<caf::actor_addr>(sender);
  auto at = now();
  std::vector<core::journal_event> events;
  bool watched = st.running.count(addr) > 0;
  bool accepted = false;
  for (size_t k = 0; k < ids.size(); ++k) {
    const auto& id = ids[k];
    const caf::actor* task_actor = actors != nullptr ? &(*actors)[k] : nullptr;
    auto l = st.leases.find(id.task);
    if (sender == nullptr || l == st.leases.end() || l->second != id.lease
        || !st.graph->start(id.task, id.attempt, at)) {
      if (id.task < st.graph->size())
        settle(st, id.task, id.seq);
      reject(st, false);
      // Started an instant before the job halted: it may end sooner.
      if (task_actor != nullptr && *task_actor && st.graph->halted())
        send_cancel(self, *task_actor);
      continue;
    }
    st.leases.erase(l);
    auto& ref = st.running[addr][id.task];
    ref = job_data::attempt_ref{id.attempt, id.seq, id.lease};
    if (task_actor != nullptr && *task_actor) {
      ref.task_actor = *task_actor;
      st.task_actors[task_actor->address()] = {addr, id.task};
      self->monitor(*task_actor);
    }
    accepted = true;
    if (st.journal) {
      auto e = task_event(core::event_kind::task_started, id.task, id.attempt);
      e.time = at;
      e.runner = runner;
      events.push_back(std::move(e));
    }
  }
  if (accepted && !watched)
    self->monitor(sender);
  // The attempts run before their start is on disk: if this process dies
  // first, the tasks are queued again on restart and run again, exactly as
  // if the start had been written (at-least-once). So the start need not be
  // synced on its own: readers see RUNNING once the journal has it, and the
  // next synced write (the completion's at the latest) puts it on disk.
  commit(self, std::move(events), collect(st), false);
}

/// A runner started leased attempts of actor tasks, each on a task actor.
void start_actor_attempts(job_pointer self, std::vector<actor_attempt>& list,
                          const std::string& runner) {
  std::vector<attempt_id> ids;
  std::vector<caf::actor> actors;
  ids.reserve(list.size());
  actors.reserve(list.size());
  for (auto& a : list) {
    ids.push_back(a.id);
    actors.push_back(std::move(a.actor));
  }
  start_attempts(self, ids, runner, &actors);
}

/// Takes finished attempts into the graph, each found by `find` (which
/// says where it ran and under which lease, or that no lease of this job
/// holds it).
template <class Find>
void take_results(job_pointer self, std::vector<task_result>& results,
                  Find find) {
  auto& st = self->state;
  std::vector<core::journal_event> events;
  std::vector<core::task_index> computed;
  for (auto& result : results) {
    auto found = find(result);
    if (!found) {
      reject(st, true);
      continue;
    }
    auto [r, i] = *found;
    auto ref = std::move(i->second);
    r->second.erase(i);
    if (ref.task_actor) {
      st.task_actors.erase(ref.task_actor.address());
      self->demonitor(ref.task_actor);
    }
    if (r->second.empty()) {
      self->demonitor(r->first);
      st.running.erase(r);
    }
    meters_of(st, st.graph->cluster_id(result.task))
      .task_duration.observe(result.outcome.stopped - result.outcome.started);
    if (st.journal) {
      auto e
        = task_event(result.outcome.succeeded ? core::event_kind::task_computed
                                              : core::event_kind::task_failed,
                     result.task, ref.attempt);
      e.outcome = result.outcome;
      events.push_back(std::move(e));
    }
    st.graph->finish(result.task, ref.attempt, std::move(result.outcome));
    // Only executions that ended COMPUTED teach what a task costs and
    // submits (one whose subtasks were refused failed instead).
    if (st.graph->state_of(result.task) == task_state::computed)
      computed.push_back(result.task);
    settle(st, result.task, ref.seq);
  }
  st.stats->learn(*st.graph, computed);
  // Subtasks are dispatched only once their parent's completion is on disk.
  commit(self, std::move(events), collect(st));
}

using running_map
  = std::map<caf::actor_addr, std::map<uint32_t, job_data::attempt_ref>>;
using running_hit
  = std::pair<running_map::iterator,
              std::map<uint32_t, job_data::attempt_ref>::iterator>;

/// A runner reports finished attempts it started for this job.
void finish_attempts(job_pointer self, std::vector<task_result>& results) {
  auto& st = self->state;
  auto addr = caf::actor_cast<caf::actor_addr>(self->current_sender());
  take_results(self, results,
               [&](const task_result& res) -> std::optional<running_hit> {
                 auto r = st.running.find(addr);
                 if (r == st.running.end())
                   return std::nullopt;
                 auto i = r->second.find(res.task);
                 if (i == r->second.end() || i->second.attempt != res.attempt
                     || i->second.lease != res.lease)
                   return std::nullopt;
                 return running_hit{r, i};
               });
}

/// Results a runner finished after losing the connection it started them
/// on: the same execution still counts while its lease is the one the task
/// runs under (the loss was not noticed here yet); once the task was given
/// to another runner, or the job halted, they are rejected.
void finish_late(job_pointer self, std::vector<task_result>& results,
                 const std::string& runner) {
  auto& st = self->state;
  size_t rejected = 0;
  take_results(self, results,
               [&](const task_result& res) -> std::optional<running_hit> {
                 for (auto r = st.running.begin(); r != st.running.end(); ++r)
                   if (auto i = r->second.find(res.task);
                       i != r->second.end() && i->second.attempt == res.attempt
                       && i->second.lease == res.lease)
                     return running_hit{r, i};
                 ++rejected;
                 return std::nullopt;
               });
  if (rejected > 0)
    std::cerr << "weft: job " << st.id << " rejected " << rejected
              << " late result(s) from runner " << runner
              << ": their leases were given to other runners or revoked\n";
}

/// Indicators of attempts still running, from the runner running them.
void running_progress(job_pointer self,
                      std::vector<attempt_progress>& reports) {
  auto& st = self->state;
  auto addr = caf::actor_cast<caf::actor_addr>(self->current_sender());
  auto r = st.running.find(addr);
  if (r == st.running.end())
    return;
  for (auto& report : reports) {
    auto i = r->second.find(report.task);
    if (i == r->second.end() || i->second.attempt != report.attempt
        || i->second.lease != report.lease)
      continue;
    if (st.graph->report_progress(report.task, report.attempt,
                                  std::move(report.progress)))
      st.progress_dirty = true;
  }
}

/// Leased attempts that never started (their runner died first, or left
/// and handed them back): those still under their lease are dispatched
/// again, without spending a retry.
void leases_lost(job_pointer self, const std::vector<attempt_id>& ids) {
  auto& st = self->state;
  // From a cluster: their runner was lost (counted as requeued); else a
  // runner handed them back.
  auto from = caf::actor_cast<caf::actor_addr>(self->current_sender());
  bool runner_lost = std::any_of(st.clusters.begin(), st.clusters.end(),
                                 [&](const auto& entry) {
                                   return entry.second.address() == from;
                                 });
  for (const auto& id : ids) {
    if (id.task >= st.graph->size())
      continue;
    if (auto l = st.leases.find(id.task);
        l != st.leases.end() && l->second == id.lease) {
      st.leases.erase(l);
      if (st.graph->redeliver(id.task, id.attempt) && runner_lost)
        meters_of(st, st.graph->cluster_id(id.task))
          .attempts_requeued.fetch_add(1, std::memory_order_relaxed);
    }
    settle(st, id.task, id.seq);
  }
  if (!runner_lost)
    st.metrics->leases_handed_back(ids.size());
  commit(self, {}, collect(st));
}

/// The sending cluster was deleted and refused these attempts: they are
/// dispatched again under the same name, to the cluster created since (or
/// on use), else they wait for one (see cluster_of).
void cluster_deleted(job_pointer self, const std::vector<attempt_id>& ids) {
  auto& st = self->state;
  auto from = caf::actor_cast<caf::actor_addr>(self->current_sender());
  for (auto i = st.clusters.begin(); i != st.clusters.end(); ++i)
    if (i->second.address() == from) {
      st.clusters.erase(i);
      break;
    }
  for (const auto& id : ids) {
    st.leases.erase(id.task);
    st.graph->redeliver(id.task, id.attempt);
  }
  commit(self, {}, collect(st));
}

/// A cluster named `name` exists now: the attempts waiting for one go.
void cluster_created(job_pointer self, const std::string& name) {
  auto& st = self->state;
  auto i = st.unrouted.find(name);
  if (i == st.unrouted.end())
    return;
  auto waiting = std::move(i->second);
  st.unrouted.erase(i);
  for (const auto& [task, attempt] : waiting) {
    st.leases.erase(task);
    st.graph->redeliver(task, attempt);
  }
  commit(self, {}, collect(st));
}

/// Journals a job-level event (cancel, retry) when `changed`, and answers
/// `n` once it is visible.
caf::result<uint64_t> commit_job_event(job_pointer self, core::event_kind kind,
                                       bool changed, uint64_t n) {
  auto& st = self->state;
  std::vector<core::journal_event> events;
  if (st.journal && changed)
    events.push_back(task_event(kind, 0, 0));
  auto rp = self->make_response_promise<uint64_t>();
  auto fx = collect(st);
  fx.replies.push_back([rp, n]() mutable { rp.deliver(n); });
  commit(self, std::move(events), std::move(fx));
  return rp;
}

/// Cancel answers once the cancel is visible and every cluster confirmed
/// that its runners dropped the job's leased attempts: from then on no
/// attempt of it starts (docs/semantics.md).
caf::result<uint64_t> cancel(job_pointer self) {
  auto& st = self->state;
  auto& graph = *st.graph;
  auto before = graph.state();
  auto n = graph.cancel();
  if (!graph.halted() || st.was_halted)
    return commit_job_event(self, core::event_kind::job_canceled,
                            graph.state() != before, n);
  // Revoked at once, not after the journal: a cancel lost in a crash
  // requeues the tasks on restart anyway.
  struct both {
    caf::typed_response_promise<uint64_t> rp;
    int left = 2;
    uint64_t canceled = 0;
  };
  auto b = std::make_shared<both>();
  b->rp = self->make_response_promise<uint64_t>();
  b->canceled = n;
  auto finish = [b] {
    if (--b->left == 0)
      b->rp.deliver(b->canceled);
  };
  revoke_leases(self, finish);
  cancel_task_actors(self);
  st.was_halted = true; // collect() need not revoke again
  std::vector<core::journal_event> events;
  if (st.journal && graph.state() != before)
    events.push_back(task_event(core::event_kind::job_canceled, 0, 0));
  auto fx = collect(st);
  fx.replies.push_back(finish);
  commit(self, std::move(events), std::move(fx));
  return b->rp;
}

caf::result<uint64_t> retry(job_pointer self) {
  auto& graph = *self->state.graph;
  auto before = graph.state();
  bool ended = is_final(before) && graph.quiescent();
  auto n = graph.retry();
  if (ended && graph.state() != before)
    self->state.shown.reset(); // a new run: shown from its own estimates
  // A retry that requeues nothing still lifts a cancel (running tasks then
  // finish into a live job): unrecorded, a replay would keep it canceled.
  auto result = commit_job_event(self, core::event_kind::job_retried,
                                 n > 0 || graph.state() != before, n);
  // The job service set aside what it knew of this actor being at rest
  // when it sent the retry: one that changed nothing is at rest still.
  after_pending(self, [self] {
    auto& st = self->state;
    if (st.lifecycle == job_data::rest::snapshotted && finished(st))
      self->send(st.service, atom::done_v, st.id);
  });
  return result;
}

/// Answers `make(state)` once everything before is visible.
template <class T, class Make>
caf::result<T> answer_when_visible(job_pointer self, Make make) {
  auto rp = self->make_response_promise<T>();
  after_pending(self,
                [self, rp, make]() mutable { rp.deliver(make(self->state)); });
  return rp;
}

std::vector<task_info> task_list(const job_data& st) {
  const auto& graph = *st.graph;
  std::vector<task_info> result;
  result.reserve(graph.size());
  for (core::task_index i = 0; i < graph.size(); ++i)
    result.push_back(graph.info(i));
  return result;
}

void schedule_tick(job_pointer self) {
  auto& st = self->state;
  if (st.tick_scheduled)
    return;
  st.tick_scheduled = true;
  self->delayed_send(self, st.progress_interval, atom::tick_v);
}

/// A watcher gets the current state first, however late it joins.
void add_watcher(job_pointer self, progress_watcher watcher) {
  after_pending(self, [self, watcher]() mutable {
    auto& st = self->state;
    self->monitor(watcher);
    st.watchers.push_back(watcher);
    // Watchers that join together share one estimate.
    auto at = std::chrono::steady_clock::now();
    if (!st.recent || finished(st) || st.recent->final
        || at - st.recent_at > std::chrono::milliseconds{100}) {
      st.recent = make_update(st);
      st.recent_at = at;
    }
    auto u = *st.recent;
    if (u.final)
      st.final_sent = true;
    self->send(watcher, atom::progress_v, std::move(u));
    schedule_tick(self);
  });
}

/// Its own timer: sends watchers what changed since the last update.
void tick(job_pointer self) {
  auto& st = self->state;
  if (self->current_sender().get() != self->ctrl())
    return; // its own timer only
  st.tick_scheduled = false;
  if (st.watchers.empty())
    return;
  if (st.final_sent && finished(st))
    return; // the final update went out once; a retry sends the next
  if (st.pending.empty() && (st.progress_dirty || !st.graph->quiescent()))
    notify(self, !st.progress_dirty);
  schedule_tick(self);
}

caf::result<job_info> wait_final(job_pointer self) {
  auto rp = self->make_response_promise<job_info>();
  after_pending(self, [self, rp]() mutable {
    auto& st = self->state;
    if (is_final(st.graph->state()) && st.graph->quiescent())
      rp.deliver(make_info(st));
    else
      st.waiters.push_back(rp);
  });
  return rp;
}

void init(job_pointer self, job_environment env, recovered_job job) {
  auto& st = self->state;
  st.progress_interval = env.progress_interval;
  st.id = std::move(job.id);
  st.name = std::move(job.name);
  st.cluster = std::move(job.cluster);
  st.submitted_at = job.submitted_at;
  st.graph = std::move(job.graph);
  st.service = std::move(env.service);
  st.dir = std::move(env.dir);
  st.journal = std::move(env.journal);
  st.stats = std::move(env.stats); // the service's: never null
  st.metrics
    = env.metrics ? std::move(env.metrics) : std::make_shared<metrics>();
  st.metrics->job_loaded(); // until job_data goes with the actor
  count_transitions(st, true);
  st.settle_counted = is_final(st.graph->state()) && st.graph->quiescent();
  st.create_clusters = env.create_clusters_on_use;
  std::random_device rd;
  st.next_lease = (uint64_t{rd()} << 32 | rd()) >> 1; // room to count up
  st.last_state = st.graph->state();
  if (job.from_snapshot)
    st.lifecycle = job_data::rest::snapshotted;
  self->set_down_handler(
    [self](caf::down_msg& msg) { runner_down(self, msg); });
  // The job service already has the submission on disk: dispatch now.
  self->send(st.service, atom::state_v, st.id, st.last_state);
  if (job.from_snapshot)
    self->send(st.service, atom::done_v, st.id);
  commit(self, {}, collect(st));
}

job_actor::behavior_type job_fn(job_pointer self, job_environment env,
                                recovered_job job) {
  init(self, std::move(env), std::move(job));
  return {
    [self](atom::start, std::vector<attempt_id>& ids,
           const std::string& runner) { start_attempts(self, ids, runner); },
    [self](atom::start, std::vector<actor_attempt>& list,
           const std::string& runner) {
      start_actor_attempts(self, list, runner);
    },
    [self](atom::done, std::vector<task_result>& results) {
      finish_attempts(self, results);
    },
    [self](atom::done, std::vector<task_result>& results,
           const std::string& runner) {
      if (self->current_sender() == self->state.service.address())
        finish_late(self, results, runner);
    },
    [self](atom::progress, std::vector<attempt_progress>& reports) {
      running_progress(self, reports);
    },
    [self](atom::lost, const std::vector<attempt_id>& ids) {
      leases_lost(self, ids);
    },
    [self](atom::remove, const std::vector<attempt_id>& ids) {
      cluster_deleted(self, ids);
    },
    [self](atom::cluster, const std::string& name) {
      cluster_created(self, name);
    },
    [self](atom::find) {
      return answer_when_visible<job_info>(self, make_info);
    },
    [self](atom::cancel) { return cancel(self); },
    [self](atom::retry) { return retry(self); },
    [self](atom::tasks) {
      return answer_when_visible<std::vector<task_info>>(self, task_list);
    },
    [self](atom::watch, progress_watcher& watcher) {
      add_watcher(self, watcher);
    },
    [self](atom::tick) { tick(self); },
    // Its own: the records gathered go to the journal, or a coalesced
    // update is due.
    [self](atom::flush) {
      auto& st = self->state;
      if (self->current_sender().get() != self->ctrl())
        return;
      if (st.write_scheduled) {
        st.write_scheduled = false;
        write_next(self);
      }
      if (st.push_scheduled
          && std::chrono::steady_clock::now() >= st.push_due_at)
        push_due(self);
    },
    [self](atom::wait) { return wait_final(self); },
    [self](atom::stop) {
      if (self->current_sender() == self->state.service.address())
        self->quit();
    },
  };
}

} // namespace

job_actor spawn_job(caf::actor_system& sys, job_environment env,
                    recovered_job job) {
  return sys.spawn(job_fn, std::move(env), std::move(job));
}

} // namespace weft
