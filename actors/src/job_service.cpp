#include "weft/actors/directory.hpp"
#include "weft/core/journal_event.hpp"
#include "weft/core/uuid.hpp"

#include "weft/json.hpp"
#include "weft/text.hpp"

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

struct service_data {
  std::shared_ptr<cluster_directory> dir;
  orchestrator_config cfg;
  journal_actor journal;
  std::shared_ptr<core::task_statistics> stats;
  std::map<std::string, job_entry> jobs;  // ids are time-ordered

  static inline const char* name = "weft.job_service";
};

using service_pointer = job_service_actor::stateful_pointer<service_data>;

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
caf::error validate(const service_data& st, const submit_request& req) {
  if (req.roots.empty())
    return make_weft_error(errc::invalid_argument,
                           "a job needs at least one root task");
  if (auto err = checked([&] { validate_job_name(req.name); }))
    return err;
  if (auto err = validate_cluster_name(req.cluster))
    return err;
  for (const auto& root : req.roots) {
    if (auto err = checked([&] { validate_identifier(root.identifier); }))
      return err;
    if (root.input.size() > st.cfg.max_input_bytes)
      return make_weft_error(
        errc::input_too_large,
        "input of " + to_string(root.identifier) + " is "
          + std::to_string(root.input.size()) + " bytes, above the limit of "
          + std::to_string(st.cfg.max_input_bytes)
          + " bytes: pass large data through the job cache instead");
    try {
      json::parse_input(root.input);
    } catch (const error& e) {
      return make_weft_error(e.code(), "input of " + to_string(root.identifier)
                                         + ": " + e.what());
    }
    if (!root.depends_on.empty())
      return make_weft_error(errc::invalid_argument,
                             "root tasks cannot depend on each other");
  }
  return {};
}

template <class T>
caf::result<T> forward(service_pointer self, const std::string& id,
                       std::function<void(job_actor&, caf::typed_response_promise<T>)> fn) {
  auto i = self->state.jobs.find(id);
  if (i == self->state.jobs.end()) {
    if (!core::is_uuid(id))
      return make_weft_error(errc::unknown_job,
                             text::quote(id)
                               + " is not a job id: job ids are UUIDs such "
                                 "as 018dd029-58ca-74e5-8b58-b4f99d610f9a");
    return make_weft_error(errc::unknown_job, "no job with id " + id);
  }
  auto rp = self->make_response_promise<T>();
  fn(i->second.handle, rp);
  return rp;
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

template <class T, class... Ts>
caf::result<T> ask_job(service_pointer self, const std::string& id,
                       Ts... xs) {
  if (auto i = self->state.jobs.find(id); i != self->state.jobs.end())
    if (auto answer = ask_summary<T>(i->second, xs...))
      return std::move(*answer);
  return forward<T>(self, id,
                    [self, xs...](job_actor& job,
                                  caf::typed_response_promise<T> rp) {
                      self->request(job, caf::infinite, xs...)
                        .then([rp](T& x) mutable { rp.deliver(std::move(x)); },
                              [rp](caf::error& e) mutable { rp.deliver(e); });
                    });
}

bool matches(const job_query& q, const std::string& id, const job_entry& e) {
  if (q.from != 0 && e.submitted_at < q.from)
    return false;
  if (q.to != 0 && e.submitted_at >= q.to)
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

/// Indexes a job and, unless it was compacted, spawns its job actor.
/// Returns its id.
std::string start_job(service_pointer self, recovered_job job) {
  auto& st = self->state;
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
    job_environment env{caf::actor_cast<job_service_actor>(self), st.dir,
                        st.journal, st.stats, st.cfg.progress_interval};
    entry.handle = spawn_job(self->system(), std::move(env), std::move(job));
  }
  return st.jobs.emplace(std::move(id), std::move(entry)).first->first;
}

job_service_actor::behavior_type
service_fn(service_pointer self, std::shared_ptr<cluster_directory> dir,
           orchestrator_config cfg, journal_actor journal,
           std::vector<recovered_job> recovered,
           std::shared_ptr<core::task_statistics> stats) {
  self->state.dir = std::move(dir);
  self->state.cfg = cfg;
  self->state.journal = std::move(journal);
  self->state.stats = stats ? std::move(stats)
                            : std::make_shared<core::task_statistics>();
  // What the jobs learn goes to the journal about once a second: losing
  // the last second of it in a crash costs only estimate accuracy.
  if (self->state.journal)
    self->delayed_send(self, statistics_interval, atom::tick_v);
  for (auto& job : recovered)
    start_job(self, std::move(job));
  // Job actors live and die with their service.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& [id, e] : self->state.jobs)
      if (e.handle)
        self->send_exit(e.handle, msg.reason);
    self->quit(msg.reason);
  });
  return {
    [self](atom::submit, submit_request& req) -> caf::result<job_info> {
      auto& st = self->state;
      if (req.cluster.empty())
        req.cluster = "default";
      if (auto err = validate(st, req))
        return err;
      if (!st.cfg.create_clusters_on_use && !st.dir->find(req.cluster))
        return unknown_cluster(req.cluster);
      core::journal_event e;
      e.kind = core::event_kind::job_submitted;
      e.job_id = core::make_uuid_v7();
      e.time = now();
      e.name = std::move(req.name);
      e.cluster = std::move(req.cluster);
      e.max_retries = req.max_retries;
      e.roots = std::move(req.roots);
      auto job = recovered_job{e.job_id, e.name, e.cluster, e.time,
                               core::graph_of(e)};
      // Answer with the job actor's own view: by then it has run its first
      // step and sent its root tasks to their cluster, so whatever the
      // submitter does next (such as run_all) sees them queued.
      auto rp = self->make_response_promise<job_info>();
      auto launch = [self, rp](recovered_job job) mutable {
        auto id = start_job(self, std::move(job));
        auto handle = self->state.jobs[id].handle;
        self->request(handle, caf::infinite, atom::find_v)
          .then([rp](job_info& info) mutable { rp.deliver(std::move(info)); },
                [rp](caf::error& err) mutable { rp.deliver(err); });
      };
      if (!st.journal) {
        launch(std::move(job));
        return rp;
      }
      // Acknowledged only once the submission is on disk.
      self
        ->request(st.journal, caf::infinite, atom::append_v,
                  std::vector<journal_record>{
                    journal_record{e.job_id, core::encode_event(e)}})
        .then(
          [launch, job = std::move(job)](uint64_t) mutable {
            launch(std::move(job));
          },
          [rp](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [self](atom::find, const std::string& id) -> caf::result<job_info> {
      return ask_job<job_info>(self, id, atom::find_v);
    },
    [self](atom::query, const job_query& q) -> std::vector<job_info> {
      std::vector<job_info> result;
      for (const auto& [id, e] : self->state.jobs) {
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
    },
    [self](atom::cancel, const std::string& id) -> caf::result<uint64_t> {
      return ask_job<uint64_t>(self, id, atom::cancel_v);
    },
    [self](atom::retry, const std::string& id) -> caf::result<uint64_t> {
      return ask_job<uint64_t>(self, id, atom::retry_v);
    },
    [self](atom::tasks,
           const std::string& id) -> caf::result<std::vector<task_info>> {
      return ask_job<std::vector<task_info>>(self, id, atom::tasks_v);
    },
    [self](atom::wait, const std::string& id) -> caf::result<job_info> {
      return ask_job<job_info>(self, id, atom::wait_v);
    },
    [self](atom::watch, const std::string& id,
           progress_watcher& watcher) -> caf::result<bool> {
      auto i = self->state.jobs.find(id);
      if (i != self->state.jobs.end() && !i->second.handle) {
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
        self->send(watcher, atom::progress_v, std::move(u));
        return true;
      }
      return forward<bool>(self, id,
                           [self, watcher](job_actor& job,
                                           caf::typed_response_promise<bool>
                                             rp) mutable {
                             self->send(job, atom::watch_v, watcher);
                             rp.deliver(true);
                           });
    },
    [self](atom::cluster,
           const std::string& name) -> caf::result<cluster_actor> {
      auto& st = self->state;
      if (auto hdl = st.dir->find(name))
        return hdl;
      if (!st.cfg.create_clusters_on_use)
        return unknown_cluster(name);
      return st.dir->get(name);
    },
    [self](atom::create,
           const std::string& name) -> caf::result<cluster_info> {
      auto& st = self->state;
      if (auto err = validate_cluster_name(name))
        return err;
      if (st.dir->find(name))
        return make_weft_error(errc::already_exists,
                               "cluster " + name + " already exists");
      auto rp = self->make_response_promise<cluster_info>();
      auto reply = [self, rp, name]() mutable {
        self->request(self->state.dir->get(name), caf::infinite, atom::info_v)
          .then([rp](cluster_info& x) mutable { rp.deliver(std::move(x)); },
                [rp](caf::error& e) mutable { rp.deliver(e); });
      };
      if (!st.journal) {
        reply();
        return rp;
      }
      journal_record rec;
      rec.kind = journal_record::cluster_created;
      rec.job_id = name;
      self
        ->request(st.journal, caf::infinite, atom::append_v,
                  std::vector<journal_record>{std::move(rec)})
        .then([reply](uint64_t) mutable { reply(); },
              [rp](caf::error& e) mutable { rp.deliver(e); });
      return rp;
    },
    [self](atom::info, const std::string& name) -> caf::result<cluster_info> {
      auto hdl = self->state.dir->find(name);
      if (!hdl)
        return unknown_cluster(name);
      auto rp = self->make_response_promise<cluster_info>();
      self->request(hdl, caf::infinite, atom::info_v)
        .then([rp](cluster_info& x) mutable { rp.deliver(std::move(x)); },
              [rp](caf::error& e) mutable { rp.deliver(e); });
      return rp;
    },
    [self](atom::list) -> caf::result<std::vector<cluster_info>> {
      auto names = self->state.dir->names();
      auto rp = self->make_response_promise<std::vector<cluster_info>>();
      if (names.empty()) {
        rp.deliver(std::vector<cluster_info>{});
        return rp;
      }
      struct gather {
        std::vector<cluster_info> infos;
        size_t pending = 0;
      };
      auto acc = std::make_shared<gather>();
      acc->infos.resize(names.size());
      acc->pending = names.size();
      for (size_t i = 0; i < names.size(); ++i) {
        auto hdl = self->state.dir->find(names[i]);
        acc->infos[i].name = names[i];
        auto step = [rp, acc]() mutable {
          if (--acc->pending == 0)
            rp.deliver(std::move(acc->infos));
        };
        if (!hdl) {  // removed meanwhile
          step();
          continue;
        }
        self->request(hdl, caf::infinite, atom::info_v)
          .then(
            [acc, i, step](cluster_info& x) mutable {
              acc->infos[i] = std::move(x);
              step();
            },
            [step](caf::error&) mutable { step(); });
      }
      return rp;
    },
    [self](atom::remove, const std::string& name) -> caf::result<bool> {
      auto& st = self->state;
      if (name == "default")
        return make_weft_error(errc::refused,
                               "the default cluster always exists and cannot "
                               "be deleted");
      auto hdl = st.dir->find(name);
      if (!hdl)
        return unknown_cluster(name);
      auto rp = self->make_response_promise<bool>();
      self->request(hdl, caf::infinite, atom::info_v)
        .then(
          [self, rp, name](cluster_info& info) mutable {
            if (!info.runners.empty()) {
              rp.deliver(make_weft_error(
                errc::refused,
                "cluster " + name + " has "
                  + std::to_string(info.runners.size())
                  + " live runner(s): stop them before deleting it"));
              return;
            }
            if (info.queued + info.dispatched > 0) {
              rp.deliver(make_weft_error(
                errc::refused,
                "cluster " + name + " still has "
                  + std::to_string(info.queued + info.dispatched)
                  + " task(s) to run: cancel their jobs before deleting it"));
              return;
            }
            auto drop = [self, rp, name]() mutable {
              self->state.dir->remove(name);
              rp.deliver(true);
            };
            if (!self->state.journal) {
              drop();
              return;
            }
            journal_record rec;
            rec.kind = journal_record::cluster_deleted;
            rec.job_id = name;
            self
              ->request(self->state.journal, caf::infinite, atom::append_v,
                        std::vector<journal_record>{std::move(rec)})
              .then([drop](uint64_t) mutable { drop(); },
                    [rp](caf::error& e) mutable { rp.deliver(e); });
          },
          [rp](caf::error& e) mutable { rp.deliver(e); });
      return rp;
    },
    [](atom::hello, const std::string& version) -> caf::result<std::string> {
      if (version != protocol_version)
        return make_weft_error(errc::refused,
                               std::string{"this node speaks "} + version
                                 + " and the orchestrator "
                                 + protocol_version
                                 + ": run the same weft release on both");
      return std::string{protocol_version};
    },
    [self](atom::state, const std::string& id, job_state state) {
      if (auto i = self->state.jobs.find(id); i != self->state.jobs.end())
        i->second.state = state;
    },
    [self](atom::tick) {
      auto& st = self->state;
      if (!st.journal || self->current_sender().get() != self->ctrl())
        return;  // its own timer only (the service is reachable remotely)
      auto records = statistics_records(*st.stats);
      if (!records.empty())
        self->request(st.journal, caf::infinite, atom::append_v,
                      std::move(records))
          .then([](uint64_t) {},
                [](caf::error&) {
                  // Advisory: the next change is written again.
                });
      self->delayed_send(self, statistics_interval, atom::tick_v);
    },
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
