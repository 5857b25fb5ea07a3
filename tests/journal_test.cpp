// The journal: the event codec, recovery after a restart, refusal of
// unusable data directories, and a multi-process crash test.

#include "weft/actors/journal.hpp"
#include "weft/core/journal_event.hpp"
#include "weft/core/uuid.hpp"
#include "weft/weft.hpp"

#include "process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

#include <caf/all.hpp>

#include <catch2/catch.hpp>
#include <rocksdb/db.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <thread>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using weft::test::temp_dir;

/// A journal's RocksDB store opened directly, with every column family it
/// has, to tamper with it.
struct raw_store {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;

  explicit raw_store(const fs::path& dir) {
    std::vector<std::string> names;
    REQUIRE(
      rocksdb::DB::ListColumnFamilies(rocksdb::Options{}, dir.string(), &names)
        .ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (auto& n : names)
      families.emplace_back(n, rocksdb::ColumnFamilyOptions{});
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options{}, dir.string(), families,
                              &handles, &raw)
              .ok());
    db.reset(raw);
  }
  ~raw_store() {
    for (auto* h : handles)
      db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
};

weft::core::task_submission spec(std::string name,
                                 std::vector<uint32_t> deps = {}) {
  weft::core::task_submission s;
  s.identifier = {std::move(name), "v1.2"};
  s.input = R"({"x":1})";
  s.cluster = "gpu";
  s.depends_on = std::move(deps);
  s.max_retries = 3;
  s.optional = true;
  return s;
}

} // namespace

TEST_CASE("journal: every kind of event survives encoding") {
  using weft::core::event_kind;
  weft::core::journal_event e;
  e.job_id = "018dd029-58ca-74e5-8b58-b4f99d610f9a";
  e.time = 123456789;
  e.kind = event_kind::job_submitted;
  e.name = "job";
  e.cluster = "c";
  e.max_retries = 2;
  e.roots = {spec("a"), spec("b", {0})};
  auto back = weft::core::decode_event(weft::core::encode_event(e));
  CHECK(back.kind == event_kind::job_submitted);
  CHECK(back.job_id == e.job_id);
  CHECK(back.time == e.time);
  CHECK(back.name == "job");
  CHECK(back.max_retries == 2);
  REQUIRE(back.roots.size() == 2);
  CHECK(back.roots[1].depends_on == std::vector<uint32_t>{0});
  CHECK(back.roots[1].identifier == weft::task_identifier{"b", "v1.2"});
  CHECK(back.roots[1].optional);

  e = {};
  e.kind = event_kind::task_computed;
  e.task = 7;
  e.attempt = 3;
  e.outcome.subtasks = {spec("c")};
  e.outcome.progress = {{"p", 4, 2}};
  e.outcome.display = "shown\nhere";
  e.outcome.logs = {{5, "info", "hello", R"({"k":1})"}};
  e.outcome.spans = {{"s", 1, 2, "{}"}};
  e.outcome.started = 10;
  e.outcome.stopped = 20;
  e.outcome.runner = "r1";
  back = weft::core::decode_event(weft::core::encode_event(e));
  CHECK(back.kind == event_kind::task_computed);
  CHECK(back.task == 7);
  CHECK(back.outcome.subtasks.size() == 1);
  CHECK(back.outcome.progress
        == std::vector<weft::progress_indicator>{{"p", 4, 2}});
  CHECK(back.outcome.display == "shown\nhere");
  CHECK(back.outcome.logs.at(0).fields == R"({"k":1})");
  CHECK(back.outcome.spans.at(0).name == "s");
  CHECK(back.outcome.runner == "r1");

  e.kind = event_kind::task_failed;
  e.outcome.error = "boom";
  back = weft::core::decode_event(weft::core::encode_event(e));
  CHECK(back.kind == event_kind::task_failed);
  CHECK(back.outcome.error == "boom");

  e.kind = event_kind::task_lost;
  e.reason = "node down";
  back = weft::core::decode_event(weft::core::encode_event(e));
  CHECK(back.kind == event_kind::task_lost);
  CHECK(back.reason == "node down");

  for (auto k : {event_kind::task_started, event_kind::job_canceled,
                 event_kind::job_retried}) {
    e = {};
    e.kind = k;
    e.runner = "r";
    CHECK(weft::core::decode_event(weft::core::encode_event(e)).kind == k);
  }
  CHECK_THROWS_AS(weft::core::decode_event("not an event at all!!"),
                  weft::error);
}

struct j_leaf {
  int i = 0;
  void execute(weft::context& ctx) const {
    ctx.progress("leaves").done(1);
    ctx.set_display("leaf " + std::to_string(i));
    ctx.logger().info("leaf ran", {{"i", i}});
  }
};
BOOST_DESCRIBE_STRUCT(j_leaf, (), (i))

struct j_root {
  int n = 0;
  void execute(weft::context& ctx) const {
    ctx.progress("leaves").add(static_cast<uint64_t>(n));
    for (int i = 0; i < n; ++i)
      ctx.submit_subtask(j_leaf{i}, {.cluster = i % 2 == 0 ? "" : "later"});
  }
};
BOOST_DESCRIBE_STRUCT(j_root, (), (n))

TEST_CASE("journal: jobs survive a restart and unfinished ones resume") {
  temp_dir dir;
  weft::local_cluster_options opts;
  opts.orchestrator.data_dir = dir.path;
  opts.runners[0].slots = 2;
  std::string finished_id;
  std::string waiting_id;
  std::vector<weft::job_info> query_before;
  weft::job_info finished_before;
  {
    weft::local_cluster lc{opts};
    lc.register_tasks<j_root, j_leaf>();
    lc.start();
    finished_id = lc.jobs().submit("finished", j_root{0}).id;
    finished_before = lc.jobs().wait(finished_id, 30s);
    // Half of its leaves go to a cluster nobody serves yet.
    waiting_id = lc.jobs().submit("waiting", j_root{6}).id;
    lc.run_all();
    auto w = lc.jobs().find(waiting_id);
    CHECK(w.state == weft::job_state::started);
    CHECK(w.progress
          == std::vector<weft::progress_indicator>{{"leaves", 6, 3}});
    query_before = lc.jobs().query();
  }
  {
    opts.runners.push_back(weft::runner_options{});
    opts.runners[1].cluster = "later";
    opts.runners[1].slots = 1;
    weft::local_cluster lc{opts};
    lc.register_tasks<j_root, j_leaf>();
    // Finished jobs answer as before.
    auto f = lc.jobs().find(finished_id);
    CHECK(f.state == weft::job_state::completed);
    CHECK(f.stats.total_tasks == finished_before.stats.total_tasks);
    CHECK(f.submitted_at == finished_before.submitted_at);
    auto q = lc.jobs().query();
    REQUIRE(q.size() == query_before.size());
    for (size_t i = 0; i < q.size(); ++i) {
      CHECK(q[i].id == query_before[i].id);
      CHECK(q[i].name == query_before[i].name);
      CHECK(q[i].submitted_at == query_before[i].submitted_at);
    }
    // The unfinished one resumes where it was: only the waiting leaves run.
    lc.start();
    auto w = lc.jobs().wait(waiting_id, 30s);
    CHECK(w.state == weft::job_state::completed);
    CHECK(w.progress
          == std::vector<weft::progress_indicator>{{"leaves", 6, 6}});
    auto tasks = lc.jobs().tasks(waiting_id);
    REQUIRE(tasks.size() == 7);
    for (const auto& t : tasks)
      CHECK(t.attempts == 1);            // nothing ran twice
    CHECK(tasks[1].display == "leaf 0"); // recorded before the restart
    CHECK(tasks[1].history.at(0).logs.at(0).message == "leaf ran");
  }
}

TEST_CASE("journal: canceled and retried jobs replay to the same state") {
  temp_dir dir;
  weft::local_cluster_options opts;
  opts.orchestrator.data_dir = dir.path;
  opts.runners = {};
  std::string id;
  {
    weft::local_cluster lc{opts};
    id = lc.jobs().submit("cancel-me", j_root{2}).id;
    CHECK(lc.jobs().cancel(id) == 1);
    CHECK(lc.jobs().find(id).state == weft::job_state::canceled);
  }
  {
    weft::local_cluster lc{opts};
    CHECK(lc.jobs().find(id).state == weft::job_state::canceled);
    CHECK(lc.jobs().retry(id) == 1);
  }
  {
    opts.runners = {weft::runner_options{}};
    weft::local_cluster lc{opts};
    lc.register_tasks<j_root, j_leaf>();
    CHECK(lc.jobs().find(id).state == weft::job_state::submitted);
    lc.start();
    opts.runners.clear();
    // Its odd leaf waits for "later": the job is STARTED, not CANCELED.
    lc.run_all();
    CHECK(lc.jobs().find(id).state == weft::job_state::started);
  }
}

TEST_CASE("journal: unusable data directories are refused with a reason") {
  temp_dir dir;
  weft::local_cluster_options opts;
  opts.orchestrator.data_dir = dir.path;
  opts.runners = {};
  SECTION("in use by another orchestrator") {
    weft::local_cluster first{opts};
    try {
      weft::local_cluster second{opts};
      FAIL("opened twice");
    } catch (const weft::error& e) {
      CHECK(e.code() == weft::errc::data_in_use);
      CHECK_THAT(e.what(), Catch::Contains("in use by another"));
    }
  }
  SECTION("corrupt") {
    { weft::local_cluster lc{opts}; }
    std::ofstream{dir.path / "CURRENT", std::ios::trunc} << "garbage";
    try {
      weft::local_cluster lc{opts};
      FAIL("opened a corrupt directory");
    } catch (const weft::error& e) {
      CHECK(e.code() == weft::errc::bad_data);
      CHECK_THAT(e.what(),
                 Catch::Contains("corrupt") && Catch::Contains("does not"));
    }
    // Nothing was truncated or rewritten.
    std::ifstream in{dir.path / "CURRENT"};
    std::string content;
    in >> content;
    CHECK(content == "garbage");
  }
  SECTION("not a weft directory") {
    fs::create_directories(dir.path);
    std::ofstream{dir.path / "notes.txt"} << "mine";
    try {
      weft::local_cluster lc{opts};
      FAIL("opened a foreign directory");
    } catch (const weft::error& e) {
      CHECK(e.code() == weft::errc::bad_data);
      CHECK_THAT(e.what(), Catch::Contains("holds no weft journal"));
    }
  }
  SECTION("from a newer weft") {
    { weft::local_cluster lc{opts}; }
    {
      raw_store db{dir.path};
      REQUIRE(
        db.db->Put(rocksdb::WriteOptions{}, "meta/format", "weft-journal 99")
          .ok());
    }
    try {
      weft::local_cluster lc{opts};
      FAIL("opened a newer directory");
    } catch (const weft::error& e) {
      CHECK(e.code() == weft::errc::bad_data);
      CHECK_THAT(e.what(), Catch::Contains("newer weft"));
    }
  }
  SECTION("a record that does not decode") {
    { weft::local_cluster lc{opts}; }
    {
      raw_store db{dir.path};
      std::string key = "e018dd029-58ca-74e5-8b58-b4f99d610f9a";
      key.append(8, '\0');
      REQUIRE(
        db.db->Put(rocksdb::WriteOptions{}, key, "12345678garbage!").ok());
    }
    try {
      weft::local_cluster lc{opts};
      FAIL("opened a journal with a bad record");
    } catch (const weft::error& e) {
      CHECK(e.code() == weft::errc::bad_data);
      CHECK_THAT(e.what(), Catch::Contains("event 0"));
    }
  }
}

namespace {

/// The crash worker: an orchestrator with its journal in `data` and a
/// runner, in one process; the first one submits the job.
std::unique_ptr<weft::test::child_process> start_worker(const fs::path& data,
                                                        const fs::path& id_file,
                                                        bool submit,
                                                        const fs::path& out) {
  std::vector<std::string> args{WEFT_CRASH_WORKER, data.string(),
                                id_file.string()};
  if (submit)
    args.push_back("submit");
  auto worker = std::make_unique<weft::test::child_process>(args, out);
  REQUIRE(worker->started());
  return worker;
}

} // namespace

TEST_CASE("journal: a job survives its orchestrator being killed repeatedly") {
  temp_dir dir;
  fs::create_directories(dir.path);
  auto data = dir.path / "data";
  auto id_file = dir.path / "job-id";
  auto out = dir.path / "out.txt";
  std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int> delay_ms{100, 500};
  int kills = 0;
  bool finished_early = false;
  for (int round = 0; round < 6; ++round) {
    auto worker = start_worker(data, id_file, round == 0, out);
    // The first round must get its submission acknowledged before dying.
    if (round == 0)
      weft::test::wait_until([&] { return fs::exists(id_file); }, 5s);
    std::this_thread::sleep_for(std::chrono::milliseconds{delay_ms(rng)});
    if (!worker->running()) {
      finished_early = true; // it beat the kill: fine, still checked below
      continue;
    }
    worker->kill();
    if (worker->wait(0ms) == 128 + SIGKILL)
      ++kills;
  }
  REQUIRE(fs::exists(id_file));
  std::string id;
  std::ifstream{id_file} >> id;
  REQUIRE(id.size() == 36);
  auto last_run = start_worker(data, id_file, false, out);
  REQUIRE(last_run->wait(120s) == 0);
  std::ifstream in{out};
  std::string line;
  std::getline(in, line);
  INFO(line);
  CHECK_THAT(line, Catch::Contains("job " + id
                                   + " COMPLETED tasks 2047 "
                                     "computed 2047"));
  CHECK(kills >= 5);
  auto last = line.substr(line.rfind(' ') + 1);
  if (last == "compacted") {
    // A run finished the job before its kill; the next restart found it
    // compacted, so per-task attempts are no longer there to count.
    CHECK(finished_early);
    WARN("killed " << kills
                   << " times; the job finished before the last "
                      "kill and was compacted");
  } else {
    auto attempts = std::stoull(last);
    CHECK(attempts >= 2047);
    WARN("killed " << kills << " times; " << (attempts - 2047)
                   << " attempts re-executed after a kill");
  }
}

TEST_CASE("journal: a finished job becomes one snapshot and answers find, "
          "tasks and query as before, after a restart") {
  temp_dir dir;
  weft::local_cluster_options opts;
  opts.orchestrator.data_dir = dir.path;
  opts.runners[0].slots = 2;
  opts.runners.push_back(weft::runner_options{});
  opts.runners[1].cluster = "later";
  opts.runners[1].slots = 1;
  weft::job_info before;
  std::vector<weft::job_info> query_before;
  std::vector<weft::task_info> tasks_before;
  {
    weft::local_cluster lc{opts};
    lc.register_tasks<j_root, j_leaf>();
    lc.start();
    auto id = lc.jobs().submit("compact-me", j_root{8}).id;
    before = lc.jobs().wait(id, 30s);
    REQUIRE(before.state == weft::job_state::completed);
    tasks_before = lc.jobs().tasks(id);
    CHECK(tasks_before.size() == 9);
    query_before = lc.jobs().query({.states = {weft::job_state::completed}});
  }
  // No event is left for the job: its snapshot holds them.
  uint64_t records = 0;
  {
    auto store = weft::journal_store::open({dir.path, false});
    store->for_each(
      [&](uint64_t, std::string_view, std::string_view) { ++records; });
    auto snap = store->snapshot(before.id);
    REQUIRE(snap);
    auto e = weft::core::decode_event(*snap);
    CHECK(e.kind == weft::core::event_kind::job_snapshot);
    CHECK(e.summary.state == weft::job_state::completed);
    CHECK(e.history.size() > 9);
    CHECK(store->indexed(before.id));
  }
  CHECK(records == 0);
  weft::local_cluster lc{opts};
  auto after = lc.jobs().find(before.id);
  CHECK(after.id == before.id);
  CHECK(after.name == before.name);
  CHECK(after.cluster == before.cluster);
  CHECK(after.state == before.state);
  CHECK(after.submitted_at == before.submitted_at);
  CHECK(after.progress == before.progress);
  CHECK(after.stats.first_started == before.stats.first_started);
  CHECK(after.stats.last_stopped == before.stats.last_stopped);
  CHECK(after.stats.compute_ns == before.stats.compute_ns);
  CHECK(after.stats.total_tasks == before.stats.total_tasks);
  CHECK(after.stats.tasks_by_state == before.stats.tasks_by_state);
  auto q = lc.jobs().query({.states = {weft::job_state::completed}});
  REQUIRE(q.size() == query_before.size());
  CHECK(q[0].id == query_before[0].id);
  CHECK(q[0].state == query_before[0].state);
  CHECK(lc.jobs().wait(before.id, 1s).state == weft::job_state::completed);
  CHECK(lc.jobs().retry(before.id) == 0);
  auto tasks_after = lc.jobs().tasks(before.id);
  REQUIRE(tasks_after.size() == tasks_before.size());
  for (size_t i = 0; i < tasks_after.size(); ++i) {
    CHECK(tasks_after[i].identifier == tasks_before[i].identifier);
    CHECK(tasks_after[i].state == tasks_before[i].state);
    CHECK(tasks_after[i].input == tasks_before[i].input);
    CHECK(tasks_after[i].started == tasks_before[i].started);
    CHECK(tasks_after[i].stopped == tasks_before[i].stopped);
    CHECK(tasks_after[i].history.size() == tasks_before[i].history.size());
  }
}

TEST_CASE("journal: records that need no sync are written unsynced until a "
          "synced one takes them along") {
  temp_dir dir;
  auto event = [](std::string job, weft::core::event_kind kind, bool sync) {
    weft::core::journal_event e;
    e.kind = kind;
    e.job_id = job;
    e.task = 0;
    e.attempt = 1;
    weft::journal_record r{job, weft::core::encode_event(e)};
    r.sync = sync;
    return r;
  };
  auto job = weft::core::make_uuid_v7();
  {
    weft::core::journal_event submitted;
    submitted.kind = weft::core::event_kind::job_submitted;
    submitted.job_id = job;
    submitted.name = "lazy";
    submitted.cluster = "default";
    submitted.roots = {spec("a")};
    auto store = weft::journal_store::open({dir.path, true});
    store->append(
      {weft::journal_record{job, weft::core::encode_event(submitted)}});
    CHECK(store->writes() == 1);
    CHECK(store->synced_writes() == 1);
    // A start alone: written, not synced.
    store->append({event(job, weft::core::event_kind::task_started, false)});
    CHECK(store->writes() == 2);
    CHECK(store->synced_writes() == 1);
    // A batch with one record that needs it is synced as a whole.
    store->append({event(job, weft::core::event_kind::task_started, false),
                   event(job, weft::core::event_kind::job_canceled, true)});
    CHECK(store->writes() == 3);
    CHECK(store->synced_writes() == 2);
  }
  {
    // Without fsync configured nothing is synced, whatever records ask.
    auto store = weft::journal_store::open({dir.path, false});
    store->append({event(job, weft::core::event_kind::job_retried, true)});
    CHECK(store->synced_writes() == 0);
  }
  // All of them are in the journal, in order.
  auto store = weft::journal_store::open({dir.path, true});
  std::vector<weft::core::event_kind> kinds;
  store->for_each([&](uint64_t, std::string_view, std::string_view bytes) {
    kinds.push_back(weft::core::decode_event(bytes).kind);
  });
  CHECK(kinds
        == std::vector<weft::core::event_kind>{
          weft::core::event_kind::job_submitted,
          weft::core::event_kind::task_started,
          weft::core::event_kind::task_started,
          weft::core::event_kind::job_canceled,
          weft::core::event_kind::job_retried});
}

TEST_CASE("journal: snapshots and index entries of a store written before "
          "their column families are moved there at open") {
  temp_dir dir;
  weft::local_cluster_options opts;
  opts.orchestrator.data_dir = dir.path;
  std::vector<std::string> ids;
  std::vector<weft::job_info> before;
  {
    weft::local_cluster lc{opts};
    lc.register_tasks<j_root, j_leaf>();
    lc.start();
    for (int i = 0; i < 3; ++i) {
      ids.push_back(lc.jobs().submit("old", j_root{0}).id);
      before.push_back(lc.jobs().wait(ids.back(), 30s));
    }
  }
  {
    auto store = weft::journal_store::open({dir.path, false});
    for (const auto& id : ids)
      REQUIRE(store->snapshot(id));
  }
  // Back to the layout of an older weft: everything in the default family.
  size_t moved = 0;
  {
    raw_store db{dir.path};
    REQUIRE(db.handles.size() == 3);
    for (size_t f = 1; f < db.handles.size(); ++f) {
      std::unique_ptr<rocksdb::Iterator> it{
        db.db->NewIterator(rocksdb::ReadOptions{}, db.handles[f])};
      for (it->SeekToFirst(); it->Valid(); it->Next(), ++moved)
        REQUIRE(
          db.db->Put(rocksdb::WriteOptions{}, it->key(), it->value()).ok());
      REQUIRE(db.db->DropColumnFamily(db.handles[f]).ok());
    }
  }
  CHECK(moved >= 6); // a snapshot and an index entry per job
  {
    weft::local_cluster lc{opts};
    auto q = lc.jobs().query();
    REQUIRE(q.size() == 3);
    for (size_t i = 0; i < ids.size(); ++i) {
      CHECK(q[i].id == ids[i]);
      auto f = lc.jobs().find(ids[i]);
      CHECK(f.state == weft::job_state::completed);
      CHECK(f.stats.total_tasks == before[i].stats.total_tasks);
      CHECK(lc.jobs().tasks(ids[i]).size() == 1);
    }
  }
  // Nothing of them is left beside the events.
  raw_store db{dir.path};
  REQUIRE(db.handles.size() == 3);
  std::unique_ptr<rocksdb::Iterator> it{
    db.db->NewIterator(rocksdb::ReadOptions{}, db.handles[0])};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto first = it->key()[0];
    CHECK(first != 'f');
    CHECK(first != 'i');
  }
}
