#include "weft/actors/job_service.hpp"
#include "weft/actors/job.hpp"
#include "weft/actors/messages.hpp"
#include "weft/core/journal_event.hpp"
#include "weft/core/submission.hpp"
#include "weft/core/uuid.hpp"

#include "weft/json.hpp"
#include "weft/text.hpp"

#include <caf/all.hpp>

#include <cctype>
#include <map>
#include <optional>

namespace weft {

namespace {

struct job_entry {
  job_actor handle;  // null once the job is compacted (summary below)
  std::optional<job_info> summary;
  std::string name;
  std::string cluster;
  timestamp submitted_at = 0;
  job_state state = job_state::submitted;
};


constexpr auto statistics_interval = std::chrono::seconds{1};

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

/// What a compacted job answers in place of its actor.
template <class T, class Atom>
std::optional<caf::result<T>> ask_summary(const job_entry& e, Atom) {
  if (e.handle)
    return std::nullopt;
  const auto& info = *e.summary;
  if constexpr (std::is_same_v<T, job_info>)
    return caf::result<T>{info};  // find, wait: final already
  else if constexpr (std::is_same_v<T, uint64_t>)
    return caf::result<T>{uint64_t{0}};  // cancel, retry: nothing left
  else
    return caf::result<T>{make_weft_error(
      errc::invalid_state,
      "job " + info.id
        + " completed before the orchestrator last restarted and was "
          "compacted: find and query still answer, its tasks are no longer "
          "kept")};
}

bool matches(const job_query& q, const std::string& id, const job_entry& e) {
  if (q.from.ns != 0 && e.submitted_at < q.from.ns)
    return false;
  if (q.to.ns != 0 && e.submitted_at >= q.to.ns)
    return false;
  if (!q.id_from.empty() && id < q.id_from)
    return false;
  if (!q.id_to.empty() && id >= q.id_to)
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
    journal_ = std::move(journal);
    stats_ = stats ? std::move(stats)
                   : std::make_shared<core::task_statistics>();
    // What the jobs learn goes to the journal about once a second: losing
    // the last second of it in a crash costs only estimate accuracy.
    if (journal_)
      self->delayed_send(self, statistics_interval, atom::tick_v);
    for (auto& job : recovered)
      start_job(std::move(job));
    // Job actors live and die with their service.
    self->set_exit_handler([this](caf::exit_msg& msg) {
      for (auto& [id, e] : jobs_)
        if (e.handle)
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
    auto job = recovered_job{e.job_id, e.name,           e.cluster,
                             e.time,   core::graph_of(e), {}};
    auto rp = self_->make_response_promise<job_info>();
    // Acknowledged only once the submission is on disk, with the job
    // actor's own view: by then it has run its first step and sent its
    // root tasks to their cluster, so whatever the submitter does next
    // (such as run_all) sees them queued.
    journal_then({journal_record{e.job_id, core::encode_event(e)}}, rp,
                 [this, rp, job = std::move(job)]() mutable {
                   auto id = start_job(std::move(job));
                   rp.delegate(jobs_[id].handle, atom::find_v);
                 });
    return rp;
  }

  std::vector<job_info> query(const job_query& q) const {
    std::vector<job_info> result;
    for (const auto& [id, e] : jobs_) {
      if (!matches(q, id, e))
        continue;
      job_info info;
      info.id = id;
      info.name = e.name;
      info.cluster = e.cluster;
      info.state = e.state;
      info.submitted_at = e.submitted_at;
      result.push_back(std::move(info));
    }
    return result;
  }

  /// Forwards to the job's actor, or answers from its summary.
  template <class T, class Atom>
  caf::result<T> ask_job(const std::string& id, Atom what) {
    auto i = jobs_.find(id);
    if (i == jobs_.end())
      return no_such_job(id);
    if (auto answer = ask_summary<T>(i->second, what))
      return std::move(*answer);
    return self_->delegate(i->second.handle, what);
  }

  caf::result<bool> watch(const std::string& id, progress_watcher& watcher) {
    auto i = jobs_.find(id);
    if (i == jobs_.end())
      return no_such_job(id);
    if (i->second.handle) {
      self_->send(i->second.handle, atom::watch_v, watcher);
      return true;
    }
    // Compacted: its summary is the first and final update.
    const auto& info = *i->second.summary;
    progress_update u;
    u.job_id = info.id;
    u.name = info.name;
    u.state = info.state;
    u.progress = info.progress;
    u.stats = info.stats;
    u.percent = 100;
    u.eta_ns = 0;
    u.at = now();
    u.final = true;
    self_->send(watcher, atom::progress_v, std::move(u));
    return true;
  }

  void state_changed(const std::string& id, job_state state) {
    if (auto i = jobs_.find(id); i != jobs_.end())
      i->second.state = state;
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
      if (!hdl) {  // removed meanwhile
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

  /// Its own timer: what the jobs learned goes to the journal.
  void write_statistics() {
    if (!journal_ || self_->current_sender().get() != self_->ctrl())
      return;  // its own timer only (the service is reachable remotely)
    auto records = statistics_records(*stats_);
    if (!records.empty())
      self_->request(journal_, caf::infinite, atom::append_v,
                     std::move(records))
        .then([](uint64_t) {},
              [](caf::error&) {
                // Advisory: the next change is written again.
              });
    self_->delayed_send(self_, statistics_interval, atom::tick_v);
  }

  static inline const char* name = "weft.job_service";

private:
  /// Indexes a job and, unless it was compacted, spawns its job actor.
  /// Returns its id.
  std::string start_job(recovered_job job) {
    auto id = job.id;  // the job itself moves into its actor
    job_entry entry;
    entry.name = job.name;
    entry.cluster = job.cluster;
    entry.submitted_at = job.submitted_at;
    if (!job.graph) {
      entry.state = job.summary.state;
      entry.summary = job.summary;
    } else {
      entry.state = job.graph->state();
      job_environment env{caf::actor_cast<job_service_actor>(self_), dir_,
                          journal_, stats_, cfg_.options.progress_interval,
                          cfg_.create_clusters_on_use};
      entry.handle = spawn_job(self_->system(), std::move(env), std::move(job));
    }
    return jobs_.emplace(std::move(id), std::move(entry)).first->first;
  }

  struct nothing_to_undo {
    void operator()() const {
    }
  };

  /// Journals `records`, then runs `next`; without a journal at once. A
  /// failed write runs `undo` and answers `rp` with the error instead.
  template <class Promise, class Next, class Undo = nothing_to_undo>
  void journal_then(std::vector<journal_record> records, Promise rp,
                    Next next, Undo undo = {}) {
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

  static caf::error no_such_job(const std::string& id) {
    if (!core::is_uuid(id))
      return make_weft_error(errc::unknown_job,
                             text::quote(id)
                               + " is not a job id: job ids are UUIDs such "
                                 "as 018dd029-58ca-74e5-8b58-b4f99d610f9a");
    return make_weft_error(errc::unknown_job, "no job with id " + id);
  }

  pointer self_ = nullptr;
  std::shared_ptr<cluster_directory> dir_;
  orchestrator_config cfg_;
  journal_actor journal_;
  std::shared_ptr<core::task_statistics> stats_;
  std::map<std::string, job_entry> jobs_;  // ids are time-ordered
};

caf::result<std::string> hello(const std::string& version) {
  if (version != protocol_version)
    return make_weft_error(errc::refused,
                           std::string{"this node speaks "} + version
                             + " and the orchestrator " + protocol_version
                             + ": run the same weft release on both");
  return std::string{protocol_version};
}

job_service_actor::behavior_type
service_fn(job_service_state::pointer self,
           std::shared_ptr<cluster_directory> dir, orchestrator_config cfg,
           journal_actor journal, std::vector<recovered_job> recovered,
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
    [&st](atom::tick) { st.write_statistics(); },
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
    r.sync = false;  // advisory: a crash costs only estimate accuracy
    records.push_back(std::move(r));
  }
  return records;
}

} // namespace weft
