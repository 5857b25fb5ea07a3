#include "weft/core/job_replay.hpp"

#include "weft/error.hpp"
#include "weft/text.hpp"

#include <utility>

namespace weft::core {

namespace {

std::string task_name(task_index i) {
  return "task " + std::to_string(i);
}

std::string tasks(size_t n) {
  return std::to_string(n) + (n == 1 ? " task" : " tasks");
}

} // namespace

job_replay::job_replay(std::string job_id) : job_id_(std::move(job_id)) {
}

void job_replay::apply(std::string_view bytes) {
  journal_event e;
  try {
    e = decode_event(bytes);
  } catch (const error& err) {
    throw error(errc::bad_data,
                text::one_line(record_name() + ": " + err.what()));
  }
  apply(std::move(e));
}

void job_replay::apply(journal_event e) {
  check_job_id(e);
  if (e.kind == event_kind::job_snapshot && next_ == 0) {
    unpack(std::move(e));
    return;
  }
  check_order(e);
  switch (e.kind) {
    case event_kind::job_submitted: submit(std::move(e)); break;
    case event_kind::job_summary: head_ = std::move(e); break;
    case event_kind::task_started: start(e); break;
    case event_kind::task_computed:
    case event_kind::task_failed: finish(std::move(e)); break;
    case event_kind::task_lost: lose(e); break;
    case event_kind::job_canceled: cancel(e); break;
    // Always a transition the graph can make. Its requeued count may differ
    // from the original's: a restart requeues running tasks unrecorded.
    case event_kind::job_retried: graph_->retry(); break;
    case event_kind::job_snapshot:
      refuse(e, "a snapshot holds all of a job's records before it, and "
                "this one follows "
                  + std::to_string(next_) + " of them");
  }
  ++next_;
}

void job_replay::unpack(journal_event snapshot) {
  if (snapshot.history.empty()) { // a summary from an earlier release
    head_ = std::move(snapshot);
    ++next_;
    return;
  }
  for (const auto& bytes : snapshot.history)
    apply(std::string_view{bytes});
}

std::shared_ptr<task_graph> graph_of_snapshot(const journal_event& snapshot) {
  job_replay replay{snapshot.job_id};
  replay.apply(snapshot);
  return replay.graph();
}

// -- checks -------------------------------------------------------------------

std::string job_replay::record_name() const {
  return "job " + job_id_ + ", record " + std::to_string(next_);
}

void job_replay::refuse(const journal_event& e, const std::string& why) const {
  throw error(errc::bad_data,
              text::one_line(record_name() + " (" + to_string(e.kind)
                             + "): " + why));
}

void job_replay::check_job_id(const journal_event& e) const {
  if (job_id_.empty())
    refuse(e, "the record is filed under no job id");
  if (e.job_id != job_id_)
    refuse(e, e.job_id.empty() ? std::string{"the record names no job"}
                               : "the record names job " + text::quote(e.job_id)
                                   + ", not the job it is filed under");
}

void job_replay::check_order(const journal_event& e) const {
  auto first
    = e.kind == event_kind::job_submitted || e.kind == event_kind::job_summary;
  if (next_ == 0) {
    if (!first)
      refuse(e, "the job's first record must be its submission (or its "
                "summary), and this one is not");
    return;
  }
  if (!graph_)
    refuse(e, "a compacted job's summary is its only record, and this one "
              "follows it");
  if (e.kind == event_kind::job_submitted)
    refuse(e, "the job was submitted already, by record 0");
  if (e.kind == event_kind::job_summary)
    refuse(e, "a summary replaces all of a job's records, and this one "
              "follows "
                + std::to_string(next_) + " of them");
}

void job_replay::check_roots(const journal_event& e) const {
  if (e.roots.empty())
    refuse(e, "the submission has no root tasks");
  for (size_t pos = 0; pos < e.roots.size(); ++pos) {
    const auto& root = e.roots[pos];
    if (root.identifier.name.empty())
      refuse(e, "root " + std::to_string(pos) + " has no task name");
    for (auto dep : root.depends_on)
      if (dep >= pos)
        refuse(e, "root " + std::to_string(pos) + " depends on position "
                    + std::to_string(dep) + ", not on an earlier root");
  }
}

void job_replay::check_task(const journal_event& e) const {
  if (e.task >= graph_->size())
    refuse(e, task_name(e.task) + " does not exist: the job has "
                + tasks(graph_->size()) + " at this point");
}

void job_replay::check_startable(const journal_event& e) const {
  const auto& g = *graph_;
  if (g.halted())
    refuse(e, task_name(e.task) + " starts in a " + to_string(g.state())
                + " job, where nothing starts");
  auto s = g.state_of(e.task);
  if (s == task_state::running)
    return; // started again after a restart, see start()
  if (s != task_state::queued)
    refuse(e,
           task_name(e.task) + " is " + to_string(s) + ", so it cannot start");
  // A task gets its first attempt number once its dependencies settle.
  if (g.attempt(e.task) == 0)
    refuse(e, task_name(e.task)
                + " starts before the tasks it depends on are settled");
}

void job_replay::check_running_attempt(const journal_event& e) const {
  auto s = graph_->state_of(e.task);
  auto i = running_.find(e.task);
  if (s != task_state::running || i == running_.end())
    refuse(e, task_name(e.task) + " is " + to_string(s)
                + ", not running: no record started the attempt this one "
                  "ends");
  if (i->second != e.attempt)
    refuse(e, "it ends attempt " + std::to_string(e.attempt) + " of "
                + task_name(e.task) + ", but attempt "
                + std::to_string(i->second) + " is the one running");
}

// -- applying -----------------------------------------------------------------

void job_replay::submit(journal_event e) {
  check_roots(e);
  graph_ = graph_of(e);
  e.roots.clear(); // the graph holds them
  head_ = std::move(e);
}

void job_replay::start(const journal_event& e) {
  check_task(e);
  check_startable(e);
  auto& g = *graph_;
  // Running already: the process that started it stopped, and the next one
  // queued it again (unrecorded, see task_graph::requeue_running) and
  // started it anew. It keeps running here under the new attempt.
  if (g.state_of(e.task) != task_state::running) {
    g.take_ready(); // dispatch decisions are not replayed
    auto at = e.outcome.started != 0 ? e.outcome.started : e.time;
    if (!g.start(e.task, g.attempt(e.task), at))
      refuse(e, "the graph refused to start " + task_name(e.task));
  }
  running_[e.task] = e.attempt;
}

void job_replay::finish(journal_event e) {
  check_task(e);
  check_running_attempt(e);
  // The graph renumbers attempts; the record's number was checked above.
  // A batch of subtasks the graph refuses failed the attempt when it was
  // written, and fails it the same way here.
  e.outcome.succeeded = e.kind == event_kind::task_computed;
  if (!graph_->finish(e.task, graph_->attempt(e.task), std::move(e.outcome)))
    refuse(e, "the graph refused to finish " + task_name(e.task));
  running_.erase(e.task);
}

void job_replay::lose(const journal_event& e) {
  check_task(e);
  check_running_attempt(e);
  if (!graph_->lose(e.task, graph_->attempt(e.task), e.reason, e.time))
    refuse(e, "the graph refused to requeue " + task_name(e.task));
  running_.erase(e.task);
}

void job_replay::cancel(const journal_event& e) {
  // Only a cancel that changed the job's state is recorded, and a
  // completed job's cannot change.
  if (graph_->state() == job_state::completed)
    refuse(e, "the job had completed, so it cannot be canceled");
  graph_->cancel();
}

} // namespace weft::core
