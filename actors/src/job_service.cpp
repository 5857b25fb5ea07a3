#include "weft/actors/directory.hpp"
#include "weft/core/journal_event.hpp"
#include "weft/core/uuid.hpp"

#include <boost/json/parse.hpp>

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
  std::map<std::string, job_entry> jobs;  // ids are time-ordered

  static inline const char* name = "weft.job_service";
};

using service_pointer = job_service_actor::stateful_pointer<service_data>;

/// Checks a submission; returns an empty error when it may become a job.
caf::error validate(const service_data& st, const submit_request& req) {
  if (req.roots.empty())
    return make_weft_error(errc::invalid_argument,
                           "a job needs at least one root task");
  if (req.name.empty() || req.name.size() > 1024)
    return make_weft_error(errc::invalid_argument,
                           "a job name must be 1 to 1024 bytes long");
  for (const auto& root : req.roots) {
    try {
      validate_identifier(root.identifier);
    } catch (const error& e) {
      return make_weft_error(e.code(), e.what());
    }
    if (root.input.size() > st.cfg.max_input_bytes)
      return make_weft_error(
        errc::input_too_large,
        "input of " + to_string(root.identifier) + " is "
          + std::to_string(root.input.size()) + " bytes, above the limit of "
          + std::to_string(st.cfg.max_input_bytes)
          + " bytes: pass large data through the job cache instead");
    boost::system::error_code ec;
    auto value = boost::json::parse(root.input, ec);
    if (ec || !value.is_object())
      return make_weft_error(errc::invalid_input,
                             "input of " + to_string(root.identifier)
                               + " is not a JSON object"
                               + (ec ? ": " + ec.message() : std::string{}));
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
                             "'" + id
                               + "' is not a job id: job ids are UUIDs such "
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
  job_entry entry;
  entry.name = job.name;
  entry.cluster = job.cluster;
  entry.submitted_at = job.submitted_at;
  if (!job.graph) {
    entry.state = job.summary.state;
    entry.summary = job.summary;
  } else {
    entry.state = job.graph->state();
    entry.handle = spawn_job(self->system(),
                             caf::actor_cast<job_service_actor>(self), st.dir,
                             st.journal, job);
  }
  return st.jobs.emplace(job.id, std::move(entry)).first->first;
}

job_service_actor::behavior_type
service_fn(service_pointer self, std::shared_ptr<cluster_directory> dir,
           orchestrator_config cfg, journal_actor journal,
           std::vector<recovered_job> recovered) {
  self->state.dir = std::move(dir);
  self->state.cfg = cfg;
  self->state.journal = std::move(journal);
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
    [self](atom::cluster, const std::string& name) -> cluster_actor {
      return self->state.dir->get(name);
    },
    [self](atom::state, const std::string& id, job_state state) {
      if (auto i = self->state.jobs.find(id); i != self->state.jobs.end())
        i->second.state = state;
    },
  };
}

} // namespace

job_service_actor spawn_job_service(caf::actor_system& sys,
                                    std::shared_ptr<cluster_directory> dir,
                                    orchestrator_config cfg,
                                    journal_actor journal,
                                    std::vector<recovered_job> recovered) {
  return sys.spawn(service_fn, std::move(dir), cfg, std::move(journal),
                   std::move(recovered));
}

} // namespace weft
