#include "weft/actors/job_service.hpp"
#include "weft/actors/job.hpp"
#include "weft/actors/messages.hpp"
#include "weft/actors/metrics.hpp"
#include "weft/core/job_replay.hpp"
#include "weft/core/journal_event.hpp"
#include "weft/core/submission.hpp"
#include "weft/core/uuid.hpp"

#include "weft/json.hpp"
#include "weft/text.hpp"

#include <caf/all.hpp>

#include <cctype>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>

namespace weft {

namespace {

/// A job with an actor in memory: unfinished, or finished and lingering.
struct live_job {
  job_actor handle;
  /// Shared with its actor; read here only once the actor is gone.
  std::shared_ptr<core::task_graph> graph;
  std::string name;
  std::string cluster;
  timestamp submitted_at = 0;
  job_state state = job_state::submitted;
  /// Finished with its final state durable: it may leave memory.
  bool at_rest = false;
  timestamp rest_since = 0;
  size_t bytes = 0;      // of its graph, once at rest
  uint32_t restarts = 0; // after its actor died (supervision)
  /// Bumped whenever it may run again: a rest check asked before is stale.
  uint64_t rest_check = 0;
  /// Subscribed through this service: an actor that dies drops them, the
  /// one restarted in its place gets them again. Weak, and pruned of the
  /// gone at each new one, so that the browsers of months, each stream a
  /// watcher, keep neither their memory nor a growing list.
  std::vector<caf::actor_addr> watchers;
};

/// A finished job without a data directory: its graph stays in memory
/// (bounded), without an actor.
struct kept_job {
  std::shared_ptr<core::task_graph> graph;
  std::string name;
  std::string cluster;
  timestamp submitted_at = 0;
};

/// A job whose actor died and could not be started again: FAILED, saying
/// why.
struct failed_job {
  job_info info;
  std::string why;
};

/// A job actor that dies is started again from its durable state this many
/// times; then its job fails.
constexpr uint32_t max_job_restarts = 3;

constexpr auto housekeeping_interval = std::chrono::seconds{1};
/// Retention deletes at most this many jobs per second, so a long backlog
/// never stalls the service.
constexpr size_t retention_batch = 2000;

/// Runs one of the shared validators, turning its exception into a reply.
template <class Fn>
caf::error checked(Fn fn) {
  try {
    fn();
  } catch (const error& e) {
    return make_weft_error(e.code(), e.what());
  }
  return {};
}

caf::error validate_cluster_name(const std::string& name) {
  return checked([&] { weft::validate_cluster_name(name); });
}

caf::error unknown_cluster(const std::string& name) {
  // Advice to create a cluster whose name would be refused helps nobody:
  // such a name gets the naming rule instead.
  if (auto err = validate_cluster_name(name))
    return err;
  return make_weft_error(errc::unknown_cluster,
                         "no cluster named " + name
                           + ": create it with `weft clusters create " + name
                           + "` (see `weft clusters list`)");
}

/// Checks a submission; returns an empty error when it may become a job.
caf::error validate(const orchestrator_config& cfg, const submit_request& req) {
  if (req.roots.empty())
    return make_weft_error(errc::invalid_argument,
                           "a job needs at least one root task");
  if (auto err = checked([&] { validate_job_name(req.name); }))
    return err;
  if (auto err = validate_cluster_name(req.cluster))
    return err;
  for (const auto& root : req.roots) {
    if (auto err = checked([&] {
          core::validate_root(root.identifier, root.input,
                              cfg.options.max_input_bytes);
        }))
      return err;
    if (!root.depends_on.empty())
      return make_weft_error(errc::invalid_argument,
                             "root tasks cannot depend on each other");
  }
  return {};
}

/// What a job compacted by an earlier release (a summary, no tasks)
/// answers in place of an actor.
template <class T>
caf::result<T> summary_answer(const job_info& info) {
  if constexpr (std::is_same_v<T, job_info>)
    return info; // find, wait: final already
  else if constexpr (std::is_same_v<T, uint64_t>)
    return uint64_t{0}; // cancel, retry: nothing left
  else
    return make_weft_error(
      errc::invalid_state,
      "job " + info.id
        + " completed under an earlier weft release, which kept only its "
          "summary: find and query answer, its tasks are no longer kept");
}

bool matches(const job_query& q, const job_info& e) {
  if (q.from.ns != 0 && e.submitted_at < q.from.ns)
    return false;
  if (q.to.ns != 0 && e.submitted_at >= q.to.ns)
    return false;
  if (!q.id_from.empty() && e.id < q.id_from)
    return false;
  if (!q.id_to.empty() && e.id >= q.id_to)
    return false;
  if (!q.name.empty() && e.name != q.name)
    return false;
  if (!q.cluster.empty() && e.cluster != q.cluster)
    return false;
  if (!q.states.empty()
      && std::find(q.states.begin(), q.states.end(), e.state) == q.states.end())
    return false;
  return true;
}

job_info brief(const std::string& id, const std::string& name,
               const std::string& cluster, timestamp submitted_at,
               job_state state) {
  job_info info;
  info.id = id;
  info.name = name;
  info.cluster = cluster;
  info.submitted_at = submitted_at;
  info.state = state;
  return info;
}

/// One per orchestrator: the index of its jobs, the job actors it spawned,
/// and the clusters. Each handler is a member below.
class job_service_state {
public:
  using pointer = job_service_actor::stateful_pointer<job_service_state>;

  void init(pointer self, std::shared_ptr<cluster_directory> dir,
            orchestrator_config cfg, journal_actor journal,
            std::vector<recovered_job> recovered,
            std::shared_ptr<core::task_statistics> stats) {
    self_ = self;
    dir_ = std::move(dir);
    cfg_ = cfg;
    if (!cfg_.metrics) // one for all its jobs, even if nobody reads it
      cfg_.metrics = std::make_shared<metrics>();
    journal_ = std::move(journal);
    stats_
      = stats ? std::move(stats) : std::make_shared<core::task_statistics>();
    // Once a second: what the jobs learned goes to the journal (losing the
    // last second of it in a crash costs only estimate accuracy), finished
    // jobs leave memory, retention deletes old ones.
    self->delayed_send(self, housekeeping_interval, atom::tick_v);
    // Unfinished jobs resume (finished ones stay on disk; the store's
    // migrate() made snapshots of summaries written by earlier releases).
    for (auto& job : recovered)
      if (job.graph)
        start_job(std::move(job));
    self->set_down_handler([this](caf::down_msg& msg) { job_down(msg); });
    // Job actors live and die with their service.
    self->set_exit_handler([this](caf::exit_msg& msg) {
      for (auto& [id, e] : jobs_)
        self_->send_exit(e.handle, msg.reason);
      self_->quit(msg.reason);
    });
  }

  // -- jobs -------------------------------------------------------------------

  caf::result<job_info> submit(submit_request& req) {
    if (req.cluster.empty())
      req.cluster = "default";
    if (auto err = validate(cfg_, req))
      return err;
    if (!cfg_.create_clusters_on_use && !dir_->find(req.cluster))
      return unknown_cluster(req.cluster);
    core::journal_event e;
    e.kind = core::event_kind::job_submitted;
    e.job_id = core::make_uuid_v7();
    e.time = now();
    e.name = std::move(req.name);
    e.cluster = std::move(req.cluster);
    e.max_retries = req.max_retries;
    e.roots = std::move(req.roots);
    auto job = recovered_job{e.job_id,          e.name, e.cluster, e.time,
                             core::graph_of(e), {}};
    auto rp = self_->make_response_promise<job_info>();
    // Acknowledged only once the submission is on disk, with the job
    // actor's own view: by then it has run its first step and sent its
    // root tasks to their cluster, so whatever the submitter does next
    // (such as run_all) sees them queued.
    journal_record index{e.job_id, core::encode_summary(
                                     brief(e.job_id, e.name, e.cluster, e.time,
                                           job_state::submitted))};
    index.kind = journal_record::index;
    journal_then({journal_record{e.job_id, core::encode_event(e)},
                  std::move(index)},
                 rp, [this, rp, job = std::move(job)]() mutable {
                   auto i = start_job(std::move(job));
                   rp.delegate(i->second.handle, atom::find_v);
                 });
    return rp;
  }

  /// Pages through the index: the store's, where the state of a job in
  /// memory is the newer one, or without a data directory the jobs kept.
  caf::result<std::vector<job_info>> query(const job_query& q) const {
    std::vector<job_info> result;
    auto visit = [&](job_info& info) {
      if (auto i = jobs_.find(info.id); i != jobs_.end())
        info.state = i->second.state;
      if (matches(q, info) && !forgetting_.count(info.id))
        result.push_back(std::move(info));
      return q.limit == 0 || result.size() < q.limit;
    };
    try {
      if (cfg_.store)
        cfg_.store->scan_index(q.cursor, q.newest_first, visit);
      else
        scan_memory(q, visit);
    } catch (const error& e) {
      return make_weft_error(e.code(), e.what());
    }
    return result;
  }

  /// Forwards to the job's actor, loading a finished job back first. The
  /// request is remembered until answered: an actor that dies drops what
  /// it holds, and the one restarted in its place is asked again (see
  /// hand_over).
  template <class T, class Atom>
  caf::result<T> ask_job(const std::string& id, Atom what) {
    auto i = jobs_.find(id);
    if (i == jobs_.end()) {
      auto loaded = load_finished<T>(id);
      if (loaded.first == jobs_.end())
        return std::move(loaded.second);
      i = loaded.first;
    }
    if constexpr (std::is_same_v<Atom, atom::retry>)
      wake(i->second); // it may run again: keep its actor
    auto rp = self_->make_response_promise<T>();
    auto token = next_request_++;
    passed_request req;
    req.id = id;
    req.ask = [this, token, rp, what](const job_actor& hdl) mutable {
      self_->request(hdl, caf::infinite, what)
        .then(
          [this, token, rp](T& x) mutable {
            if (passed_.erase(token) > 0)
              rp.deliver(std::move(x));
          },
          [this, token, rp](caf::error& err) mutable {
            // Bounced by an actor that died with it queued: hand_over
            // asks the one restarted in its place.
            if (err != caf::sec::request_receiver_down
                && passed_.erase(token) > 0)
              rp.deliver(err);
          });
    };
    req.fail = [rp](const failed_job& f) mutable {
      if constexpr (std::is_same_v<T, job_info>)
        rp.deliver(f.info);
      else
        rp.deliver(make_weft_error(errc::invalid_state, f.why));
    };
    auto& passed = passed_.emplace(token, std::move(req)).first->second;
    passed.ask(i->second.handle);
    return rp;
  }

  caf::result<bool> watch(const std::string& id, progress_watcher& watcher) {
    auto i = jobs_.find(id);
    if (i == jobs_.end()) {
      auto loaded = load_finished<bool>(id);
      if (loaded.first == jobs_.end())
        return std::move(loaded.second);
      i = loaded.first;
    }
    self_->send(i->second.handle, atom::watch_v, watcher);
    auto& ws = i->second.watchers;
    std::erase_if(ws, [](const caf::actor_addr& w) {
      return !caf::actor_cast<caf::strong_actor_ptr>(w);
    });
    ws.push_back(watcher.address());
    return true;
  }

  /// Results a runner finished after losing the connection it started
  /// them on: its job decides by their leases; a job not in memory ran
  /// them elsewhere long ago, or is gone.
  void late_results(const std::string& id, std::vector<task_result>& results,
                    const std::string& runner) {
    auto i = jobs_.find(id);
    if (i == jobs_.end()) {
      cfg_.metrics->reports_rejected(true, results.size());
      std::cerr << "weft: rejected " << results.size()
                << " late result(s) from runner " << runner << " for job " << id
                << ", which is no longer running\n";
      return;
    }
    self_->send(i->second.handle, atom::done_v, std::move(results), runner);
  }

  void state_changed(const std::string& id, job_state state) {
    if (auto i = jobs_.find(id); i != jobs_.end()) {
      i->second.state = state;
      if (!is_final(state))
        wake(i->second);
    }
  }

  /// The job's actor is finished and its final state durable. A retry
  /// delegated before this report may be running it again (one loaded back
  /// reports at once): it rests only once the actor, asked after
  /// everything sent to it so far, answers that it is still finished.
  void job_done(const std::string& id) {
    auto i = jobs_.find(id);
    if (i == jobs_.end() || !is_final(i->second.state)
        || self_->current_sender() != i->second.handle.address())
      return;
    auto check = ++i->second.rest_check;
    self_->request(i->second.handle, caf::infinite, atom::find_v)
      .then([this, id,
             check](job_info& info) { come_to_rest(id, check, info); },
            [](caf::error&) {});
  }

  void come_to_rest(const std::string& id, uint64_t check,
                    const job_info& info) {
    auto i = jobs_.find(id);
    if (i == jobs_.end() || i->second.rest_check != check
        || !is_final(info.state) || info.running > 0)
      return;
    auto& e = i->second;
    wake(e); // a second report replaces the first
    e.at_rest = true;
    e.rest_since = now();
    e.bytes = e.graph->approximate_bytes();
    resting_.emplace_back(id, e.rest_since);
    ++resting_count_;
    resting_bytes_ += e.bytes;
    leave_over_bounds();
  }

  // -- clusters ---------------------------------------------------------------

  caf::result<cluster_actor> cluster(const std::string& name) {
    if (auto hdl = dir_->find(name))
      return hdl;
    if (!cfg_.create_clusters_on_use)
      return unknown_cluster(name);
    return dir_->get(name);
  }

  caf::result<cluster_info> create_cluster(const std::string& name) {
    if (auto err = validate_cluster_name(name))
      return err;
    if (dir_->find(name))
      return make_weft_error(errc::already_exists,
                             "cluster " + name + " already exists");
    auto rp = self_->make_response_promise<cluster_info>();
    journal_record rec;
    rec.kind = journal_record::cluster_created;
    rec.job_id = name;
    journal_then({std::move(rec)}, rp, [this, rp, name]() mutable {
      rp.delegate(dir_->get(name), atom::info_v);
    });
    return rp;
  }

  caf::result<cluster_info> cluster_info_of(const std::string& name) {
    auto hdl = dir_->find(name);
    if (!hdl)
      return unknown_cluster(name);
    return self_->delegate(hdl, atom::info_v);
  }

  caf::result<std::vector<cluster_info>> list_clusters() {
    auto names = dir_->names();
    auto rp = self_->make_response_promise<std::vector<cluster_info>>();
    struct gather {
      std::vector<cluster_info> infos;
      size_t pending = 0;
    };
    auto acc = std::make_shared<gather>();
    acc->infos.resize(names.size());
    acc->pending = names.size();
    auto step = [rp, acc]() mutable {
      if (--acc->pending == 0)
        rp.deliver(std::move(acc->infos));
    };
    if (names.empty())
      rp.deliver(std::vector<cluster_info>{});
    for (size_t i = 0; i < names.size(); ++i) {
      acc->infos[i].name = names[i];
      auto hdl = dir_->find(names[i]);
      if (!hdl) { // removed meanwhile
        step();
        continue;
      }
      self_->request(hdl, caf::infinite, atom::info_v)
        .then(
          [acc, i, step](cluster_info& x) mutable {
            acc->infos[i] = std::move(x);
            step();
          },
          [step](caf::error&) mutable { step(); });
    }
    return rp;
  }

  caf::result<bool> remove_cluster(const std::string& name) {
    if (name == "default")
      return make_weft_error(errc::refused, "the default cluster always "
                                            "exists and cannot be deleted");
    auto hdl = dir_->find(name);
    if (!hdl)
      return unknown_cluster(name);
    // The cluster checks that no runner and no work is left and, in the
    // same handler, stops taking work, so no enqueue slips in between. Once
    // the deletion is journaled and its name out of the directory, it
    // refuses what jobs send (they look the name up again and find a
    // cluster created since, or none); if the journal failed, it goes on.
    auto rp = self_->make_response_promise<bool>();
    self_->request(hdl, caf::infinite, atom::remove_v)
      .then(
        [this, rp, name, hdl](bool) mutable {
          journal_record rec;
          rec.kind = journal_record::cluster_deleted;
          rec.job_id = name;
          journal_then(
            {std::move(rec)}, rp,
            [this, rp, name, hdl]() mutable {
              dir_->remove(name);
              self_->send(hdl, atom::remove_v, true);
              rp.deliver(true);
            },
            [this, hdl] { self_->send(hdl, atom::remove_v, false); });
        },
        [rp](caf::error& e) mutable { rp.deliver(e); });
    return rp;
  }

  // -- housekeeping -----------------------------------------------------------

  /// Its own timer, once a second.
  void housekeeping() {
    if (self_->current_sender().get() != self_->ctrl())
      return; // its own timer only (the service is reachable remotely)
    write_statistics();
    leave_over_bounds();
    apply_retention();
    self_->delayed_send(self_, housekeeping_interval, atom::tick_v);
  }

  /// A job actor that died on its own is started again from the job's
  /// durable state (docs/journal.md, "Supervision").
  void job_down(const caf::down_msg& msg) {
    auto i = std::find_if(jobs_.begin(), jobs_.end(), [&](const auto& kv) {
      return kv.second.handle.address() == msg.source;
    });
    if (i == jobs_.end())
      return; // it left memory as asked
    auto id = i->first;
    auto reason = caf::to_string(msg.reason);
    auto restarts = i->second.restarts + 1;
    std::cerr << "weft: the actor of job " << id << " stopped (" << reason
              << ")";
    auto was = i->second;
    forget_live(i);
    if (restarts > max_job_restarts) {
      std::cerr << "; it stopped " << restarts
                << " times, so the job stays as it was\n";
      failed_.emplace(id, failed_job{brief(id, was.name, was.cluster,
                                           was.submitted_at, job_state::failed),
                                     "job " + id
                                       + " failed in the "
                                         "orchestrator: its actor stopped "
                                       + std::to_string(restarts)
                                       + " times, last with " + reason});
      hand_over(id, was);
      return;
    }
    std::cerr << "; restarting it from its durable state\n";
    restart(id, restarts, reason, was.graph, was);
    hand_over(id, was);
  }

  static inline const char* name = "weft.job_service";

private:
  // -- jobs in memory ---------------------------------------------------------

  /// Spawns and monitors the job's actor. Returns its entry.
  std::map<std::string, live_job>::iterator start_job(recovered_job job,
                                                      uint32_t restarts = 0) {
    auto id = job.id; // the job itself moves into its actor
    live_job entry;
    entry.graph = job.graph;
    entry.name = job.name;
    entry.cluster = job.cluster;
    entry.submitted_at = job.submitted_at;
    entry.state = job.graph->state();
    entry.restarts = restarts;
    job_environment env{caf::actor_cast<job_service_actor>(self_),
                        dir_,
                        journal_,
                        stats_,
                        cfg_.options.progress_interval,
                        cfg_.create_clusters_on_use,
                        cfg_.metrics};
    entry.handle = spawn_job(self_->system(), std::move(env), std::move(job));
    self_->monitor(entry.handle);
    return jobs_.insert_or_assign(std::move(id), std::move(entry)).first;
  }

  /// A finished job that left memory, back with an actor; or the answer
  /// when it cannot come back (unknown, compacted, evicted, failed).
  template <class T>
  std::pair<std::map<std::string, live_job>::iterator, caf::result<T>>
  load_finished(const std::string& id) {
    using result
      = std::pair<std::map<std::string, live_job>::iterator, caf::result<T>>;
    auto none = jobs_.end();
    if (auto f = failed_.find(id); f != failed_.end())
      return result{none, failed_answer<T>(f->second)};
    if (forgetting_.count(id))
      return result{none, no_such_job(id)}; // its snapshot is going
    try {
      auto job = finished_job(id);
      if (!job)
        return result{none, no_such_job(id)};
      if (!job->graph)
        return result{none, summary_answer<T>(job->summary)};
      return result{start_job(std::move(*job)), caf::result<T>{caf::error{}}};
    } catch (const error& e) {
      return result{none, make_weft_error(e.code(), e.what())};
    }
  }

  /// A finished job as its snapshot (or, without a data directory, its
  /// kept graph) holds it; nothing when it has none.
  std::optional<recovered_job> finished_job(const std::string& id) {
    recovered_job job;
    job.id = id;
    job.from_snapshot = true;
    if (!cfg_.store) {
      auto k = kept_.find(id);
      if (k == kept_.end())
        return std::nullopt;
      job.name = k->second.name;
      job.cluster = k->second.cluster;
      job.submitted_at = k->second.submitted_at;
      job.graph = k->second.graph;
      return job;
    }
    auto bytes = cfg_.store->snapshot(id);
    if (!bytes)
      return std::nullopt;
    auto snap = core::decode_event(*bytes);
    job.name = snap.summary.name;
    job.cluster = snap.summary.cluster;
    job.submitted_at = snap.summary.submitted_at;
    job.summary = snap.summary;
    job.graph = core::graph_of_snapshot(snap);
    return job;
  }

  /// Starts a dead job actor again: from the journal (what is durable),
  /// or without one from the graph it left. Running attempts are requeued.
  void restart(const std::string& id, uint32_t restarts,
               const std::string& reason,
               std::shared_ptr<core::task_graph> graph, const live_job& was) {
    try {
      recovered_job job;
      if (cfg_.store) {
        auto found = recover_job(*cfg_.store, id);
        if (!found)
          found = finished_job(id);
        if (!found || !found->graph)
          throw error(errc::bad_data, "nothing durable is left of it");
        job = std::move(*found);
      } else {
        job = recovered_job{id, was.name, was.cluster, was.submitted_at,
                            std::move(graph)};
      }
      job.graph->requeue_running();
      job.graph->rebuild_ready();
      start_job(std::move(job), restarts);
    } catch (const error& e) {
      failed_.emplace(id, failed_job{brief(id, was.name, was.cluster,
                                           was.submitted_at, job_state::failed),
                                     "job " + id
                                       + " failed in the "
                                         "orchestrator: its actor stopped ("
                                       + reason
                                       + ") and could not be started "
                                         "again: "
                                       + e.what()});
    }
  }

  /// What the dead actor of `was` held goes to the actor restarted in its
  /// place, or, when the job failed instead, gets its final answer.
  void hand_over(const std::string& id, const live_job& was) {
    auto i = jobs_.find(id);
    auto f = failed_.find(id);
    std::vector<uint64_t> tokens;
    for (const auto& [token, req] : passed_)
      if (req.id == id)
        tokens.push_back(token);
    for (auto token : tokens) {
      auto p = passed_.find(token);
      if (i != jobs_.end()) {
        p->second.ask(i->second.handle);
      } else if (f != failed_.end()) {
        auto fail = std::move(p->second.fail);
        passed_.erase(p);
        fail(f->second);
      }
    }
    for (const auto& addr : was.watchers) {
      auto w = caf::actor_cast<progress_watcher>(
        caf::actor_cast<caf::strong_actor_ptr>(addr));
      if (!w)
        continue; // gone meanwhile
      if (i != jobs_.end()) {
        self_->send(i->second.handle, atom::watch_v, w);
        i->second.watchers.push_back(addr);
      } else if (f != failed_.end()) {
        progress_update u;
        u.job_id = id;
        u.name = f->second.info.name;
        u.state = job_state::failed;
        u.at = now();
        u.final = true;
        self_->send(w, atom::progress_v, std::move(u));
      }
    }
  }

  template <class T>
  static caf::result<T> failed_answer(const failed_job& f) {
    if constexpr (std::is_same_v<T, job_info>)
      return f.info;
    else
      return make_weft_error(errc::invalid_state, f.why);
  }

  /// Not at rest any more (it runs again, or leaves).
  void wake(live_job& e) {
    ++e.rest_check;
    if (!e.at_rest)
      return;
    e.at_rest = false;
    --resting_count_;
    resting_bytes_ -= e.bytes;
  }

  void forget_live(std::map<std::string, live_job>::iterator i) {
    wake(i->second);
    self_->demonitor(i->second.handle.address());
    jobs_.erase(i);
  }

  /// Finished actors leave memory: after their linger, and the longest at
  /// rest first while there are more, or bigger, than the bounds.
  void leave_over_bounds() {
    const auto& o = cfg_.options;
    auto linger_ns = std::chrono::nanoseconds{o.finished_linger}.count();
    auto t = now();
    while (!resting_.empty()) {
      auto [id, since] = resting_.front();
      auto i = jobs_.find(id);
      if (i == jobs_.end() || !i->second.at_rest
          || i->second.rest_since != since) {
        resting_.pop_front(); // woken or gone meanwhile
        continue;
      }
      if (resting_count_ <= o.finished_in_memory
          && resting_bytes_ <= o.finished_in_memory_bytes
          && t - since < linger_ns)
        return;
      resting_.pop_front();
      leave_memory(i);
    }
  }

  /// The actor goes (after what this service sent it before); without a
  /// data directory its graph stays, within its own bound.
  void leave_memory(std::map<std::string, live_job>::iterator i) {
    self_->send(i->second.handle, atom::stop_v);
    if (!cfg_.store)
      keep(i->first, i->second);
    forget_live(i);
  }

  void keep(const std::string& id, const live_job& e) {
    kept_.insert_or_assign(id, kept_job{e.graph, e.name, e.cluster,
                                        e.submitted_at});
    kept_order_.push_back(id);
    while (kept_.size() > cfg_.options.finished_kept_without_data_dir
           && !kept_order_.empty()) {
      auto oldest = kept_order_.front();
      kept_order_.pop_front();
      if (jobs_.count(oldest)) {
        // Back with an actor (a find, a retry): not dropped while it is
        // there, cache and all; kept again when it leaves.
        kept_.erase(oldest);
        continue;
      }
      if (kept_.erase(oldest) == 0)
        continue;
      ++evicted_;
      newest_evicted_ = std::max(newest_evicted_, oldest);
      if (cfg_.cache)
        erase_cache(oldest);
    }
  }

  /// Without a data directory: the jobs in memory and kept, in id order.
  void scan_memory(const job_query& q,
                   const std::function<bool(job_info&)>& visit) const {
    std::vector<job_info> all;
    all.reserve(jobs_.size() + kept_.size());
    for (const auto& [id, e] : jobs_)
      all.push_back(brief(id, e.name, e.cluster, e.submitted_at, e.state));
    for (const auto& [id, k] : kept_)
      if (!jobs_.count(id))
        all.push_back(
          brief(id, k.name, k.cluster, k.submitted_at, k.graph->state()));
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    if (q.newest_first)
      std::reverse(all.begin(), all.end());
    for (auto& info : all) {
      if (!q.cursor.empty()
          && (q.newest_first ? info.id >= q.cursor : info.id <= q.cursor))
        continue;
      if (!visit(info))
        return;
    }
  }

  // -- retention --------------------------------------------------------------

  /// Deletes finished jobs submitted before the retention limit, oldest
  /// first, a bounded batch per call.
  void apply_retention() {
    auto keep_for = cfg_.options.retention;
    if (keep_for.count() <= 0)
      return;
    auto cutoff = now() - std::chrono::nanoseconds{keep_for}.count();
    std::vector<std::string> doomed;
    auto visit = [&](job_info& info) {
      if (info.submitted_at >= cutoff || doomed.size() >= retention_batch)
        return false;
      // One whose actor rests in memory goes too (it would otherwise stay
      // as long as it is read within its linger); one running again stays.
      auto live = jobs_.find(info.id);
      if (is_final(info.state) && !forgetting_.count(info.id)
          && (live == jobs_.end() || live->second.at_rest))
        doomed.push_back(info.id);
      return true;
    };
    try {
      if (cfg_.store)
        cfg_.store->scan_index({}, false, visit);
      else
        scan_memory(job_query{}, visit);
    } catch (const error& e) {
      std::cerr << "weft: retention skipped: " << e.what() << "\n";
      return;
    }
    for (const auto& id : doomed)
      forget_finished(id);
  }

  void forget_finished(const std::string& id) {
    if (auto i = jobs_.find(id); i != jobs_.end()) {
      self_->send(i->second.handle, atom::stop_v);
      forget_live(i);
    }
    kept_.erase(id);
    if (cfg_.cache)
      erase_cache(id);
    if (!journal_)
      return;
    journal_record rec{id, {}};
    rec.kind = journal_record::forget;
    rec.sync = false; // lost in a crash, the next sweep deletes it again
    // Until the deletion is written its snapshot and index entry are still
    // on disk: neither a request nor the sweep may find them meanwhile.
    forgetting_.insert(id);
    auto written = [this, id] { forgetting_.erase(id); };
    self_
      ->request(journal_, caf::infinite, atom::append_v,
                std::vector<journal_record>{std::move(rec)})
      .then([written](uint64_t) { written(); },
            [written](caf::error&) { written(); });
  }

  void erase_cache(const std::string& id) {
    try {
      cfg_.cache->erase_group(id);
    } catch (const error& e) {
      std::cerr << "weft: " << e.what() << "\n";
    }
  }

  /// What the jobs learned goes to the journal.
  void write_statistics() {
    if (!journal_)
      return;
    auto records = statistics_records(*stats_);
    if (!records.empty())
      self_
        ->request(journal_, caf::infinite, atom::append_v, std::move(records))
        .then([](uint64_t) {},
              [](caf::error&) {
                // Advisory: the next change is written again.
              });
  }

  struct nothing_to_undo {
    void operator()() const {
    }
  };

  /// Journals `records`, then runs `next`; without a journal at once. A
  /// failed write runs `undo` and answers `rp` with the error instead.
  template <class Promise, class Next, class Undo = nothing_to_undo>
  void journal_then(std::vector<journal_record> records, Promise rp, Next next,
                    Undo undo = {}) {
    if (!journal_) {
      next();
      return;
    }
    self_->request(journal_, caf::infinite, atom::append_v, std::move(records))
      .then([next](uint64_t) mutable { next(); },
            [rp, undo](caf::error& err) mutable {
              undo();
              rp.deliver(err);
            });
  }

  caf::error no_such_job(const std::string& id) const {
    if (!core::is_uuid(id))
      return make_weft_error(errc::unknown_job,
                             text::quote(id)
                               + " is not a job id: job ids are UUIDs such "
                                 "as 018dd029-58ca-74e5-8b58-b4f99d610f9a");
    if (!cfg_.store && evicted_ > 0 && id <= newest_evicted_)
      return make_weft_error(
        errc::unknown_job,
        "no job with id " + id
          + " in memory: without a data directory weft "
            "keeps the "
          + std::to_string(cfg_.options.finished_kept_without_data_dir)
          + " most recently finished jobs and has dropped "
          + std::to_string(evicted_)
          + " older ones; give the orchestrator a data directory to keep "
            "every job");
    return make_weft_error(errc::unknown_job, "no job with id " + id);
  }

  pointer self_ = nullptr;
  std::shared_ptr<cluster_directory> dir_;
  orchestrator_config cfg_;
  journal_actor journal_;
  std::shared_ptr<core::task_statistics> stats_;
  std::map<std::string, live_job> jobs_; // with an actor; ids time-ordered
  // At rest, in the order they came to rest (with when, to skip stale ones).
  std::deque<std::pair<std::string, timestamp>> resting_;
  size_t resting_count_ = 0;
  size_t resting_bytes_ = 0;
  // Without a data directory: finished jobs that left memory as actors.
  std::map<std::string, kept_job> kept_;
  std::deque<std::string> kept_order_;
  uint64_t evicted_ = 0;
  std::set<std::string> forgetting_; // retention's deletions being written
  std::string newest_evicted_;
  std::map<std::string, failed_job> failed_; // could not be restarted
  /// Requests passed on to job actors and not answered yet.
  struct passed_request {
    std::string id;
    std::function<void(const job_actor&)> ask;   // (again), of this actor
    std::function<void(const failed_job&)> fail; // the job failed instead
  };
  std::map<uint64_t, passed_request> passed_;
  uint64_t next_request_ = 0;
};

caf::result<std::string> hello(const std::string& version) {
  if (version != protocol_version)
    return make_weft_error(errc::refused,
                           std::string{"this node speaks "} + version
                             + " and the orchestrator " + protocol_version
                             + ": run the same weft release on both");
  return std::string{protocol_version};
}

job_service_actor::behavior_type service_fn(
  job_service_state::pointer self, std::shared_ptr<cluster_directory> dir,
  orchestrator_config cfg, journal_actor journal,
  std::vector<recovered_job> recovered,
  std::shared_ptr<core::task_statistics> stats) {
  auto& st = self->state;
  st.init(self, std::move(dir), cfg, std::move(journal), std::move(recovered),
          std::move(stats));
  using tasks_t = std::vector<task_info>;
  return {
    [&st](atom::submit, submit_request& req) { return st.submit(req); },
    [&st](atom::find, const std::string& id) {
      return st.ask_job<job_info>(id, atom::find_v);
    },
    [&st](atom::query, const job_query& q) { return st.query(q); },
    [&st](atom::cancel, const std::string& id) {
      return st.ask_job<uint64_t>(id, atom::cancel_v);
    },
    [&st](atom::retry, const std::string& id) {
      return st.ask_job<uint64_t>(id, atom::retry_v);
    },
    [&st](atom::tasks, const std::string& id) {
      return st.ask_job<tasks_t>(id, atom::tasks_v);
    },
    [&st](atom::wait, const std::string& id) {
      return st.ask_job<job_info>(id, atom::wait_v);
    },
    [&st](atom::watch, const std::string& id, progress_watcher& watcher) {
      return st.watch(id, watcher);
    },
    [&st](atom::cluster, const std::string& name) { return st.cluster(name); },
    [&st](atom::create, const std::string& name) {
      return st.create_cluster(name);
    },
    [&st](atom::info, const std::string& name) {
      return st.cluster_info_of(name);
    },
    [&st](atom::list) { return st.list_clusters(); },
    [&st](atom::remove, const std::string& name) {
      return st.remove_cluster(name);
    },
    [](atom::hello, const std::string& version) { return hello(version); },
    [&st](atom::state, const std::string& id, job_state state) {
      st.state_changed(id, state);
    },
    [&st](atom::done, const std::string& id) { st.job_done(id); },
    [&st](atom::done, const std::string& id, std::vector<task_result>& results,
          const std::string& runner) { st.late_results(id, results, runner); },
    [&st](atom::tick) { st.housekeeping(); },
  };
}

} // namespace

job_service_actor spawn_job_service(
  caf::actor_system& sys, std::shared_ptr<cluster_directory> dir,
  orchestrator_config cfg, journal_actor journal,
  std::vector<recovered_job> recovered,
  std::shared_ptr<core::task_statistics> stats) {
  return sys.spawn(service_fn, std::move(dir), cfg, std::move(journal),
                   std::move(recovered), std::move(stats));
}

std::vector<journal_record> statistics_records(core::task_statistics& stats) {
  std::vector<journal_record> records;
  for (const auto& [key, profile] : stats.take_changed()) {
    journal_record r;
    r.kind = journal_record::statistics;
    // The name's length first: names may hold any byte, so two keys must
    // not concatenate to the same store key.
    r.job_id = std::to_string(key.name.size()) + ':' + key.name + '@'
               + std::to_string(key.major) + '#' + std::to_string(key.depth)
               + '<' + key.parent;
    r.bytes = core::encode_profile(key, profile);
    r.sync = false; // advisory: a crash costs only estimate accuracy
    records.push_back(std::move(r));
  }
  return records;
}

} // namespace weft
