#pragma once

// Declarations every node shares: the messages' names, the atoms, the
// type-ID block that numbers them (type names on the wire must agree) and
// weft's error category. Definitions are elsewhere: the messages and their
// inspect overloads in messages.hpp, the public types' overloads in
// inspect.hpp, the typed actor interfaces in interfaces.hpp.

#include "weft/error.hpp"
#include "weft/job.hpp"

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/type_id.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace weft {

namespace core {
struct task_submission;
struct attempt_outcome;
} // namespace core

struct submit_request;
struct task_result;
struct attempt_progress;
struct attempt_id;
struct actor_attempt;
struct journal_record;
struct dispatch_spec;

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
CAF_ADD_TYPE_ID(weft, (weft::actor_attempt))
CAF_ADD_TYPE_ID(weft, (std::vector<weft::actor_attempt>))

CAF_END_TYPE_ID_BLOCK(weft)

CAF_ERROR_CODE_ENUM(weft::errc, "weft")

namespace weft {

/// Registers weft's message types and error category with a configuration;
/// call it on any `caf::actor_system_config` that will host weft actors.
void add_weft_types(caf::actor_system_config& cfg);

/// A `caf::error` of weft's category with a readable message.
caf::error make_weft_error(errc code, std::string message);

/// The protocol weft nodes speak; nodes with another one refuse each other
/// (it is also the middleman's app identifier).
inline constexpr const char* protocol_version = "weft-protocol-6";

/// Turns an error that came back from an actor into a `weft::error`.
weft::error to_weft_error(const caf::error& err);

} // namespace weft
