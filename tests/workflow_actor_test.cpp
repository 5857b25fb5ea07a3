// The workflow interface (weft/workflow_actor.hpp) from event-based CAF
// actors that never block: submitting, watching and chaining jobs on a
// local cluster, on an actor system the program owns, and from this
// process against a `weft server` with runner processes; cancel, retry,
// find, query, tasks and clusters; errors coming back as messages; and a
// server going away under a monitor, then reconnect().

#include "count_tasks.hpp"
#include "servers.hpp"
#include "wait.hpp"

#include <weft/weft.hpp>
#include <weft/workflow_actor.hpp>

#include <caf/all.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <set>

using namespace std::chrono_literals;
using weft::test::Count;
using weft::test::Counts;

namespace {

/// What a chain actor saw, written by it alone and read once it is down.
struct chain_log {
  weft::job_info first, second; // as submitted
  weft::job_info second_done;   // the answer to `wait`
  std::vector<weft::progress_update> first_updates, second_updates;
  std::string next_input;         // the second job's root, from the cache
  std::set<std::string> finished; // jobs whose final update came
  std::string error;
};

using next_job = std::function<weft::submit_request(const weft::cache_group&)>;

/// Submits `first` and watches it; once it completed, builds the second job
/// from the first one's cache with `next`, submits it, watches it and waits
/// for it, then quits. Any error ends it with that error.
caf::behavior chain_fn(caf::event_based_actor* self, weft::workflow_endpoint wf,
                       weft::submit_request first, next_job next,
                       std::shared_ptr<chain_log> log) {
  auto fail = [self, log](caf::error& err) {
    log->error = weft::to_weft_error(err).what();
    self->quit(err);
  };
  auto me = caf::actor_cast<weft::progress_watcher>(self);
  auto pending = std::make_shared<int>(2); // the second's final update, wait
  auto step = [self, pending] {
    if (--*pending == 0)
      self->quit();
  };
  self->request(wf.actor(), caf::infinite, weft::atom::submit_v, first)
    .then(
      [self, wf, me, log, fail](weft::job_info& job) {
        log->first = job;
        self
          ->request(wf.actor(), caf::infinite, weft::atom::watch_v, job.id, me)
          .then([](bool) {}, fail);
      },
      fail);
  return {
    [self, wf, me, next, log, fail, step](weft::atom::progress,
                                          weft::progress_update& u) {
      bool of_first = u.job_id == log->first.id;
      auto& seen = of_first ? log->first_updates : log->second_updates;
      seen.push_back(u);
      if (!u.final || !log->finished.insert(u.job_id).second)
        return; // a retried job's next end
      if (u.state != weft::job_state::completed) {
        auto err = weft::make_weft_error(weft::errc::invalid_state,
                                         u.name + " did not complete");
        fail(err);
        return;
      }
      if (!of_first) {
        step();
        return;
      }
      weft::submit_request req;
      try {
        req = next(wf.job_cache(u.job_id));
      } catch (const weft::error& e) {
        auto err = weft::make_weft_error(e.code(), e.what());
        fail(err);
        return;
      }
      log->next_input = req.roots.at(0).input;
      self->request(wf.actor(), caf::infinite, weft::atom::submit_v, req)
        .then(
          [self, wf, me, log, fail, step](weft::job_info& job) {
            log->second = job;
            self
              ->request(wf.actor(), caf::infinite, weft::atom::watch_v, job.id,
                        me)
              .then([](bool) {}, fail);
            self->request(wf.actor(), caf::infinite, weft::atom::wait_v, job.id)
              .then(
                [log, step](weft::job_info& done) {
                  log->second_done = done;
                  step();
                },
                fail);
          },
          fail);
    },
  };
}

/// The first job of the chain: Counts of 2, 3 and 10 (the long one keeps
/// the job running after the short ones reported), then a second job that
/// counts to their sum, read back from the first job's cache.
weft::submit_request first_job(uint32_t step_ms) {
  return weft::make_submit_request("first", Counts{{2, 3, 10}, step_ms});
}

next_job sum_job(uint32_t step_ms) {
  return [step_ms](const weft::cache_group& cache) {
    auto counted = cache.group("counted");
    uint32_t sum = 0;
    for (const auto& key : counted.keys())
      sum += static_cast<uint32_t>(std::stoul(counted.get(key)));
    return weft::make_submit_request("second", Counts{{sum}, step_ms});
  };
}

/// Waits up to `limit` for `actor` to end, killing it if it does not;
/// returns its exit reason, or request_timeout when it was killed.
caf::error await_end(caf::actor_system& sys, const caf::actor& actor,
                     std::chrono::milliseconds limit) {
  caf::scoped_actor waiter{sys};
  waiter->monitor(actor);
  caf::error reason;
  bool ended = false;
  waiter->receive(
    [&](caf::down_msg& down) {
      reason = down.reason;
      ended = true;
    },
    caf::after(limit) >>
      [&] {
        caf::anon_send_exit(actor, caf::exit_reason::kill);
        waiter->receive([](caf::down_msg&) {}, caf::after(10s) >> [] {});
      });
  return ended ? reason : caf::error{caf::sec::request_timeout};
}

/// Checks what a chain saw: progress before the final update, the final
/// update last, and a second job built from the first one's results.
void check_chain(const chain_log& log, weft::job_client jobs) {
  INFO("chain error: " << log.error);
  REQUIRE(log.error.empty());
  REQUIRE(log.first_updates.size() >= 2);
  // The final update comes once, last.
  auto first_final
    = std::find_if(log.first_updates.begin(), log.first_updates.end(),
                   [](const weft::progress_update& u) { return u.final; });
  REQUIRE(first_final != log.first_updates.end());
  REQUIRE(first_final != log.first_updates.begin());
  CHECK(std::next(first_final) == log.first_updates.end());
  const auto& last = *first_final;
  CHECK(last.state == weft::job_state::completed);
  CHECK(last.name == "first");
  // Some update came while the counts were under way.
  bool live = false;
  for (const auto& u : log.first_updates)
    for (const auto& p : u.progress)
      live = live || (!u.final && p.label == "count" && p.total > 0);
  CHECK(live);
  REQUIRE(last.progress.size() == 1);
  CHECK(last.progress[0].done == 15);
  CHECK(last.progress[0].total == 15);

  CHECK(log.next_input.find("\"ns\":[15]") != std::string::npos);
  REQUIRE_FALSE(log.second_updates.empty());
  CHECK(log.second_updates.back().final);
  CHECK(log.second_updates.back().state == weft::job_state::completed);
  CHECK(log.second_done.id == log.second.id);
  CHECK(log.second_done.state == weft::job_state::completed);
  // What the second job left in its cache, seen by the blocking client too.
  CHECK(jobs.cache(log.second.id).group("counted").get("0") == "15");
}

} // namespace

TEST_CASE("workflow actor: an actor submits, watches and chains two jobs on a "
          "local cluster") {
  weft::local_cluster cluster{{.runners = {{.slots = 2}},
                               .scheduler_threads = 2,
                               .orchestrator = {.progress_interval = 50ms}}};
  cluster.register_tasks<Count, Counts>();
  cluster.start();
  auto wf = cluster.workflows();
  REQUIRE(wf.cache() != nullptr); // the cluster's cache store
  auto log = std::make_shared<chain_log>();
  auto chain = wf.system().spawn(chain_fn, wf, first_job(40), sum_job(5), log);
  auto reason = await_end(wf.system(), chain, 60s);
  INFO("exit: " << wf.system().render(reason));
  CHECK_FALSE(reason);
  check_chain(*log, cluster.jobs());
}

TEST_CASE("workflow actor: a local cluster in an actor system the program "
          "owns hands out that system") {
  caf::actor_system_config cfg;
  weft::add_weft_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  {
    weft::local_cluster cluster{sys,
                                {.runners = {{.slots = 2}},
                                 .orchestrator = {.progress_interval = 50ms}}};
    cluster.register_tasks<Count, Counts>();
    cluster.start();
    auto wf = cluster.workflows();
    CHECK(&wf.system() == &sys);
    auto log = std::make_shared<chain_log>();
    auto chain = sys.spawn(chain_fn, wf, first_job(40), sum_job(5), log);
    CHECK_FALSE(await_end(sys, chain, 60s));
    check_chain(*log, cluster.jobs());
  }
}

namespace {

/// Fails its first attempt in a job and succeeds once retried (the job
/// cache outlives the attempt).
struct FailsOnce {
  static weft::task_identifier identifier() {
    return {"FailsOnce", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    auto cache = ctx.job_cache();
    if (!cache.contains("tried")) {
      cache["tried"] = "yes";
      throw std::runtime_error("first attempt fails");
    }
  }
};
BOOST_DESCRIBE_STRUCT(FailsOnce, (), ())

/// What the operations actor saw.
struct ops_log {
  weft::job_info queued, canceled_done, failed, retried_done;
  uint64_t canceled = 0, requeued = 0;
  std::vector<weft::task_info> canceled_tasks, retried_tasks;
  std::vector<weft::job_info> queried;
  std::string error;
};

/// One job canceled while it waits for a runner, one failed and retried, all
/// by messages: each step is a request whose answer makes the next one.
caf::behavior ops_fn(caf::event_based_actor* self, weft::workflow_actor wf,
                     std::shared_ptr<ops_log> log) {
  auto fail = [self, log](caf::error& err) {
    log->error = weft::to_weft_error(err).what();
    self->quit(err);
  };
  auto retry_part = [self, wf, log, fail] {
    self
      ->request(wf, caf::infinite, weft::atom::submit_v,
                weft::make_submit_request("fails once", FailsOnce{}))
      .then(
        [=](weft::job_info& job) {
          self->request(wf, caf::infinite, weft::atom::wait_v, job.id)
            .then(
              [=](weft::job_info& failed) {
                log->failed = failed;
                self->request(wf, caf::infinite, weft::atom::retry_v, job.id)
                  .then(
                    [=](uint64_t n) {
                      log->requeued = n;
                      self
                        ->request(wf, caf::infinite, weft::atom::wait_v, job.id)
                        .then(
                          [=](weft::job_info& done) {
                            log->retried_done = done;
                            self
                              ->request(wf, caf::infinite, weft::atom::tasks_v,
                                        job.id)
                              .then(
                                [=](std::vector<weft::task_info>& ts) {
                                  log->retried_tasks = std::move(ts);
                                  self->quit();
                                },
                                fail);
                          },
                          fail);
                    },
                    fail);
              },
              fail);
        },
        fail);
  };
  // No runner serves "nowhere": the job waits there until canceled.
  weft::submit_options nowhere{.cluster = "nowhere"};
  self
    ->request(wf, caf::infinite, weft::atom::submit_v,
              weft::make_submit_request("to cancel", Count{0, 1, 0}, nowhere))
    .then(
      [=](weft::job_info& job) {
        self->request(wf, caf::infinite, weft::atom::find_v, job.id)
          .then(
            [=](weft::job_info& found) {
              log->queued = found;
              self->request(wf, caf::infinite, weft::atom::cancel_v, job.id)
                .then(
                  [=](uint64_t n) {
                    log->canceled = n;
                    self->request(wf, caf::infinite, weft::atom::wait_v, job.id)
                      .then(
                        [=](weft::job_info& done) {
                          log->canceled_done = done;
                          self
                            ->request(wf, caf::infinite, weft::atom::tasks_v,
                                      job.id)
                            .then(
                              [=](std::vector<weft::task_info>& ts) {
                                log->canceled_tasks = std::move(ts);
                                weft::job_query q;
                                q.name = "to cancel";
                                self
                                  ->request(wf, caf::infinite,
                                            weft::atom::query_v, q)
                                  .then(
                                    [=](std::vector<weft::job_info>& js) {
                                      log->queried = std::move(js);
                                      retry_part();
                                    },
                                    fail);
                              },
                              fail);
                        },
                        fail);
                  },
                  fail);
            },
            fail);
      },
      fail);
  return {};
}

} // namespace

TEST_CASE("workflow actor: cancel, retry, find, query and tasks by "
          "messages") {
  weft::local_cluster cluster{
    {.runners = {{.slots = 1}}, .scheduler_threads = 2}};
  cluster.register_tasks<Count, FailsOnce>();
  cluster.start();
  auto wf = cluster.workflows();
  auto log = std::make_shared<ops_log>();
  auto ops = wf.system().spawn(ops_fn, wf.actor(), log);
  auto reason = await_end(wf.system(), ops, 60s);
  INFO("error: " << log->error);
  REQUIRE_FALSE(reason);

  CHECK(log->queued.state == weft::job_state::submitted);
  CHECK(log->queued.cluster == "nowhere");
  CHECK(log->canceled == 1);
  CHECK(log->canceled_done.state == weft::job_state::canceled);
  REQUIRE(log->canceled_tasks.size() == 1);
  CHECK(log->canceled_tasks[0].state == weft::task_state::canceled);
  CHECK(log->canceled_tasks[0].identifier.name == "Count");
  REQUIRE(log->queried.size() == 1);
  CHECK(log->queried[0].id == log->queued.id);
  CHECK(log->queried[0].state == weft::job_state::canceled);

  CHECK(log->failed.state == weft::job_state::failed);
  CHECK(log->requeued == 1);
  CHECK(log->retried_done.state == weft::job_state::completed);
  REQUIRE(log->retried_tasks.size() == 1);
  CHECK(log->retried_tasks[0].attempts == 2);
  CHECK(log->retried_tasks[0].state == weft::task_state::computed);
}

namespace {

/// The errors that came back, by the request that caused them.
struct error_log {
  std::map<std::string, weft::errc> codes;
  std::map<std::string, std::string> texts;
};

/// Asks about a job that does not exist, in every way, and submits a job
/// that is refused; quits once every error has come back as a message.
caf::behavior unknown_fn(caf::event_based_actor* self, weft::workflow_actor wf,
                         std::shared_ptr<error_log> log) {
  const std::string id = "018f0000-0000-7000-8000-000000000000";
  auto left = std::make_shared<int>(7);
  auto record = [self, log, left](std::string what) {
    return [self, log, left, what](caf::error& err) {
      auto e = weft::to_weft_error(err);
      log->codes[what] = e.code();
      log->texts[what] = e.what();
      if (--*left == 0)
        self->quit();
    };
  };
  auto unexpected = [self] {
    self->quit(weft::make_weft_error(weft::errc::invalid_state,
                                     "an answer where an error was due"));
  };
  auto info = [unexpected](weft::job_info&) { unexpected(); };
  auto count = [unexpected](uint64_t) { unexpected(); };
  auto me = caf::actor_cast<weft::progress_watcher>(self);
  self->request(wf, caf::infinite, weft::atom::find_v, id)
    .then(info, record("find"));
  self->request(wf, caf::infinite, weft::atom::cancel_v, id)
    .then(count, record("cancel"));
  self->request(wf, caf::infinite, weft::atom::retry_v, id)
    .then(count, record("retry"));
  self->request(wf, caf::infinite, weft::atom::tasks_v, id)
    .then([unexpected](std::vector<weft::task_info>&) { unexpected(); },
          record("tasks"));
  self->request(wf, caf::infinite, weft::atom::wait_v, id)
    .then(info, record("wait"));
  self->request(wf, caf::infinite, weft::atom::watch_v, id, me)
    .then([unexpected](bool) { unexpected(); }, record("watch"));
  // Built by hand, past make_submit_request's checks: the orchestrator
  // checks again.
  weft::submit_request bad;
  bad.name = "no roots";
  self->request(wf, caf::infinite, weft::atom::submit_v, bad)
    .then(info, record("submit"));
  return {
    [](weft::atom::progress, const weft::progress_update&) {},
  };
}

} // namespace

TEST_CASE("workflow actor: an unknown job id comes back as an error message "
          "the actor handles") {
  weft::local_cluster cluster{
    {.runners = {{.slots = 1}}, .scheduler_threads = 2}};
  cluster.start();
  auto wf = cluster.workflows();
  auto log = std::make_shared<error_log>();
  auto asker = wf.system().spawn(unknown_fn, wf.actor(), log);
  REQUIRE_FALSE(await_end(wf.system(), asker, 30s));
  for (auto what : {"find", "cancel", "retry", "tasks", "wait", "watch"}) {
    INFO(what);
    CHECK(log->codes[what] == weft::errc::unknown_job);
    CHECK_THAT(log->texts[what], Catch::Contains("018f0000-0000-7000"));
  }
  CHECK(log->codes["submit"] == weft::errc::invalid_argument);
  // A request that breaks the rules is refused before it is sent.
  CHECK_THROWS_AS(weft::make_submit_request(
                    "bad", {weft::task_input{{"Count", "v1.0"}, "[1, 2]"}}),
                  weft::error);
}

TEST_CASE("workflow actor: an actor in another process chains two jobs on a "
          "weft server with runner processes") {
  weft::test::temp_dir dir;
  auto cache_dir = (dir.path / "cache").string();
  auto srv = weft::test::start_server(dir.path, "127.0.0.1:0",
                                      {"--progress-interval", "100"});
  auto r1 = weft::test::start_runner(dir.path, srv.address(), "default", "r1",
                                     {"--cache", cache_dir});
  auto r2 = weft::test::start_runner(dir.path, srv.address(), "default", "r2",
                                     {"--cache", cache_dir});
  weft::remote::connect_options opts;
  opts.scheduler_threads = 2;
  opts.patience = 10s;
  // The runners' store: this node reads the first job's results from it.
  opts.cache = weft::make_file_system_cache(cache_dir);
  auto conn = weft::remote::connect(srv.address(), opts);
  auto wf = conn.workflows();
  REQUIRE(wf.cache() != nullptr);
  auto log = std::make_shared<chain_log>();
  auto chain = wf.system().spawn(chain_fn, wf, first_job(100), sum_job(5), log);
  auto reason = await_end(wf.system(), chain, 90s);
  INFO("exit: " << wf.system().render(reason));
  CHECK_FALSE(reason);
  check_chain(*log, conn.jobs());
  // The counts ran in the runner processes.
  for (const auto& t : conn.jobs().tasks(log->first.id))
    for (const auto& a : t.history)
      CHECK((a.runner == "r1" || a.runner == "r2"));
}

namespace {

/// What a finder saw; the test reads it while the finder runs.
struct find_log {
  std::mutex mtx;
  weft::job_info found;
  bool down = false;
  std::string error;

  bool answered() {
    std::lock_guard<std::mutex> guard{mtx};
    return !found.id.empty() || !error.empty();
  }
};

/// Monitors the orchestrator and finds `id`, then lives on until told to
/// quit (an exit) or the orchestrator goes away.
caf::behavior finder_fn(caf::event_based_actor* self, weft::workflow_actor wf,
                        std::string id, std::shared_ptr<find_log> log) {
  self->monitor(wf);
  self->set_down_handler([self, log](caf::down_msg&) {
    std::lock_guard<std::mutex> guard{log->mtx};
    log->down = true;
    self->quit();
  });
  self->request(wf, caf::infinite, weft::atom::find_v, id)
    .then(
      [log](weft::job_info& j) {
        std::lock_guard<std::mutex> guard{log->mtx};
        log->found = j;
      },
      [self, log](caf::error& err) {
        std::lock_guard<std::mutex> guard{log->mtx};
        log->error = weft::to_weft_error(err).what();
        self->quit(err);
      });
  return {
    [](weft::atom::progress, const weft::progress_update&) {},
  };
}

} // namespace

TEST_CASE("workflow actor: a monitor reports a server that went away, and "
          "reconnect() hands out the restarted one") {
  weft::test::temp_dir dir;
  auto data = (dir.path / "data").string();
  auto srv
    = weft::test::start_server(dir.path, "127.0.0.1:0", {"--data", data});
  auto address = srv.address();
  auto runner = weft::test::start_runner(dir.path, address, "default", "r1");
  weft::remote::connect_options opts;
  opts.scheduler_threads = 2;
  opts.patience = 20s;
  auto conn = weft::remote::connect(address, opts);
  auto job = conn.jobs().submit("before", Counts{{2}, 1});
  REQUIRE(conn.jobs().wait(job.id, 60s).state == weft::job_state::completed);

  auto wf = conn.workflows();
  auto before = std::make_shared<find_log>();
  auto finder = wf.system().spawn(finder_fn, wf.actor(), job.id, before);
  REQUIRE(weft::test::wait_until([&] { return before->answered(); }, 20s));
  CHECK(before->found.id == job.id);
  srv.proc->kill();
  // The finder quits when its monitor reports the server gone.
  REQUIRE_FALSE(await_end(wf.system(), finder, 30s));
  CHECK(before->down);

  // Same address and data: the job is found through the new handle.
  auto again = weft::test::start_server(dir.path, address, {"--data", data});
  auto renewed = conn.reconnect();
  CHECK(renewed.actor() != wf.actor());
  CHECK(conn.workflows().actor() == renewed.actor());
  auto after = std::make_shared<find_log>();
  auto second
    = renewed.system().spawn(finder_fn, renewed.actor(), job.id, after);
  REQUIRE(weft::test::wait_until([&] { return after->answered(); }, 20s));
  {
    std::lock_guard<std::mutex> guard{after->mtx};
    INFO("error: " << after->error);
    CHECK(after->found.id == job.id);
    CHECK(after->found.state == weft::job_state::completed);
  }
  caf::anon_send_exit(second, caf::exit_reason::user_shutdown);
  await_end(renewed.system(), second, 10s);
}

namespace {

/// What the cluster requests answered.
struct cluster_log {
  weft::cluster_info created, found;
  std::vector<weft::cluster_info> listed;
  bool removed = false;
  weft::errc refused = weft::errc::none;
  std::string error;
};

/// Creates, finds, lists and deletes a cluster, then submits to one that
/// does not exist, one request after the other.
caf::behavior clusters_fn(caf::event_based_actor* self, weft::workflow_actor wf,
                          std::shared_ptr<cluster_log> log) {
  auto fail = [self, log](caf::error& err) {
    log->error = weft::to_weft_error(err).what();
    self->quit(err);
  };
  auto submit = [self, wf, log] {
    weft::submit_options nope{.cluster = "nope"};
    self
      ->request(wf, caf::infinite, weft::atom::submit_v,
                weft::make_submit_request("nowhere", Count{0, 1, 0}, nope))
      .then([self](weft::job_info&) { self->quit(); },
            [self, log](caf::error& err) {
              log->refused = weft::to_weft_error(err).code();
              self->quit();
            });
  };
  self->request(wf, caf::infinite, weft::atom::create_v, std::string{"gpu"})
    .then(
      [=](weft::cluster_info& created) {
        log->created = created;
        self->request(wf, caf::infinite, weft::atom::info_v, created.name)
          .then(
            [=](weft::cluster_info& found) {
              log->found = found;
              self->request(wf, caf::infinite, weft::atom::list_v)
                .then(
                  [=](std::vector<weft::cluster_info>& all) {
                    log->listed = std::move(all);
                    self
                      ->request(wf, caf::infinite, weft::atom::remove_v,
                                std::string{"gpu"})
                      .then(
                        [=](bool removed) {
                          log->removed = removed;
                          submit();
                        },
                        fail);
                  },
                  fail);
            },
            fail);
      },
      fail);
  return {};
}

} // namespace

TEST_CASE("workflow actor: a server hands out its workflow actor; clusters "
          "by messages") {
  weft::server_options opts;
  opts.network.scheduler_threads = 2;
  weft::server srv{opts};
  auto wf = srv.workflows();
  CHECK(wf.cache() == nullptr); // the runners hold job caches
  CHECK_THROWS_AS(wf.job_cache("any"), weft::error);
  auto log = std::make_shared<cluster_log>();
  auto actor = wf.system().spawn(clusters_fn, wf.actor(), log);
  auto reason = await_end(wf.system(), actor, 30s);
  INFO("error: " << log->error);
  REQUIRE_FALSE(reason);
  CHECK(log->created.name == "gpu");
  CHECK(log->found.name == "gpu");
  CHECK(log->found.runners.empty());
  std::set<std::string> names;
  for (const auto& c : log->listed)
    names.insert(c.name);
  CHECK(names == std::set<std::string>{"default", "gpu"});
  CHECK(log->removed);
  // A server creates no cluster on use.
  CHECK(log->refused == weft::errc::unknown_cluster);
}
