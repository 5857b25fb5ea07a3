#include "weft/core/journal_event.hpp"

#include "weft/error.hpp"
#include "weft/time.hpp"

#include "weft/schemas/journal.capnp.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <optional>

namespace weft::core {

namespace {

using schemas::Event;

// The schema's enums number states as the C++ enums do (both are append
// only, see runtime/include/weft/job.hpp): encoding is a cast, decoding a
// switch that refuses numbers this build does not know.
static_assert(static_cast<uint16_t>(schemas::JobState::SUBMITTED)
              == static_cast<uint8_t>(job_state::submitted));
static_assert(static_cast<uint16_t>(schemas::JobState::RUNNING)
              == static_cast<uint8_t>(job_state::running));
static_assert(static_cast<uint16_t>(schemas::JobState::STARTED)
              == static_cast<uint8_t>(job_state::started));
static_assert(static_cast<uint16_t>(schemas::JobState::COMPLETED)
              == static_cast<uint8_t>(job_state::completed));
static_assert(static_cast<uint16_t>(schemas::JobState::FAILED)
              == static_cast<uint8_t>(job_state::failed));
static_assert(static_cast<uint16_t>(schemas::JobState::CANCELED)
              == static_cast<uint8_t>(job_state::canceled));
static_assert(job_state_count == 6, "add the new job_state above and below");

// Position i of a summary's tasksByState counts TaskState i.
static_assert(static_cast<uint16_t>(schemas::TaskState::QUEUED)
              == static_cast<uint8_t>(task_state::queued));
static_assert(static_cast<uint16_t>(schemas::TaskState::RUNNING)
              == static_cast<uint8_t>(task_state::running));
static_assert(static_cast<uint16_t>(schemas::TaskState::COMPUTED)
              == static_cast<uint8_t>(task_state::computed));
static_assert(static_cast<uint16_t>(schemas::TaskState::FAILED)
              == static_cast<uint8_t>(task_state::failed));
static_assert(static_cast<uint16_t>(schemas::TaskState::CANCELED)
              == static_cast<uint8_t>(task_state::canceled));
static_assert(static_cast<uint16_t>(schemas::TaskState::FAILED_OPTIONAL)
              == static_cast<uint8_t>(task_state::failed_optional));
static_assert(static_cast<uint16_t>(schemas::TaskState::SKIPPED)
              == static_cast<uint8_t>(task_state::skipped));
static_assert(task_state_count == 7, "add the new task_state above");

schemas::JobState schema_state(job_state s) noexcept {
  return static_cast<schemas::JobState>(static_cast<uint8_t>(s));
}

/// The C++ state of a schema state; none for a number this build does not
/// know (no default: the compiler names an enumerant left out).
std::optional<job_state> state_of(schemas::JobState s) noexcept {
  switch (s) {
    case schemas::JobState::SUBMITTED: return job_state::submitted;
    case schemas::JobState::RUNNING: return job_state::running;
    case schemas::JobState::STARTED: return job_state::started;
    case schemas::JobState::COMPLETED: return job_state::completed;
    case schemas::JobState::FAILED: return job_state::failed;
    case schemas::JobState::CANCELED: return job_state::canceled;
  }
  return std::nullopt;
}

/// What a TaskFailed record is; none for a cause this build does not know.
std::optional<event_kind> failure_kind(schemas::FailureCause c) noexcept {
  switch (c) {
    case schemas::FailureCause::TASK: return event_kind::task_failed;
    case schemas::FailureCause::RUNNER_LOSS: return event_kind::task_lost;
  }
  return std::nullopt;
}

/// A value this build does not know in a record: refused, naming it.
[[noreturn]] void unknown_value(const char* record, const std::string& job_id,
                                const char* what, unsigned value) {
  throw error(errc::bad_data,
              std::string{record} + " of job " + job_id + " has an unknown "
                + what + " (" + std::to_string(value)
                + "): written by a newer weft? run a newer weft on this data "
                  "directory");
}

/// A summary's state: `jobState`, or for a record written before it
/// existed (where it reads as its default) the legacy UInt8 `state`.
job_state summary_state(schemas::Event::JobSummary::Reader r,
                        const std::string& job_id) {
  auto s = r.getJobState();
  if (s == schemas::JobState::SUBMITTED)
    s = static_cast<schemas::JobState>(r.getState());
  if (auto state = state_of(s))
    return *state;
  unknown_value("job summary", job_id, "job state", static_cast<uint16_t>(s));
}

/// The record's bytes in aligned words: the store's buffers carry no
/// alignment promise.
kj::Array<capnp::word> aligned_words(std::string_view bytes) {
  if (bytes.size() % sizeof(capnp::word) != 0 || bytes.empty())
    throw error(errc::bad_data, "journal record of "
                                  + std::to_string(bytes.size())
                                  + " bytes is not a Cap'n Proto message");
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  return words;
}

void check_schema_version(uint16_t version) {
  // Every weft writes its version (the schema's first rule): a record
  // without one was not written by weft.
  if (version == 0)
    throw error(errc::bad_data,
                "journal record carries no schema version: not a record weft "
                "wrote");
  if (version > schemas::CURRENT_SCHEMA_VERSION)
    throw error(errc::bad_data,
                "journal record written with schema version "
                  + std::to_string(version) + ", newer than this weft's "
                  + std::to_string(schemas::CURRENT_SCHEMA_VERSION)
                  + ": run a newer weft on this data directory");
}

/// A record of `kind` whose own struct is absent: every weft writes it, so
/// the record is not one weft wrote (defaults would pass for task 0).
void check_present(bool present, event_kind kind) {
  if (!present)
    throw error(errc::bad_data, std::string{"journal record is a "}
                                  + to_string(kind)
                                  + " without its fields: not a record weft "
                                    "wrote");
}

std::string flat_bytes(capnp::MallocMessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string{reinterpret_cast<const char*>(bytes.begin()),
                     bytes.size()};
}

void put_identifier(schemas::TaskIdentifier::Builder b,
                    const task_identifier& id) {
  b.setName(id.name);
  b.setVersion(id.version);
}

void put_specs(capnp::List<schemas::TaskSpec>::Builder list,
               const std::vector<task_submission>& subs) {
  for (unsigned i = 0; i < subs.size(); ++i) {
    auto b = list[i];
    const auto& s = subs[i];
    put_identifier(b.initIdentifier(), s.identifier);
    b.setInput(s.input);
    b.setCluster(s.cluster);
    auto deps = b.initDependsOn(static_cast<unsigned>(s.depends_on.size()));
    for (unsigned d = 0; d < s.depends_on.size(); ++d)
      deps.set(d, s.depends_on[d]);
    b.setMaxRetries(s.max_retries);
    b.setOptional(s.optional);
  }
}

template <class Builder>
void put_progress(Builder b, const std::vector<progress_indicator>& ps) {
  auto list = b.initProgress(static_cast<unsigned>(ps.size()));
  for (unsigned i = 0; i < ps.size(); ++i) {
    list[i].setLabel(ps[i].label);
    list[i].setTotal(ps[i].total);
    list[i].setDone(ps[i].done);
  }
}

template <class Builder>
void put_records(Builder b, const attempt_outcome& out) {
  auto logs = b.initLogs(static_cast<unsigned>(out.logs.size()));
  for (unsigned i = 0; i < out.logs.size(); ++i) {
    logs[i].setTime(out.logs[i].time);
    logs[i].setLevel(out.logs[i].level);
    logs[i].setMessage(out.logs[i].message);
    logs[i].setFields(out.logs[i].fields);
  }
  auto spans = b.initSpans(static_cast<unsigned>(out.spans.size()));
  for (unsigned i = 0; i < out.spans.size(); ++i) {
    spans[i].setName(out.spans[i].name);
    spans[i].setStart(out.spans[i].start);
    spans[i].setEnd(out.spans[i].end);
    spans[i].setAttributes(out.spans[i].attributes);
  }
}

std::string text(capnp::Text::Reader t) {
  return std::string{t.cStr(), t.size()};
}

std::vector<task_submission> get_specs(
  capnp::List<schemas::TaskSpec>::Reader list) {
  std::vector<task_submission> result;
  result.reserve(list.size());
  for (auto s : list) {
    task_submission sub;
    sub.identifier = {text(s.getIdentifier().getName()),
                      text(s.getIdentifier().getVersion())};
    sub.input = text(s.getInput());
    sub.cluster = text(s.getCluster());
    for (auto d : s.getDependsOn())
      sub.depends_on.push_back(d);
    sub.max_retries = s.getMaxRetries();
    sub.optional = s.getOptional();
    result.push_back(std::move(sub));
  }
  return result;
}

template <class Reader>
void get_common(Reader r, attempt_outcome& out) {
  for (auto p : r.getProgress())
    out.progress.push_back({text(p.getLabel()), p.getTotal(), p.getDone()});
  for (auto l : r.getLogs())
    out.logs.push_back({l.getTime(), text(l.getLevel()), text(l.getMessage()),
                        text(l.getFields())});
  for (auto s : r.getSpans())
    out.spans.push_back(
      {text(s.getName()), s.getStart(), s.getEnd(), text(s.getAttributes())});
  out.display = text(r.getDisplay());
  out.started = r.getStarted();
  out.stopped = r.getStopped();
  out.runner = text(r.getRunner());
}

using SummaryBuilder = schemas::Event::JobSummary::Builder;
using SummaryReader = schemas::Event::JobSummary::Reader;

void put_summary(SummaryBuilder b, const job_info& j) {
  b.setName(j.name);
  b.setCluster(j.cluster);
  b.setJobState(schema_state(j.state));
  b.setState(static_cast<uint8_t>(j.state)); // for readers before @12
  b.setSubmittedAt(j.submitted_at);
  put_progress(b, j.progress);
  b.setFirstStarted(j.stats.first_started);
  b.setLastStopped(j.stats.last_stopped);
  b.setComputeNs(j.stats.compute_ns);
  b.setElapsedNs(j.stats.elapsed_ns);
  b.setParallelism(j.stats.parallelism);
  b.setTotalTasks(j.stats.total_tasks);
  auto counts = b.initTasksByState(task_state_count);
  for (unsigned i = 0; i < task_state_count; ++i)
    counts.set(i, j.stats.tasks_by_state[i]);
}

job_info get_summary(SummaryReader r, const std::string& job_id) {
  job_info j;
  j.id = job_id;
  j.name = text(r.getName());
  j.cluster = text(r.getCluster());
  j.state = summary_state(r, job_id);
  j.submitted_at = r.getSubmittedAt();
  for (auto p : r.getProgress())
    j.progress.push_back({text(p.getLabel()), p.getTotal(), p.getDone()});
  j.stats.first_started = r.getFirstStarted();
  j.stats.last_stopped = r.getLastStopped();
  j.stats.compute_ns = r.getComputeNs();
  j.stats.elapsed_ns = r.getElapsedNs();
  j.stats.parallelism = r.getParallelism();
  j.stats.total_tasks = r.getTotalTasks();
  auto counts = r.getTasksByState();
  for (unsigned i = 0; i < counts.size(); ++i) {
    if (i < task_state_count)
      j.stats.tasks_by_state[i] = counts[i];
    else if (counts[i] != 0) // tasks in a state this build lacks
      unknown_value("job summary", job_id, "task state", i);
  }
  return j;
}

} // namespace

const char* to_string(event_kind kind) noexcept {
  switch (kind) {
    case event_kind::job_submitted: return "job_submitted";
    case event_kind::task_started: return "task_started";
    case event_kind::task_computed: return "task_computed";
    case event_kind::task_failed: return "task_failed";
    case event_kind::task_lost: return "task_lost";
    case event_kind::job_canceled: return "job_canceled";
    case event_kind::job_retried: return "job_retried";
    case event_kind::job_summary: return "job_summary";
    case event_kind::job_snapshot: return "job_snapshot";
  }
  return "unknown";
}

uint16_t journal_schema_version() noexcept {
  return schemas::CURRENT_SCHEMA_VERSION;
}

std::string encode_event(const journal_event& e) {
  capnp::MallocMessageBuilder message;
  auto ev = message.initRoot<Event>();
  ev.setSchemaVersion(schemas::CURRENT_SCHEMA_VERSION);
  ev.setJobId(e.job_id);
  ev.setTime(e.time);
  switch (e.kind) {
    case event_kind::job_submitted: {
      auto b = ev.initJobSubmitted();
      b.setName(e.name);
      b.setCluster(e.cluster);
      b.setMaxRetries(e.max_retries);
      put_specs(b.initRoots(static_cast<unsigned>(e.roots.size())), e.roots);
      break;
    }
    case event_kind::task_started: {
      auto b = ev.initTaskStarted();
      b.setTask(e.task);
      b.setAttempt(e.attempt);
      b.setRunner(e.runner);
      break;
    }
    case event_kind::task_computed: {
      auto b = ev.initTaskComputed();
      b.setTask(e.task);
      b.setAttempt(e.attempt);
      put_specs(b.initSubtasks(
                  static_cast<unsigned>(e.outcome.subtasks.size())),
                e.outcome.subtasks);
      put_progress(b, e.outcome.progress);
      b.setDisplay(e.outcome.display);
      b.setStarted(e.outcome.started);
      b.setStopped(e.outcome.stopped);
      b.setRunner(e.outcome.runner);
      put_records(b, e.outcome);
      break;
    }
    case event_kind::task_failed:
    case event_kind::task_lost: {
      auto b = ev.initTaskFailed();
      b.setTask(e.task);
      b.setAttempt(e.attempt);
      bool lost = e.kind == event_kind::task_lost;
      b.setError(lost ? e.reason : e.outcome.error);
      b.setCause(lost ? schemas::FailureCause::RUNNER_LOSS
                      : schemas::FailureCause::TASK);
      put_progress(b, e.outcome.progress);
      b.setStarted(e.outcome.started);
      b.setStopped(e.outcome.stopped);
      b.setRunner(e.outcome.runner);
      b.setDisplay(e.outcome.display);
      put_records(b, e.outcome);
      break;
    }
    case event_kind::job_canceled: ev.setJobCanceled(); break;
    case event_kind::job_retried: ev.setJobRetried(); break;
    case event_kind::job_summary:
      put_summary(ev.initJobSummary(), e.summary);
      break;
    case event_kind::job_snapshot: {
      auto b = ev.initJobSnapshot();
      put_summary(b.initSummary(), e.summary);
      auto events = b.initEvents(static_cast<unsigned>(e.history.size()));
      for (unsigned i = 0; i < e.history.size(); ++i)
        events.set(i, capnp::Data::Reader{reinterpret_cast<const kj::byte*>(
                                            e.history[i].data()),
                                          e.history[i].size()});
      break;
    }
  }
  return flat_bytes(message);
}

journal_event decode_event(std::string_view bytes) {
  auto words = aligned_words(bytes);
  journal_event e;
  try {
    capnp::FlatArrayMessageReader message{words};
    auto ev = message.getRoot<Event>();
    check_schema_version(ev.getSchemaVersion());
    e.job_id = text(ev.getJobId());
    e.time = ev.getTime();
    switch (ev.which()) {
      case Event::JOB_SUBMITTED: {
        e.kind = event_kind::job_submitted;
        check_present(ev.hasJobSubmitted(), e.kind);
        auto r = ev.getJobSubmitted();
        e.name = text(r.getName());
        e.cluster = text(r.getCluster());
        e.max_retries = r.getMaxRetries();
        e.roots = get_specs(r.getRoots());
        break;
      }
      case Event::TASK_STARTED: {
        e.kind = event_kind::task_started;
        check_present(ev.hasTaskStarted(), e.kind);
        auto r = ev.getTaskStarted();
        e.task = r.getTask();
        e.attempt = r.getAttempt();
        e.runner = text(r.getRunner());
        break;
      }
      case Event::TASK_COMPUTED: {
        e.kind = event_kind::task_computed;
        check_present(ev.hasTaskComputed(), e.kind);
        auto r = ev.getTaskComputed();
        e.task = r.getTask();
        e.attempt = r.getAttempt();
        e.outcome.succeeded = true;
        e.outcome.subtasks = get_specs(r.getSubtasks());
        get_common(r, e.outcome);
        break;
      }
      case Event::TASK_FAILED: {
        check_present(ev.hasTaskFailed(), event_kind::task_failed);
        auto r = ev.getTaskFailed();
        e.task = r.getTask();
        e.attempt = r.getAttempt();
        auto kind = failure_kind(r.getCause());
        if (!kind)
          unknown_value("task failure", e.job_id, "cause",
                        static_cast<uint16_t>(r.getCause()));
        e.kind = *kind;
        if (e.kind == event_kind::task_lost)
          e.reason = text(r.getError());
        else
          e.outcome.error = text(r.getError());
        get_common(r, e.outcome);
        break;
      }
      case Event::JOB_CANCELED: e.kind = event_kind::job_canceled; break;
      case Event::JOB_RETRIED: e.kind = event_kind::job_retried; break;
      case Event::JOB_SUMMARY:
        e.kind = event_kind::job_summary;
        check_present(ev.hasJobSummary(), e.kind);
        e.summary = get_summary(ev.getJobSummary(), e.job_id);
        break;
      case Event::JOB_SNAPSHOT: {
        auto r = ev.getJobSnapshot();
        e.kind = event_kind::job_snapshot;
        check_present(ev.hasJobSnapshot(), e.kind);
        e.summary = get_summary(r.getSummary(), e.job_id);
        for (auto d : r.getEvents())
          e.history.emplace_back(reinterpret_cast<const char*>(d.begin()),
                                 d.size());
        break;
      }
      default:
        throw error(errc::bad_data,
                    "journal record of an unknown kind: written by a newer "
                    "weft? run a newer weft on this data directory");
    }
  } catch (const kj::Exception& ex) {
    throw error(errc::bad_data, std::string{"journal record is corrupt: "}
                                  + ex.getDescription().cStr());
  }
  return e;
}

std::unique_ptr<task_graph> graph_of(const journal_event& submitted) {
  auto roots = submitted.roots;
  for (auto& r : roots)
    r.max_retries = submitted.max_retries;
  return std::make_unique<task_graph>(std::move(roots), submitted.cluster);
}

std::string encode_summary(const job_info& info) {
  journal_event e;
  e.kind = event_kind::job_summary;
  e.job_id = info.id;
  e.time = now();
  e.summary = info;
  return encode_event(e);
}

journal_event make_snapshot(const job_info& summary,
                            std::vector<std::string> history) {
  journal_event snap;
  snap.kind = event_kind::job_snapshot;
  snap.job_id = summary.id;
  snap.time = now();
  snap.summary = summary;
  snap.history = std::move(history);
  return snap;
}

std::vector<std::string> flatten_history(std::vector<std::string> events) {
  std::vector<std::string> history;
  history.reserve(events.size());
  for (auto& bytes : events) {
    auto e = decode_event(bytes);
    if (e.kind == event_kind::job_snapshot)
      history.insert(history.end(), std::make_move_iterator(e.history.begin()),
                     std::make_move_iterator(e.history.end()));
    else if (e.kind != event_kind::job_summary)
      history.push_back(std::move(bytes));
  }
  return history;
}

} // namespace weft::core

namespace weft::core {

namespace {

void put_key(schemas::TaskProfile::StatKey::Builder b, const stat_key& key) {
  b.setName(key.name);
  b.setMajor(key.major);
  b.setDepth(key.depth);
  b.setParent(key.parent);
}

stat_key get_key(schemas::TaskProfile::StatKey::Reader r) {
  return stat_key{text(r.getName()), r.getMajor(), r.getDepth(),
                  text(r.getParent())};
}

} // namespace

std::string encode_profile(const stat_key& key, const task_profile& profile) {
  capnp::MallocMessageBuilder message;
  auto b = message.initRoot<schemas::TaskProfile>();
  b.setSchemaVersion(schemas::CURRENT_SCHEMA_VERSION);
  put_key(b.initKey(), key);
  b.setRuns(profile.runs);
  b.setMeanNs(profile.mean_ns);
  auto subs = b.initSubtasks(static_cast<unsigned>(profile.subtasks.size()));
  unsigned i = 0;
  for (const auto& [k, mean] : profile.subtasks) {
    put_key(subs[i].initKey(), k);
    subs[i].setMean(mean);
    ++i;
  }
  return flat_bytes(message);
}

std::pair<stat_key, task_profile> decode_profile(std::string_view bytes) {
  auto words = aligned_words(bytes);
  try {
    capnp::FlatArrayMessageReader message{words};
    auto r = message.getRoot<schemas::TaskProfile>();
    check_schema_version(r.getSchemaVersion());
    std::pair<stat_key, task_profile> result;
    result.first = get_key(r.getKey());
    result.second.runs = r.getRuns();
    result.second.mean_ns = r.getMeanNs();
    for (auto s : r.getSubtasks())
      result.second.subtasks.emplace(get_key(s.getKey()), s.getMean());
    if (result.first.name.empty() || !(result.second.mean_ns >= 0))
      throw error(errc::bad_data,
                  "a task statistics record has no name or a negative "
                  "duration: restore the directory from a backup or move it "
                  "away");
    return result;
  } catch (const kj::Exception& ex) {
    throw error(errc::bad_data,
                std::string{"a task statistics record is corrupt ("}
                  + ex.getDescription().cStr()
                  + "): restore the directory from a backup or move it away");
  }
}

} // namespace weft::core
