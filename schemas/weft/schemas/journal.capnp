# The durable facts of an orchestrator: every journal record is one Event.
# Rules: the file id never changes; fields are only ever added with the next
# ordinal, never renumbered or reused; every record carries `schemaVersion`.
@0xf1a360b57b1ac426;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("weft::schemas");

const currentSchemaVersion :UInt16 = 1;

struct TaskIdentifier {
  name @0 :Text;
  version @1 :Text;      # "vX.Y"
}

struct TaskSpec {
  identifier @0 :TaskIdentifier;
  input @1 :Text;        # JSON
  cluster @2 :Text;      # empty: inherited from the parent
  dependsOn @3 :List(UInt32);  # positions in the same batch
  maxRetries @4 :UInt32;
  optional @5 :Bool;
}

struct ProgressIndicator {
  label @0 :Text;
  total @1 :UInt64;
  done @2 :UInt64;
}

struct LogRecord {
  time @0 :Int64;
  level @1 :Text;
  message @2 :Text;
  fields @3 :Text;       # JSON object
}

struct SpanRecord {
  name @0 :Text;
  start @1 :Int64;
  end @2 :Int64;
  attributes @3 :Text;   # JSON object
}

# States as weft's C++ enums number them (weft::job_state, weft::task_state
# in runtime/include/weft/job.hpp); runtime/src/journal_event.cpp asserts at
# compile time that every number matches. Like fields, enumerants are only
# ever appended with the next number, never renumbered or reused; a reader
# that meets a number it does not know refuses the record (bad_data).
enum JobState {
  submitted @0;
  running @1;
  started @2;
  completed @3;
  failed @4;
  canceled @5;
}

enum TaskState {
  queued @0;
  running @1;
  computed @2;
  failed @3;
  canceled @4;
  failedOptional @5;
  skipped @6;
}

enum FailureCause {
  task @0;               # the task failed or threw
  runnerLoss @1;         # its runner vanished; no retry spent
}

struct Event {
  schemaVersion @0 :UInt16;
  jobId @1 :Text;
  time @2 :Int64;        # nanoseconds since the Unix epoch
  union {
    jobSubmitted @3 :JobSubmitted;
    taskStarted @4 :TaskStarted;
    taskComputed @5 :TaskComputed;
    taskFailed @6 :TaskFailed;
    jobCanceled @7 :Void;
    jobRetried @8 :Void;
    jobSummary @9 :JobSummary;  # replaces a completed job's events
    # A finished job in one record, under its own key: its summary (what
    # find and query answer) and every event it had, in order, each an
    # encoded Event; replaying them rebuilds the job exactly.
    jobSnapshot @10 :JobSnapshot;
  }

  struct JobSummary {
    name @0 :Text;
    cluster @1 :Text;
    # Legacy: the job's state as a number (a JobState's). A Cap'n Proto
    # enum is a UInt16, so this UInt8 could not become one in place; the
    # state is `jobState` (@12) since then. Still written, with the same
    # value, so that a weft from before @12 reads new summaries; readers
    # take `jobState`, and this field when `jobState` is its default
    # (`submitted`: a record from before @12 has no jobState).
    state @2 :UInt8;
    submittedAt @3 :Int64;
    progress @4 :List(ProgressIndicator);
    firstStarted @5 :Int64;
    lastStopped @6 :Int64;
    computeNs @7 :Int64;
    elapsedNs @8 :Int64;
    parallelism @9 :Float64;
    totalTasks @10 :UInt64;
    tasksByState @11 :List(UInt64);  # position i counts TaskState i
    jobState @12 :JobState;
  }

  struct JobSnapshot {
    summary @0 :JobSummary;
    events @1 :List(Data);
  }

  struct JobSubmitted {
    name @0 :Text;
    cluster @1 :Text;
    maxRetries @2 :UInt32;
    roots @3 :List(TaskSpec);
  }

  struct TaskStarted {
    task @0 :UInt32;
    attempt @1 :UInt32;
    runner @2 :Text;
  }

  struct TaskComputed {
    task @0 :UInt32;
    attempt @1 :UInt32;
    subtasks @2 :List(TaskSpec);
    progress @3 :List(ProgressIndicator);
    display @4 :Text;
    started @5 :Int64;
    stopped @6 :Int64;
    runner @7 :Text;
    logs @8 :List(LogRecord);
    spans @9 :List(SpanRecord);
  }

  struct TaskFailed {
    task @0 :UInt32;
    attempt @1 :UInt32;
    error @2 :Text;
    cause @3 :FailureCause;
    progress @4 :List(ProgressIndicator);
    started @5 :Int64;
    stopped @6 :Int64;
    runner @7 :Text;
    display @8 :Text;
    logs @9 :List(LogRecord);
    spans @10 :List(SpanRecord);
  }
}

# What the orchestrator learned about one task key (name, major version,
# recursion depth, parent's name); one record per key, replaced as it
# learns.
struct TaskProfile {
  schemaVersion @0 :UInt16;
  key @1 :StatKey;
  runs @2 :UInt64;
  meanNs @3 :Float64;
  subtasks @4 :List(SubtaskMean);

  struct StatKey {
    name @0 :Text;
    major @1 :UInt32;
    depth @2 :UInt32;
    parent @3 :Text;  # the submitting task's identifier name; "" for roots
  }

  struct SubtaskMean {
    key @0 :StatKey;
    mean @1 :Float64;  # subtasks of this key per execution
  }
}
