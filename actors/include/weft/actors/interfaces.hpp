#pragma once

// The typed interfaces of weft's actors, and the type-ID block of their
// handles: handles travel in messages between nodes (a cluster handed to a
// runner, a runner joining its cluster), so they need type IDs too, and
// those can only be given once the interfaces are declared.

#include "weft/actors/fwd.hpp"
#include "weft/workflow_actor.hpp" // progress_watcher, the public subset

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace weft {

/// One per active job: owns the task graph and supervises its attempts.
/// Runners talk to it in batches: one message of the attempts their slots
/// started, one of the results gathered meanwhile.
using job_actor = caf::typed_actor<
  // A runner's slots started these leased attempts (the runner does not
  // wait for an answer): those still under their lease become RUNNING and
  // the job monitors the runner, so that if it goes away, so do they; the
  // others are rejected (canceled or given to another runner meanwhile).
  caf::reacts_to<atom::start, std::vector<attempt_id>, std::string>,
  // Leased attempts of actor tasks that the runner started, each on a task
  // actor: as above, and the job also monitors each task actor (a down
  // message saying its node is unreachable is runner loss) and sends it
  // `cancel` when the job halts (cooperative: it may finish sooner).
  caf::reacts_to<atom::start, std::vector<actor_attempt>, std::string>,
  // Outcomes of attempts, from the runner that started them.
  caf::reacts_to<atom::done, std::vector<task_result>>,
  // Outcomes of attempts that a runner finished after losing the connection
  // it started them on, forwarded by the job service with the runner's
  // name: accepted only if their lease is still the task's running one.
  caf::reacts_to<atom::done, std::vector<task_result>, std::string>,
  // Indicators of attempts still running there, sampled by that runner.
  caf::reacts_to<atom::progress, std::vector<attempt_progress>>,
  // Leased attempts that never started: their runner died before (from
  // the cluster), or left and handed them back. Those still under their
  // lease are dispatched again, without spending a retry.
  caf::reacts_to<atom::lost, std::vector<attempt_id>>,
  // The sending cluster was deleted and refused these attempts (seq 0: never
  // queued): the job looks its cluster's name up again.
  caf::reacts_to<atom::remove, std::vector<attempt_id>>,
  // A cluster of this name was created: the job's tasks that waited for one
  // go to it (from the cluster directory).
  caf::reacts_to<atom::cluster, std::string>,
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
  caf::reacts_to<atom::tick>,
  // Its own: the records gathered since go to the journal; or (its timer)
  // a state change held back to coalesce updates is due.
  caf::reacts_to<atom::flush>,
  // From its job service: the job is finished and at rest; leave memory
  // (after whatever the service sent before).
  caf::reacts_to<atom::stop>>;

/// One per runner: executes what its cluster sends within its slots.
using runner_actor = caf::typed_actor<
  // Leased attempts from its cluster: they wait on the runner, QUEUED at
  // their jobs, until a slot takes one.
  caf::reacts_to<atom::run, std::vector<dispatch_spec>>,
  // Revocation, from its cluster: the job (by id) halted; its leased
  // attempts that no slot took yet are dropped, never executed. Answers
  // with their dispatch seqs.
  caf::replies_to<atom::withdraw, std::string>::with<std::vector<uint64_t>>,
  // A worker thread or a task actor finished an attempt of a job (by handle
  // and id), under the runner actor of connection `epoch`.
  caf::reacts_to<atom::done, job_actor, std::string, uint64_t, task_result>,
  // Task actors ended attempts (runner_shared::actors_ended).
  caf::reacts_to<atom::done>,
  // Sends the starts, results and credit gathered since the last flush.
  caf::reacts_to<atom::flush>,
  // Its own timer: sends the live indicators of running attempts.
  caf::reacts_to<atom::tick>,
  // Answers true once neither its cluster nor it has work left.
  caf::replies_to<atom::idle>::with<bool>, caf::reacts_to<atom::stop>>;

/// One per cluster: the ready queue across jobs and credit-based dispatch.
using cluster_actor = caf::typed_actor<
  // New attempts to queue, and the dispatches (by seq) the sending job has
  // finished processing: their follow-up work is in this same message.
  caf::reacts_to<atom::enqueue, std::vector<dispatch_spec>,
                 std::vector<uint64_t>>,
  // The job (by id) halted: its queued attempts go, and the runners holding
  // leased attempts of it drop those no slot took yet. Answers, with how
  // many were revoked, once every such runner confirmed (or did not answer
  // within a bound): from then on none of them starts.
  caf::replies_to<atom::withdraw, std::string>::with<uint64_t>,
  caf::replies_to<atom::join, runner_actor, runner_registration>::with<bool>,
  // Credit: for this many more plain attempts (threads and their leases)
  // and actor attempts (actor slots and their leases).
  caf::reacts_to<atom::credit, runner_actor, uint32_t, uint32_t>,
  caf::replies_to<atom::idle, runner_actor>::with<bool>,
  // A runner leaves: nothing more is sent to it after the reply.
  caf::replies_to<atom::stop, runner_actor>::with<bool>,
  caf::replies_to<atom::info>::with<cluster_info>,
  // Deletion, decided by the cluster when a local actor (the job service)
  // asks: refused while it has runners or work, else it takes no more work
  // and answers true...
  caf::replies_to<atom::remove>::with<bool>,
  // ...until that actor says whether the deletion was journaled: if so,
  // every enqueue from then on is refused back to its job, else it goes on.
  caf::reacts_to<atom::remove, bool>>;

/// One per orchestrator: the job index and the front door for clients:
/// every message of `workflow_actor` (the public part, so a handle of it
/// converts to one), and those of runners, job actors and its own timer.
using job_service_actor = workflow_actor::extend<
  // The cluster a runner joins; unknown names are refused unless the
  // orchestrator creates clusters on first use.
  caf::replies_to<atom::cluster, std::string>::with<cluster_actor>,
  // A client's protocol version; answers with the orchestrator's.
  caf::replies_to<atom::hello, std::string>::with<std::string>,
  // A job actor reports its new state.
  caf::reacts_to<atom::state, std::string, job_state>,
  // A job actor is finished and its final state durable: it may leave
  // memory.
  caf::reacts_to<atom::done, std::string>,
  // A runner reports results of a job (by id) that it finished after losing
  // the connection it started them on, with its name: forwarded to the
  // job's actor, which accepts only those whose lease still holds.
  caf::reacts_to<atom::done, std::string, std::vector<task_result>,
                 std::string>,
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
