#pragma once

// The messages weft's actors exchange, with their inspect overloads
// (`submit_request` is public: weft/workflow_actor.hpp).

#include "weft/actors/inspect.hpp"
#include "weft/actors/interfaces.hpp"
#include "weft/core/attempt.hpp"

#include <caf/actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace weft {

/// What a runner reports when an attempt finished. `lease` is the one the
/// attempt ran under (see dispatch_spec): a result under a lease that is
/// no longer the task's is rejected.
struct task_result {
  uint32_t task = 0;
  uint32_t attempt = 0;
  uint64_t lease = 0;
  core::attempt_outcome outcome;
};

/// The indicators of an attempt that is still running, as its runner
/// samples them.
struct attempt_progress {
  uint32_t task = 0;
  uint32_t attempt = 0;
  uint64_t lease = 0;
  std::vector<progress_indicator> progress;
};

/// A leased attempt, as a runner reports it started, or as it comes back
/// unstarted.
struct attempt_id {
  uint32_t task = 0;
  uint32_t attempt = 0;
  uint64_t seq = 0;   // the cluster's dispatch id
  uint64_t lease = 0; // the job's (see dispatch_spec)
};

/// A leased attempt its runner started as a task actor (an actor task),
/// with that actor: its job monitors it and tells it of a cancel.
struct actor_attempt {
  attempt_id id;
  caf::actor actor;
};

/// One encoded journal event of a job (see core::encode_event), or another
/// kind of record (below). The cluster kinds record a cluster created or
/// deleted; `job_id` then holds the cluster's name and `bytes` is empty. A
/// `statistics` record is a learned profile (core::encode_profile) that
/// replaces the one under the same key, held in `job_id`. Without `sync`, the
/// record may be acknowledged once the store has it but before it is on disk: a
/// batch of such records alone is written without a sync, and the next synced
/// write takes them along (for facts a crash may lose without changing what a
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
    /// The job (`job_id`) is finished: its events become one snapshot
    /// under its own key, beside its index entry; `bytes` is its summary
    /// (a job_summary event). The job's events must all be written before.
    snapshot = 4,
    /// A finished job runs again (a retry): its snapshot goes back among
    /// the events, as the first event of the job.
    reopen = 5,
    /// The job's index entry (`bytes`: a job_summary event), written with
    /// its submission.
    index = 6,
    /// Retention: the job, its snapshot and its index entry are deleted.
    forget = 7,
  };
  std::string job_id;
  std::string bytes;
  uint8_t kind = event;
  bool sync = true;
};

static_assert(journal_record::event == 0);
static_assert(journal_record::cluster_created == 1);
static_assert(journal_record::cluster_deleted == 2);
static_assert(journal_record::statistics == 3);
static_assert(journal_record::snapshot == 4);
static_assert(journal_record::reopen == 5);
static_assert(journal_record::index == 6);
static_assert(journal_record::forget == 7);

/// What a cluster keeps of a dispatched attempt: whom to tell if its
/// runner is lost before the job heard of it.
struct dispatch_ticket {
  job_actor job;
  uint32_t task = 0;
  uint32_t attempt = 0;
  uint64_t lease = 0;
};

/// One attempt to run: job -> cluster -> runner.
struct dispatch_spec {
  job_actor job;
  std::string job_id;
  uint32_t task = 0;
  uint32_t attempt = 0;
  task_identifier identifier;
  std::string input;
  uint64_t seq = 0; // dispatch id, unique in its cluster, in arrival order
  /// The lease: which dispatch of the task this is, chosen by the job,
  /// unique among the job actor's dispatches (and across its restarts). Its
  /// start and result are accepted only while it is the task's lease: once
  /// the job gave the task to another runner, or revoked it, whatever comes
  /// under this one is rejected (fencing).
  uint64_t lease = 0;
  /// When its cluster queued it (steady clock, ns), for the dispatch
  /// latency it reports. The cluster's own note: not inspected, so it
  /// never crosses the wire and the format stays as it is.
  int64_t queued_at = 0;

  dispatch_ticket ticket() const {
    return {job, task, attempt, lease};
  }
};

template <class F>
typename F::result_type inspect(F& f, attempt_id& x) {
  return f(caf::meta::type_name("attempt_id"), x.task, x.attempt, x.seq,
           x.lease);
}

template <class F>
typename F::result_type inspect(F& f, actor_attempt& x) {
  return f(caf::meta::type_name("actor_attempt"), x.id, x.actor);
}

template <class F>
typename F::result_type inspect(F& f, task_result& x) {
  return f(caf::meta::type_name("task_result"), x.task, x.attempt, x.lease,
           x.outcome);
}

template <class F>
typename F::result_type inspect(F& f, attempt_progress& x) {
  return f(caf::meta::type_name("attempt_progress"), x.task, x.attempt, x.lease,
           x.progress);
}

template <class F>
typename F::result_type inspect(F& f, journal_record& x) {
  return f(caf::meta::type_name("journal_record"), x.job_id, x.bytes, x.kind,
           x.sync);
}

template <class F>
typename F::result_type inspect(F& f, dispatch_spec& x) {
  return f(caf::meta::type_name("dispatch_spec"), x.job, x.job_id, x.task,
           x.attempt, x.identifier, x.input, x.seq, x.lease);
}

} // namespace weft
