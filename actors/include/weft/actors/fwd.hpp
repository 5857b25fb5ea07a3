#pragma once

// The one place that declares weft's messages: the type-ID block, every
// atom and every typed actor interface. Every node includes this header so
// that type names on the wire agree.

#include "weft/core/attempt.hpp"
#include "weft/error.hpp"
#include "weft/job.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace weft {

// -- messages ------------------------------------------------------------------

/// A job's request to create a job.
struct submit_request {
  std::string name;
  std::string cluster;
  uint32_t max_retries = 0;
  std::vector<core::task_submission> roots;
};

/// What a runner reports when an attempt finished.
struct task_result {
  uint32_t task = 0;
  uint32_t attempt = 0;
  core::attempt_outcome outcome;
};

/// The indicators of an attempt that is still running, as its runner
/// samples them.
struct attempt_progress {
  uint32_t task = 0;
  uint32_t attempt = 0;
  std::vector<progress_indicator> progress;
};

struct dispatch_spec;

/// A dispatched attempt, as a runner asks its job to start it.
struct attempt_id {
  uint32_t task = 0;
  uint32_t attempt = 0;
  uint64_t seq = 0;  // the cluster's dispatch id
};

/// One encoded journal event of a job (see core::encode_event). With
/// `replaces_job`, it replaces every earlier event of the job (compaction).
/// The cluster kinds record a cluster created or deleted; `job_id` then
/// holds the cluster's name and `bytes` is empty. A `statistics` record is
/// a learned profile (core::encode_profile) that replaces the one under the
/// same key, held in `job_id`. Without `sync`, the record may be
/// acknowledged once the store has it but before it is on disk: a batch of
/// such records alone is written without a sync, and the next synced write
/// takes them along (for facts a crash may lose without changing what a
/// restart resumes: a task's start, a compaction, learned statistics).
struct journal_record {
  // Pinned: `kind` travels as this number (CAF inspects it as a uint8_t).
  // If you add a kind: append it with the next number, never renumber or
  // reuse one, add its static_assert below and handle it in
  // actors/src/journal.cpp (the store's key prefixes are its own).
  enum kind_type : uint8_t {
    event = 0,
    cluster_created = 1,
    cluster_deleted = 2,
    statistics = 3,
  };
  std::string job_id;
  std::string bytes;
  bool replaces_job = false;
  uint8_t kind = event;
  bool sync = true;
};

static_assert(journal_record::event == 0);
static_assert(journal_record::cluster_created == 1);
static_assert(journal_record::cluster_deleted == 2);
static_assert(journal_record::statistics == 3);

/// What a runner tells its cluster when it joins.
using runner_registration = runner_info;

} // namespace weft

CAF_BEGIN_TYPE_ID_BLOCK(weft, caf::first_custom_type_id)

  CAF_ADD_ATOM(weft, weft::atom, submit, "wSubmit")
  CAF_ADD_ATOM(weft, weft::atom, find, "wFind")
  CAF_ADD_ATOM(weft, weft::atom, query, "wQuery")
  CAF_ADD_ATOM(weft, weft::atom, cancel, "wCancel")
  CAF_ADD_ATOM(weft, weft::atom, retry, "wRetry")
  CAF_ADD_ATOM(weft, weft::atom, tasks, "wTasks")
  CAF_ADD_ATOM(weft, weft::atom, wait, "wWait")
  CAF_ADD_ATOM(weft, weft::atom, state, "wState")
  CAF_ADD_ATOM(weft, weft::atom, start, "wStart")
  CAF_ADD_ATOM(weft, weft::atom, done, "wDone")
  CAF_ADD_ATOM(weft, weft::atom, enqueue, "wEnqueue")
  CAF_ADD_ATOM(weft, weft::atom, withdraw, "wWithdraw")
  CAF_ADD_ATOM(weft, weft::atom, join, "wJoin")
  CAF_ADD_ATOM(weft, weft::atom, credit, "wCredit")
  CAF_ADD_ATOM(weft, weft::atom, idle, "wIdle")
  CAF_ADD_ATOM(weft, weft::atom, run, "wRun")
  CAF_ADD_ATOM(weft, weft::atom, cluster, "wCluster")
  CAF_ADD_ATOM(weft, weft::atom, stop, "wStop")
  CAF_ADD_ATOM(weft, weft::atom, lost, "wLost")
  CAF_ADD_ATOM(weft, weft::atom, append, "wAppend")
  CAF_ADD_ATOM(weft, weft::atom, flush, "wFlush")
  CAF_ADD_ATOM(weft, weft::atom, info, "wInfo")
  CAF_ADD_ATOM(weft, weft::atom, create, "wCreate")
  CAF_ADD_ATOM(weft, weft::atom, list, "wList")
  CAF_ADD_ATOM(weft, weft::atom, remove, "wRemove")
  CAF_ADD_ATOM(weft, weft::atom, hello, "wHello")
  CAF_ADD_ATOM(weft, weft::atom, watch, "wWatch")
  CAF_ADD_ATOM(weft, weft::atom, progress, "wProgress")
  CAF_ADD_ATOM(weft, weft::atom, tick, "wTick")

  CAF_ADD_TYPE_ID(weft, (weft::job_state))
  CAF_ADD_TYPE_ID(weft, (weft::task_state))
  CAF_ADD_TYPE_ID(weft, (weft::task_identifier))
  CAF_ADD_TYPE_ID(weft, (weft::progress_indicator))
  CAF_ADD_TYPE_ID(weft, (weft::execution_stats))
  CAF_ADD_TYPE_ID(weft, (weft::job_info))
  CAF_ADD_TYPE_ID(weft, (std::vector<weft::job_info>))
  CAF_ADD_TYPE_ID(weft, (weft::job_query))
  CAF_ADD_TYPE_ID(weft, (weft::log_record))
  CAF_ADD_TYPE_ID(weft, (weft::span_record))
  CAF_ADD_TYPE_ID(weft, (weft::attempt_record))
  CAF_ADD_TYPE_ID(weft, (weft::task_info))
  CAF_ADD_TYPE_ID(weft, (std::vector<weft::task_info>))
  CAF_ADD_TYPE_ID(weft, (weft::core::task_submission))
  CAF_ADD_TYPE_ID(weft, (weft::core::attempt_outcome))
  CAF_ADD_TYPE_ID(weft, (weft::submit_request))
  CAF_ADD_TYPE_ID(weft, (weft::task_result))
  CAF_ADD_TYPE_ID(weft, (std::vector<weft::task_result>))
  CAF_ADD_TYPE_ID(weft, (weft::attempt_progress))
  CAF_ADD_TYPE_ID(weft, (std::vector<weft::attempt_progress>))
  CAF_ADD_TYPE_ID(weft, (weft::attempt_id))
  CAF_ADD_TYPE_ID(weft, (std::vector<weft::attempt_id>))
  CAF_ADD_TYPE_ID(weft, (weft::runner_info))
  CAF_ADD_TYPE_ID(weft, (weft::dispatch_spec))
  CAF_ADD_TYPE_ID(weft, (std::vector<weft::dispatch_spec>))
  CAF_ADD_TYPE_ID(weft, (std::vector<uint64_t>))
  CAF_ADD_TYPE_ID(weft, (weft::journal_record))
  CAF_ADD_TYPE_ID(weft, (std::vector<weft::journal_record>))
  CAF_ADD_TYPE_ID(weft, (weft::item_progress))
  CAF_ADD_TYPE_ID(weft, (std::vector<weft::item_progress>))
  CAF_ADD_TYPE_ID(weft, (weft::progress_update))
  CAF_ADD_TYPE_ID(weft, (weft::cluster_info))
  CAF_ADD_TYPE_ID(weft, (std::vector<weft::cluster_info>))

CAF_END_TYPE_ID_BLOCK(weft)

CAF_ERROR_CODE_ENUM(weft::errc, "weft")

namespace weft {

// -- actor interfaces ---------------------------------------------------------

/// Whoever watches a job: receives its progress updates.
using progress_watcher =
  caf::typed_actor<caf::reacts_to<atom::progress, progress_update>>;

/// One per active job: owns the task graph and supervises its attempts.
/// Runners talk to it in batches: one start request for the attempts of a
/// dispatch batch, one done message for the results gathered meanwhile.
using job_actor = caf::typed_actor<
  // A runner asks to start attempts it was dispatched; answers with the
  // dispatch seqs that may run (the others were canceled meanwhile). The
  // job then monitors the runner: if it goes away, so do these attempts.
  caf::replies_to<atom::start, std::vector<attempt_id>,
                  std::string>::with<std::vector<uint64_t>>,
  // Outcomes of attempts, from the runner that started them.
  caf::reacts_to<atom::done, std::vector<task_result>>,
  // Indicators of attempts still running there, sampled by that runner.
  caf::reacts_to<atom::progress, std::vector<attempt_progress>>,
  // The cluster's dispatch (task, attempt, seq) went to a runner that died
  // before it could start it.
  caf::reacts_to<atom::lost, uint32_t, uint32_t, uint64_t>,
  caf::replies_to<atom::find>::with<job_info>,
  caf::replies_to<atom::cancel>::with<uint64_t>,
  caf::replies_to<atom::retry>::with<uint64_t>,
  caf::replies_to<atom::tasks>::with<std::vector<task_info>>,
  // Answers once the job is final and nothing runs any more.
  caf::replies_to<atom::wait>::with<job_info>,
  // Subscribes a watcher: it gets the current state at once, then updates
  // (see progress_update) until the final one.
  caf::reacts_to<atom::watch, progress_watcher>,
  // Its own timer: sends watchers what changed since the last update.
  caf::reacts_to<atom::tick>>;

/// What a cluster keeps of a dispatched attempt: whom to tell if its
/// runner is lost before the job heard of it.
struct dispatch_ticket {
  job_actor job;
  uint32_t task = 0;
  uint32_t attempt = 0;
};

/// One attempt to run: job -> cluster -> runner.
struct dispatch_spec {
  job_actor job;
  std::string job_id;
  uint32_t task = 0;
  uint32_t attempt = 0;
  task_identifier identifier;
  std::string input;
  uint64_t seq = 0;  // dispatch id, unique in its cluster, in arrival order

  dispatch_ticket ticket() const {
    return {job, task, attempt};
  }
};

/// One per runner: executes what its cluster sends within its slots.
using runner_actor = caf::typed_actor<
  caf::reacts_to<atom::run, std::vector<dispatch_spec>>,
  // A worker thread finished an attempt of a job.
  caf::reacts_to<atom::done, job_actor, task_result>,
  // Sends the results and credit gathered since the last flush.
  caf::reacts_to<atom::flush>,
  // Its own timer: sends the live indicators of running attempts.
  caf::reacts_to<atom::tick>,
  // Answers true once neither its cluster nor it has work left.
  caf::replies_to<atom::idle>::with<bool>,
  caf::reacts_to<atom::stop>>;

/// One per cluster: the ready queue across jobs and credit-based dispatch.
using cluster_actor = caf::typed_actor<
  // New attempts to queue, and the dispatches (by seq) the sending job has
  // finished processing: their follow-up work is in this same message.
  caf::reacts_to<atom::enqueue, std::vector<dispatch_spec>,
                 std::vector<uint64_t>>,
  caf::reacts_to<atom::withdraw, std::string>,
  caf::replies_to<atom::join, runner_actor, runner_registration>::with<bool>,
  caf::reacts_to<atom::credit, runner_actor, uint32_t>,
  caf::replies_to<atom::idle, runner_actor>::with<bool>,
  // A runner leaves: nothing more is sent to it after the reply.
  caf::replies_to<atom::stop, runner_actor>::with<bool>,
  caf::replies_to<atom::info>::with<cluster_info>>;

/// One per orchestrator: the job index and the front door for clients.
using job_service_actor = caf::typed_actor<
  // Answers with the new job, once it is durable.
  caf::replies_to<atom::submit, submit_request>::with<job_info>,
  caf::replies_to<atom::find, std::string>::with<job_info>,
  caf::replies_to<atom::query, job_query>::with<std::vector<job_info>>,
  caf::replies_to<atom::cancel, std::string>::with<uint64_t>,
  caf::replies_to<atom::retry, std::string>::with<uint64_t>,
  caf::replies_to<atom::tasks, std::string>::with<std::vector<task_info>>,
  caf::replies_to<atom::wait, std::string>::with<job_info>,
  // Subscribes a watcher to a job; answers once it is subscribed.
  caf::replies_to<atom::watch, std::string, progress_watcher>::with<bool>,
  // The cluster a runner joins; unknown names are refused unless the
  // orchestrator creates clusters on first use.
  caf::replies_to<atom::cluster, std::string>::with<cluster_actor>,
  caf::replies_to<atom::create, std::string>::with<cluster_info>,
  caf::replies_to<atom::info, std::string>::with<cluster_info>,
  caf::replies_to<atom::list>::with<std::vector<cluster_info>>,
  // Refused while the cluster has runners or work, and for "default".
  caf::replies_to<atom::remove, std::string>::with<bool>,
  // A client's protocol version; answers with the orchestrator's.
  caf::replies_to<atom::hello, std::string>::with<std::string>,
  // A job actor reports its new state.
  caf::reacts_to<atom::state, std::string, job_state>,
  // Its own timer: journals what the jobs learned.
  caf::reacts_to<atom::tick>>;

} // namespace weft

// Actor handles travel in messages between nodes (a cluster handed to a
// runner, a runner joining its cluster), so they need type IDs too.
CAF_BEGIN_TYPE_ID_BLOCK(weft_actors, caf::id_block::weft::end)

  CAF_ADD_TYPE_ID(weft_actors, (weft::progress_watcher))
  CAF_ADD_TYPE_ID(weft_actors, (weft::job_actor))
  CAF_ADD_TYPE_ID(weft_actors, (weft::runner_actor))
  CAF_ADD_TYPE_ID(weft_actors, (weft::cluster_actor))
  CAF_ADD_TYPE_ID(weft_actors, (weft::job_service_actor))

CAF_END_TYPE_ID_BLOCK(weft_actors)

namespace weft {

// -- inspection ---------------------------------------------------------------

template <class F>
typename F::result_type inspect(F& f, task_identifier& x) {
  return f(caf::meta::type_name("task_identifier"), x.name, x.version);
}

template <class F>
typename F::result_type inspect(F& f, progress_indicator& x) {
  return f(caf::meta::type_name("progress_indicator"), x.label, x.total,
           x.done);
}

template <class F>
typename F::result_type inspect(F& f, execution_stats& x) {
  return f(caf::meta::type_name("execution_stats"), x.first_started,
           x.last_stopped, x.compute_ns, x.elapsed_ns, x.parallelism,
           x.total_tasks, x.tasks_by_state);
}

template <class F>
typename F::result_type inspect(F& f, job_info& x) {
  return f(caf::meta::type_name("job_info"), x.id, x.name, x.cluster, x.state,
           x.submitted_at, x.running, x.progress, x.stats);
}

template <class F>
typename F::result_type inspect(F& f, job_query& x) {
  return f(caf::meta::type_name("job_query"), x.from.ns, x.to.ns, x.id_from,
           x.id_to, x.states, x.name, x.cluster);
}

template <class F>
typename F::result_type inspect(F& f, log_record& x) {
  return f(caf::meta::type_name("log_record"), x.time, x.level, x.message,
           x.fields);
}

template <class F>
typename F::result_type inspect(F& f, span_record& x) {
  return f(caf::meta::type_name("span_record"), x.name, x.start, x.end,
           x.attributes);
}

template <class F>
typename F::result_type inspect(F& f, attempt_record& x) {
  return f(caf::meta::type_name("attempt_record"), x.attempt, x.runner,
           x.started, x.stopped, x.succeeded, x.error, x.logs, x.spans);
}

template <class F>
typename F::result_type inspect(F& f, task_info& x) {
  return f(caf::meta::type_name("task_info"), x.index, x.parent, x.identifier,
           x.display, x.state, x.cluster, x.input, x.optional, x.attempts,
           x.retries_used, x.runner_losses, x.depends_on, x.subtasks,
           x.progress, x.started, x.stopped, x.history);
}

namespace core {

template <class F>
typename F::result_type inspect(F& f, task_submission& x) {
  return f(caf::meta::type_name("task_submission"), x.identifier, x.input,
           x.cluster, x.depends_on, x.max_retries, x.optional);
}

template <class F>
typename F::result_type inspect(F& f, attempt_outcome& x) {
  return f(caf::meta::type_name("attempt_outcome"), x.succeeded, x.error,
           x.subtasks, x.progress, x.display, x.logs, x.spans, x.started,
           x.stopped, x.runner);
}

} // namespace core

template <class F>
typename F::result_type inspect(F& f, submit_request& x) {
  return f(caf::meta::type_name("submit_request"), x.name, x.cluster,
           x.max_retries, x.roots);
}

template <class F>
typename F::result_type inspect(F& f, attempt_id& x) {
  return f(caf::meta::type_name("attempt_id"), x.task, x.attempt, x.seq);
}

template <class F>
typename F::result_type inspect(F& f, task_result& x) {
  return f(caf::meta::type_name("task_result"), x.task, x.attempt, x.outcome);
}

template <class F>
typename F::result_type inspect(F& f, attempt_progress& x) {
  return f(caf::meta::type_name("attempt_progress"), x.task, x.attempt,
           x.progress);
}

template <class F>
typename F::result_type inspect(F& f, runner_info& x) {
  return f(caf::meta::type_name("runner_info"), x.name, x.slots,
           x.identifiers);
}

template <class F>
typename F::result_type inspect(F& f, journal_record& x) {
  return f(caf::meta::type_name("journal_record"), x.job_id, x.bytes,
           x.replaces_job, x.kind, x.sync);
}

template <class F>
typename F::result_type inspect(F& f, item_progress& x) {
  return f(caf::meta::type_name("item_progress"), x.task, x.label, x.state,
           x.percent);
}

template <class F>
typename F::result_type inspect(F& f, progress_update& x) {
  return f(caf::meta::type_name("progress_update"), x.job_id, x.name,
           x.state, x.progress, x.stats, x.percent, x.items, x.eta_ns, x.at,
           x.final, x.learned);
}

template <class F>
typename F::result_type inspect(F& f, cluster_info& x) {
  return f(caf::meta::type_name("cluster_info"), x.name, x.runners, x.queued,
           x.dispatched, x.unserved);
}

template <class F>
typename F::result_type inspect(F& f, dispatch_spec& x) {
  return f(caf::meta::type_name("dispatch_spec"), x.job, x.job_id, x.task,
           x.attempt, x.identifier, x.input, x.seq);
}

/// Registers weft's message types and error category with a configuration;
/// call it on any `caf::actor_system_config` that will host weft actors.
void add_weft_types(caf::actor_system_config& cfg);

/// A `caf::error` of weft's category with a readable message.
caf::error make_weft_error(errc code, std::string message);

/// The protocol weft nodes speak; nodes with another one refuse each other
/// (it is also the middleman's app identifier).
inline constexpr const char* protocol_version = "weft-protocol-3";

/// Turns an error that came back from an actor into a `weft::error`.
weft::error to_weft_error(const caf::error& err);

} // namespace weft
