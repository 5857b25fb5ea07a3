// Multi-process tests: `weft server` and runner processes on 127.0.0.1,
// with bounded timeouts; every process is killed at scope exit.

#include "servers.hpp"
#include "wait.hpp"

#include <weft/certs.hpp>
#include <weft/remote.hpp>
#include <weft/weft.hpp>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <sys/socket.h>

#include <future>
#include <map>
#include <memory>
#include <random>
#include <set>

using namespace std::chrono_literals;
using namespace weft::test;
namespace fs = std::filesystem;

TEST_CASE("remote: three runner processes in two clusters run tasks routed "
          "to their cluster") {
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0");
  auto conn = connect(srv.address());
  auto jobs = conn.jobs();
  jobs.create_cluster("alpha");
  jobs.create_cluster("beta");
  auto a1 = start_runner(dir.path, srv.address(), "alpha", "alpha-1");
  auto b1 = start_runner(dir.path, srv.address(), "beta", "beta-1");
  auto b2 = start_runner(dir.path, srv.address(), "beta", "beta-2");
  auto job = jobs.submit("routing", {spread(20, 2, {"alpha", "beta"})},
                         {.cluster = "alpha"});
  auto done = jobs.wait(job.id, 60s);
  REQUIRE(done.state == weft::job_state::completed);
  auto tasks = jobs.tasks(job.id);
  REQUIRE(tasks.size() == 41);
  std::map<std::string, std::set<std::string>> runners_of;
  for (const auto& t : tasks) {
    if (t.identifier.name != "Leaf")
      continue;
    CHECK(t.state == weft::task_state::computed);
    // The leaf names the runner that computed it; runners are named after
    // their cluster.
    CHECK(t.display.rfind(t.cluster + "-", 0) == 0);
    runners_of[t.cluster].insert(t.display);
  }
  CHECK(runners_of["alpha"] == std::set<std::string>{"alpha-1"});
  CHECK(runners_of["beta"].size() >= 1);
  auto clusters = jobs.clusters();
  std::map<std::string, size_t> live;
  for (const auto& c : clusters)
    live[c.name] = c.runners.size();
  CHECK(live["alpha"] == 1);
  CHECK(live["beta"] == 2);
  CHECK(live["default"] == 0);
  // A cluster with live runners cannot be deleted.
  CHECK_THROWS_WITH(jobs.delete_cluster("beta"),
                    Catch::Contains("live runner"));
}

TEST_CASE("remote: a runner killed mid-task loses nothing and the job "
          "completes") {
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0");
  auto r1 = start_runner(dir.path, srv.address(), "default", "victim");
  auto r2 = start_runner(dir.path, srv.address(), "default", "survivor");
  auto conn = connect(srv.address());
  auto jobs = conn.jobs();
  auto job = jobs.submit("kill a runner", {spread(40, 150, {"default"})});
  // Kill it once both runners are busy.
  REQUIRE(await_job(
    jobs, job.id, [](const weft::job_info& j) { return j.running >= 4; }, 30s));
  r1->kill();
  auto done = jobs.wait(job.id, 90s);
  REQUIRE(done.state == weft::job_state::completed);
  uint64_t losses = 0;
  for (const auto& t : jobs.tasks(job.id)) {
    CHECK(t.state == weft::task_state::computed);
    CHECK(t.retries_used == 0); // a lost runner spends no retry
    losses += t.runner_losses;
    if (t.identifier.name == "Leaf" && t.runner_losses > 0)
      CHECK(t.display == "survivor");
  }
  CHECK(losses >= 1);
}

TEST_CASE("remote: a hung runner is noticed by heartbeats and its tasks move "
          "on") {
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0");
  auto frozen = start_runner(dir.path, srv.address(), "default", "frozen");
  auto awake = start_runner(dir.path, srv.address(), "default", "awake");
  auto conn = connect(srv.address());
  auto jobs = conn.jobs();
  auto job = jobs.submit("hang a runner", {spread(30, 200, {"default"})});
  REQUIRE(await_job(
    jobs, job.id, [](const weft::job_info& j) { return j.running >= 4; }, 30s));
  // Stopped, not killed: its connection stays open but it falls silent.
  frozen->signal(SIGSTOP);
  auto done = jobs.wait(job.id, 90s);
  REQUIRE(done.state == weft::job_state::completed);
  uint64_t losses = 0;
  for (const auto& t : jobs.tasks(job.id)) {
    CHECK(t.state == weft::task_state::computed);
    CHECK(t.retries_used == 0);
    losses += t.runner_losses;
  }
  CHECK(losses >= 1);
  frozen->signal(SIGCONT);
}

TEST_CASE("remote: runners reconnect to a restarted server and finish the "
          "job") {
  temp_dir dir;
  auto data = (dir.path / "data").string();
  auto srv = start_server(dir.path, "127.0.0.1:0", {"--data", data});
  auto address = srv.address();
  auto r1 = start_runner(dir.path, address, "default", "r1");
  auto r2 = start_runner(dir.path, address, "default", "r2");
  auto conn = connect(address);
  auto jobs = conn.jobs();
  auto job = jobs.submit("restart", {spread(30, 100, {"default"})});
  REQUIRE(await_job(
    jobs, job.id,
    [](const weft::job_info& j) {
      return j.stats.count(weft::task_state::computed) >= 5;
    },
    30s));
  srv.proc->kill();
  // Same port: the runners and this client reconnect to it.
  auto again = start_server(dir.path, address, {"--data", data});
  auto done = jobs.wait(job.id, 90s); // reconnects under the hood
  REQUIRE(done.state == weft::job_state::completed);
  for (const auto& t : jobs.tasks(job.id))
    CHECK(t.state == weft::task_state::computed);
  CHECK(r1->await_line("ready", 1s));
  CHECK(r1->running());
  CHECK(r2->running());
}

TEST_CASE("remote: a job survives its server being killed at random moments "
          "five times") {
  temp_dir dir;
  auto data = (dir.path / "data").string();
  auto srv = start_server(dir.path, "127.0.0.1:0", {"--data", data});
  auto address = srv.address();
  auto runner
    = start_runner(dir.path, address, "default", "steady", {"--slots", "4"});
  std::string id;
  {
    auto conn = connect(address);
    // 1,024 leaves: 2,047 tasks. Acknowledged: it must survive.
    id
      = conn.jobs()
          .submit("crash",
                  {weft::task_input{{"Tree", "v1.0"},
                                    R"({"begin":0,"end":1024,"sleep_ms":20})"}})
          .id;
  }
  std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int> delay_ms{300, 900};
  int kills = 0;
  for (int round = 0; round < 5; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds{delay_ms(rng)});
    srv.proc->kill();
    ++kills;
    srv = start_server(dir.path, address, {"--data", data});
  }
  auto conn = connect(address);
  auto jobs = conn.jobs();
  auto done = jobs.wait(id, 180s);
  REQUIRE(done.state == weft::job_state::completed);
  REQUIRE(done.stats.total_tasks == 2047);
  CHECK(done.stats.count(weft::task_state::computed) == 2047);
  CHECK(kills == 5);
  uint64_t attempts = 0;
  try {
    for (const auto& t : jobs.tasks(id)) {
      CHECK(t.state == weft::task_state::computed);
      attempts += t.attempts;
    }
  } catch (const weft::error& e) {
    // It finished before the last restart and was compacted: the summary
    // above is all that is kept.
    REQUIRE(e.code() == weft::errc::invalid_state);
    WARN("server killed " << kills
                          << " times; the job finished before the last "
                             "restart (attempts no longer kept)");
    return;
  }
  // Execution is at least once: what ran twice is reported, not hidden.
  WARN("server killed " << kills << " times; " << attempts
                        << " attempts for 2047 tasks (" << (attempts - 2047)
                        << " re-executed)");
  CHECK(attempts >= 2047);
}

TEST_CASE("remote: a runner of an incompatible version never receives the "
          "task") {
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0");
  auto conn = connect(srv.address());
  auto jobs = conn.jobs();
  jobs.create_cluster("old");
  auto v2 = start_runner(dir.path, srv.address(), "old", "old-v2",
                         {"--leaf-version", "v2.0"});
  auto job = jobs.submit("versions", {leaf(1, 0, "v1.0")}, {.cluster = "old"});
  // Until the v2 runner is in the cluster and the task waits there.
  CHECK(wait_until(
    [&] {
      auto c = jobs.find_cluster("old");
      return c.runners.size() == 1 && c.queued == 1;
    },
    30s, 20ms));
  auto info = jobs.find(job.id);
  CHECK(info.stats.count(weft::task_state::queued) == 1);
  auto cluster = jobs.find_cluster("old");
  REQUIRE(cluster.unserved.size() == 1);
  CHECK(weft::to_string(cluster.unserved[0]) == "Leaf@v1.0");
  // `weft job` says why it waits.
  child_process cli{{WEFT_CLI, "job", job.id, "--server", srv.address()},
                    dir.path / "cli-job.out"};
  REQUIRE(cli.wait(30s) == 0);
  CHECK_THAT(cli.output(),
             Catch::Contains("no runner in cluster old can run Leaf@v1.0"));
  // A compatible runner takes it.
  auto v1 = start_runner(dir.path, srv.address(), "old", "old-v1");
  auto done = jobs.wait(job.id, 60s);
  REQUIRE(done.state == weft::job_state::completed);
  CHECK(jobs.tasks(job.id)[0].display == "old-v1");
}

TEST_CASE("remote: TLS refuses a node without a CA-signed certificate and "
          "accepts a signed one") {
  temp_dir dir;
  test_pki pki{dir.path};
  const auto& [certs, rogue, server_cert, node_cert, rogue_cert, ca] = pki;
  auto srv = start_server(dir.path, "127.0.0.1:0",
                          {"--cert", server_cert.certificate.string(), "--key",
                           server_cert.key.string(), "--ca", ca});
  CHECK_THAT(srv.proc->output(), Catch::Contains("TLS"));
  weft::tls_options good{node_cert.certificate, node_cert.key, ca};
  auto runner = start_runner(dir.path, srv.address(), "default", "tls-runner",
                             {"--cert", node_cert.certificate.string(), "--key",
                              node_cert.key.string(), "--ca", ca});
  auto conn = connect(srv.address(), good);
  auto jobs = conn.jobs();
  auto job = jobs.submit("tls", {leaf(7, 0)});
  CHECK(jobs.wait(job.id, 60s).state == weft::job_state::completed);
  // A certificate from another CA, and no certificate at all. (Separate
  // processes: CAF derives node ids from the process, and two nodes of one
  // process would look like the same node to the server.)
  child_process intruder{{WEFT_CLI, "jobs", "--server", srv.address(),
                          "--connect-timeout", "2", "--cert",
                          rogue_cert.certificate.string(), "--key",
                          rogue_cert.key.string(), "--ca",
                          (rogue / "ca.pem").string()},
                         dir.path / "intruder.out"};
  CHECK(intruder.wait(30s) == 1);
  CHECK_THAT(intruder.errors(), Catch::Contains("cannot reach"));
  child_process plain{{WEFT_CLI, "jobs", "--server", srv.address(),
                       "--connect-timeout", "2"},
                      dir.path / "plain.out"};
  CHECK(plain.wait(30s) == 1);
  child_process signed_cli{{WEFT_CLI, "jobs", "--server", srv.address(),
                            "--cert", node_cert.certificate.string(), "--key",
                            node_cert.key.string(), "--ca", ca},
                           dir.path / "signed.out"};
  CHECK(signed_cli.wait(30s) == 0);
  CHECK_THAT(signed_cli.output(), Catch::Contains(job.id));
  // The refused handshakes left the connected runner alone.
  CHECK_THAT(runner->errors(), !Catch::Contains("lost the orchestrator"));
  // The server carries on.
  auto second = jobs.submit("tls again", {leaf(8, 0)});
  CHECK(jobs.wait(second.id, 60s).state == weft::job_state::completed);
}

TEST_CASE("remote: random bytes and a half-open connection do not disturb "
          "running jobs") {
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0");
  auto runner = start_runner(dir.path, srv.address(), "default", "calm");
  auto conn = connect(srv.address());
  auto jobs = conn.jobs();
  auto job = jobs.submit("noise", {spread(20, 50, {"default"})});
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(srv.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // One connection sends garbage; another connects and stays silent.
  int garbage = ::socket(AF_INET, SOCK_STREAM, 0);
  int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(::connect(garbage, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
          == 0);
  REQUIRE(::connect(silent, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
          == 0);
  std::mt19937 rng{42};
  std::string noise(64 * 1024, '\0');
  for (auto& c : noise)
    c = static_cast<char>(rng());
  CHECK(::send(garbage, noise.data(), noise.size(), MSG_NOSIGNAL) > 0);
  auto done = jobs.wait(job.id, 60s);
  CHECK(done.state == weft::job_state::completed);
  // New clients still get in while the silent socket stays open.
  auto other = connect(srv.address());
  CHECK(other.jobs().find(job.id).state == weft::job_state::completed);
  ::close(garbage);
  ::close(silent);
  CHECK(srv.proc->running());
}

TEST_CASE("remote: SIGTERM lets running tasks finish and hands back the "
          "rest") {
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0");
  auto conn = connect(srv.address());
  auto jobs = conn.jobs();
  SECTION("tasks that finish within the grace period") {
    auto r = start_runner(dir.path, srv.address(), "default", "leaving",
                          {"--slots", "1", "--grace-ms", "10000"});
    auto job = jobs.submit("graceful", {leaf(1, 800)});
    REQUIRE(await_job(
      jobs, job.id, [](const weft::job_info& j) { return j.running == 1; },
      30s));
    r->signal(SIGTERM);
    CHECK(r->wait(20s) == 0);
    auto info = jobs.wait(job.id, 10s);
    CHECK(info.state == weft::job_state::completed);
    CHECK(jobs.tasks(job.id)[0].display == "leaving");
  }
  SECTION("tasks still running when the grace period ends") {
    auto r = start_runner(dir.path, srv.address(), "default", "hurried",
                          {"--slots", "1", "--grace-ms", "200"});
    auto job = jobs.submit("interrupted", {leaf(2, 3000)});
    REQUIRE(await_job(
      jobs, job.id, [](const weft::job_info& j) { return j.running == 1; },
      30s));
    r->signal(SIGTERM);
    CHECK(r->wait(20s) == 0);
    CHECK_THAT(r->errors(), Catch::Contains("grace period over"));
    auto next = start_runner(dir.path, srv.address(), "default", "next",
                             {"--slots", "1"});
    auto info = jobs.wait(job.id, 30s);
    CHECK(info.state == weft::job_state::completed);
    auto task = jobs.tasks(job.id)[0];
    CHECK(task.display == "next");
    CHECK(task.retries_used == 0);
    CHECK(task.runner_losses == 1);
  }
}

TEST_CASE("remote: the weft command reports errors in one line with a "
          "non-zero status") {
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0");
  auto run = [&](std::vector<std::string> args) {
    static int n = 0;
    args.insert(args.begin(), WEFT_CLI);
    auto out = dir.path / ("cli-" + std::to_string(++n) + ".out");
    child_process cli{args, out};
    auto status = cli.wait(60s);
    return std::make_tuple(status, cli.output(), cli.errors());
  };
  SECTION("server unreachable") {
    auto [status, out, err]
      = run({"jobs", "--server", "127.0.0.1:1", "--connect-timeout", "1"});
    CHECK(status == 1);
    CHECK_THAT(err, Catch::Contains("cannot reach"));
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  }
  SECTION("unknown job") {
    auto [status, out, err]
      = run({"job", "01a2037f-caef-70b2-8438-12d1f925d3cc", "--server",
             srv.address()});
    CHECK(status == 1);
    CHECK_THAT(err, Catch::Contains("01a2037f-caef-70b2-8438-12d1f925d3cc"));
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  }
  SECTION("invalid input") {
    auto [status, out, err] = run({"submit", "--task", "Leaf@v1.0", "--input",
                                   "{\"index\": 1", "--server", srv.address()});
    CHECK(status == 2);
    CHECK_THAT(err, Catch::Contains("--input: malformed JSON at offset 11 "
                                    "(line 1, column 12)"));
  }
  SECTION("submit, list, cancel and clusters with --json") {
    auto [s1, out1, err1]
      = run({"clusters", "create", "gpu", "--server", srv.address()});
    CHECK(s1 == 0);
    auto [s2, out2, err2]
      = run({"submit", "--task", "Leaf@v1.0", "--input",
             R"({"index":1,"sleep_ms":0})", "--cluster", "gpu", "--name",
             "cli job", "--json", "--server", srv.address()});
    REQUIRE(s2 == 0);
    auto id_at = out2.find("\"id\":\"") + 6;
    auto id = out2.substr(id_at, 36);
    auto [s3, out3, err3]
      = run({"jobs", "--cluster", "gpu", "--server", srv.address()});
    CHECK(s3 == 0);
    CHECK_THAT(out3, Catch::Contains(id) && Catch::Contains("cli job"));
    auto [s4, out4, err4] = run({"cancel", id, "--server", srv.address()});
    CHECK(s4 == 0);
    CHECK_THAT(out4, Catch::Contains("canceled 1 task"));
    auto [s5, out5, err5] = run(
      {"jobs", "--state", "CANCELED", "--json", "--server", srv.address()});
    CHECK_THAT(out5, Catch::Contains(id));
    auto [s6, out6, err6]
      = run({"clusters", "delete", "gpu", "--server", srv.address()});
    CHECK(s6 == 0);
    auto [s7, out7, err7]
      = run({"clusters", "delete", "default", "--server", srv.address()});
    CHECK(s7 == 1);
    CHECK_THAT(err7, Catch::Contains("cannot be deleted"));
  }
}

// A job across a cluster's deletion: its root makes a task for gpu (so
// the job holds gpu's handle) and one for default that, once the test
// opens the gate, makes another task for gpu.
namespace {
std::shared_future<void> across_gate;
}

struct across_leaf {
  int n = 0;
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(across_leaf, (), (n))

struct across_gated {
  void execute(weft::context& ctx) const {
    across_gate.wait();
    ctx.submit_subtask(across_leaf{1}, {.cluster = "gpu"});
  }
};
BOOST_DESCRIBE_STRUCT(across_gated, (), ())

struct across_root {
  void execute(weft::context& ctx) const {
    ctx.submit_subtask(across_leaf{0}, {.cluster = "gpu"});
    ctx.submit_subtask(across_gated{});
  }
};
BOOST_DESCRIBE_STRUCT(across_root, (), ())

TEST_CASE("remote: a cluster deleted, and maybe created again, while a job "
          "targets it strands nothing") {
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0",
                          {"--data", (dir.path / "data").string()});
  auto conn = connect(srv.address());
  auto jobs = conn.jobs();
  jobs.create_cluster("gpu");
  auto base = conn.make_runner({.cluster = "default", .slots = 2});
  base.register_tasks<across_root, across_gated>();
  base.start();
  auto gpu_runner = [&] {
    auto r = conn.make_runner({.cluster = "gpu", .slots = 1});
    r.register_tasks<across_leaf>();
    r.start();
    return r;
  };
  std::promise<void> gate;
  across_gate = gate.get_future().share();
  struct opener { // a failed check must not leave a worker blocked
    std::promise<void>& gate;
    bool open = false;
    void operator()() {
      if (!std::exchange(open, true))
        gate.set_value();
    }
    ~opener() {
      (*this)();
    }
  } open_gate{gate};
  auto state_of = [&](const std::string& id, size_t task) {
    auto tasks = jobs.tasks(id);
    return tasks.size() > task ? tasks[task].state : weft::task_state::queued;
  };
  using enum weft::task_state;
  auto job = jobs.submit("across a deletion", across_root{});
  {
    auto first = gpu_runner();
    REQUIRE(wait_until([&] { return state_of(job.id, 1) == computed; }, 30s));
    first.stop();
  }
  REQUIRE(
    wait_until([&] { return jobs.find_cluster("gpu").runners.empty(); }, 30s));
  jobs.delete_cluster("gpu");
  CHECK_THROWS_WITH(jobs.find_cluster("gpu"), Catch::Contains("no cluster"));

  SECTION("created again: the job's new task and new jobs go to it") {
    jobs.create_cluster("gpu");
    open_gate();
    REQUIRE(
      wait_until([&] { return jobs.find_cluster("gpu").queued == 1; }, 30s));
    auto later
      = jobs.submit("after the deletion", across_leaf{2}, {.cluster = "gpu"});
    auto second = gpu_runner();
    CHECK(jobs.wait(job.id, 30s).state == weft::job_state::completed);
    CHECK(jobs.wait(later.id, 30s).state == weft::job_state::completed);
    second.stop();
  }
  SECTION("not created again: weft job says what the task waits for, and "
          "it runs once the cluster exists") {
    open_gate();
    REQUIRE(wait_until([&] { return state_of(job.id, 2) == computed; }, 30s));
    CHECK(state_of(job.id, 3) == queued);
    child_process cli{{WEFT_CLI, "job", job.id, "--server", srv.address()},
                      dir.path / "job.out"};
    CHECK(cli.wait(60s) == 0);
    CHECK_THAT(cli.output(),
               Catch::Contains("waiting:   cluster gpu does not exist: its "
                               "tasks wait until it is created"));
    CHECK(jobs.find(job.id).state == weft::job_state::started); // not final
    jobs.create_cluster("gpu");
    auto second = gpu_runner();
    CHECK(jobs.wait(job.id, 30s).state == weft::job_state::completed);
    second.stop();
  }
  base.stop();
}

TEST_CASE("remote: the server stops cleanly on SIGTERM and refuses a data "
          "directory in use") {
  temp_dir dir;
  auto data = (dir.path / "data").string();
  auto srv = start_server(dir.path, "127.0.0.1:0", {"--data", data});
  child_process second{{WEFT_CLI, "server", "--listen", "127.0.0.1:0", "--data",
                        data},
                       dir.path / "second.out"};
  CHECK(second.wait(30s) == 1);
  CHECK_THAT(second.errors(), Catch::Contains("in use"));
  srv.proc->signal(SIGTERM);
  CHECK(srv.proc->wait(30s) == 0);
  CHECK_THAT(srv.proc->output(), Catch::Contains("weft server stopped"));
  // Plain TCP beyond loopback is refused.
  child_process open{{WEFT_CLI, "server", "--listen", "0.0.0.0:0"},
                     dir.path / "open.out"};
  CHECK(open.wait(30s) == 1);
  CHECK_THAT(open.errors(), Catch::Contains("without TLS"));
}

namespace {

/// Runs a command in a pseudo-terminal; returns its exit status and what
/// it wrote there.
std::pair<int, std::string> run_in_pty(std::vector<std::string> args,
                                       std::chrono::seconds limit) {
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  for (;;) {
    pollfd pfd{master, POLLIN, 0};
    if (::poll(&pfd, 1, 100) > 0) {
      auto n = ::read(master, buf, sizeof(buf));
      if (n <= 0)
        break; // the child closed the terminal
      out.append(buf, static_cast<size_t>(n));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      break;
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ::close(master);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

} // namespace

TEST_CASE("remote: weft watch draws live bars in a terminal and lines in a "
          "pipe") {
  temp_dir dir;
  auto srv
    = start_server(dir.path, "127.0.0.1:0", {"--progress-interval", "100"});
  auto runner = start_runner(dir.path, srv.address(), "default", "drawer");
  auto conn = connect(srv.address());
  auto jobs = conn.jobs();
  auto job = jobs.submit("watched", {spread(12, 150, {"default"})});
  // Through a pseudo-terminal: redrawn in place, ends with the job.
  auto [status, screen]
    = run_in_pty({WEFT_CLI, "watch", job.id, "--server", srv.address()}, 60s);
  CHECK(status == 0);
  CHECK_THAT(screen, Catch::Contains("\x1b[2K")); // lines cleared, redrawn
  CHECK_THAT(screen, Catch::Contains("leaves"));
  CHECK_THAT(screen, Catch::Contains("overall"));
  CHECK_THAT(screen, Catch::Contains("[##############################] 12/12"));
  CHECK_THAT(screen, Catch::Contains("100.0%"));
  CHECK_THAT(screen, Catch::Contains("COMPLETED"));
  // Not a terminal: one plain line per update, the last one final.
  child_process piped{{WEFT_CLI, "watch", job.id, "--server", srv.address()},
                      dir.path / "watch.out"};
  CHECK(piped.wait(30s) == 0);
  auto text = piped.output();
  CHECK(text.find("\x1b[") == std::string::npos);
  CHECK_THAT(text, Catch::Contains("COMPLETED") && Catch::Contains("overall"));
  // --json: one document per line; the last says the job completed.
  child_process json_lines{{WEFT_CLI, "watch", job.id, "--json", "--server",
                            srv.address()},
                           dir.path / "watch.json"};
  CHECK(json_lines.wait(30s) == 0);
  auto lines = json_lines.output();
  REQUIRE(lines.size() > 1);
  auto last = lines.substr(lines.rfind('\n', lines.size() - 2) + 1);
  CHECK_THAT(last, Catch::Contains("\"state\":\"COMPLETED\"")
                     && Catch::Contains("\"estimate\":\"completed\"")
                     && Catch::Contains("\"final\":true"));
}
