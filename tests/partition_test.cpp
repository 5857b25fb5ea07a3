// A real network partition: `weft server` in the root network namespace,
// one runner process in each of two namespaces of their own, reached over
// veth pairs. One runner's link goes down mid-job (no reset: the
// connection just falls silent), the server's heartbeats notice, the other
// runner carries the job, the link comes back and the runner rejoins. Every
// task must be COMPUTED by exactly one attempt, whatever ran twice.
//
// Needs root (ip netns, ip link); where the kernel or the sandbox refuses,
// the test says why and skips. Namespaces, links and routes are removed at
// scope exit on every path, and those left by a test process that was
// killed are removed by the next run.

#include "exposition.hpp"
#include "http_client.hpp"
#include "metrics_scrape.hpp"
#include "servers.hpp"
#include "wait.hpp"

#include <weft/remote.hpp>
#include <weft/weft.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

#include <unistd.h>

using namespace std::chrono_literals;
using namespace weft::test;
namespace fs = std::filesystem;

namespace {

/// The counter of results that arrive for attempts the job no longer
/// expects (a partitioned runner's late reports, rejected by their lease).
constexpr bool require_rejected_metric = true;
constexpr const char* rejected_metric = "weft_attempt_reports_rejected_total";

// Short failure detection, so that the partition is noticed well within the
// test's bounds.
constexpr int heartbeat_ms = 200;
constexpr int connection_timeout_ms = 1500;

// Leaves outlast the detection time: the attempts the cut-off runner holds
// finish after both sides dropped the connection, so their results come
// back late, over the next connection, and must be rejected.
constexpr uint32_t leaves = 16;
constexpr uint32_t leaf_ms = 3000;

// Routes are tagged with this plus the pid of the test that added them, so
// that a later run can tell a dead test's routes from a running one's.
constexpr uint32_t route_metric_base = 1'000'000;
const std::string ns_prefix = "weft-p-";
const std::string link_prefix = "wp"; // then the pid, 'h' or 'n', the site

std::string find_ip() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
    if (::access(p, X_OK) == 0)
      return p;
  return {};
}

struct command_result {
  int status = -1;
  std::string out;
  std::string err;
};

/// Runs a short command to completion (10 s at most).
command_result run(const fs::path& logs, std::vector<std::string> args) {
  static int n = 0;
  child_process p{std::move(args), logs / ("cmd-" + std::to_string(++n))};
  if (!p.started())
    return {-1, {}, "cannot start the command"};
  command_result r;
  r.status = p.wait(10s);
  if (r.status == -1)
    p.kill();
  r.out = p.output();
  r.err = p.errors();
  return r;
}

/// The pid in `name` if it is exactly `prefix`, digits, then one of
/// `tails` (the names this test gives), else 0: nothing else is touched.
long pid_in(const std::string& name, const std::string& prefix,
            std::initializer_list<const char*> tails) {
  if (name.rfind(prefix, 0) != 0)
    return 0;
  auto end = name.find_first_not_of("0123456789", prefix.size());
  if (end == prefix.size() || end == std::string::npos
      || end - prefix.size() > 9)
    return 0;
  auto tail = name.substr(end);
  for (const char* t : tails)
    if (tail == t)
      return std::stol(name.substr(prefix.size(), end - prefix.size()));
  return 0;
}

bool pid_alive(long pid) {
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH);
}

/// The namespaces, veth pairs and routes of one test, removed in the
/// destructor (also when a REQUIRE throws).
class network_lab {
public:
  network_lab(std::string ip, fs::path logs)
      : ip_(std::move(ip)), logs_(std::move(logs)) {
  }

  ~network_lab() {
    for (const auto& r : routes_)
      run({ip_, "route", "del", "blackhole", r, "metric",
           std::to_string(metric())});
    // Deleting one end of a veth pair deletes the other.
    for (const auto& l : links_)
      run({ip_, "link", "del", l});
    for (const auto& ns : namespaces_)
      run({ip_, "netns", "del", ns});
  }

  network_lab(const network_lab&) = delete;
  network_lab& operator=(const network_lab&) = delete;

  command_result run(std::vector<std::string> args) const {
    return ::run(logs_, std::move(args));
  }

  static uint32_t metric() {
    return route_metric_base + static_cast<uint32_t>(::getpid());
  }

  /// Namespaces, links and routes of test processes that no longer exist:
  /// a test killed by a timeout cannot run its destructors.
  void sweep_dead() const {
    auto list = run({ip_, "netns", "list"});
    std::istringstream lines{list.out};
    std::string line;
    while (std::getline(lines, line)) {
      auto name = line.substr(0, line.find(' '));
      auto pid = pid_in(name, ns_prefix, {"-a", "-b"});
      if (pid != 0 && !pid_alive(pid))
        run({ip_, "netns", "del", name});
    }
    // A namespace outlives its deletion while a socket in it lingers (a
    // killed runner's connection retransmitting over a link that was
    // down), and its veth pair with it: the root end is deleted by name.
    auto links = run({ip_, "-o", "link", "show"});
    std::istringstream ll{links.out};
    while (std::getline(ll, line)) {
      auto begin = line.find(": ");
      if (begin == std::string::npos)
        continue;
      auto name = line.substr(begin + 2);
      name = name.substr(0, name.find_first_of("@:"));
      auto pid = pid_in(name, link_prefix, {"ha", "hb", "na", "nb"});
      if (pid != 0 && !pid_alive(pid))
        run({ip_, "link", "del", name});
    }
    auto routes = run({ip_, "-4", "route", "show", "type", "blackhole"});
    std::istringstream rl{routes.out};
    while (std::getline(rl, line)) {
      std::istringstream words{line};
      std::string kind, prefix, key;
      uint64_t metric = 0;
      words >> kind >> prefix >> key >> metric;
      if (prefix.rfind("10.231.", 0) != 0 || key != "metric"
          || metric <= route_metric_base
          || metric > route_metric_base + 999'999'999)
        continue;
      if (!pid_alive(static_cast<long>(metric - route_metric_base)))
        run({ip_, "route", "del", "blackhole", prefix, "metric",
             std::to_string(metric)});
    }
  }

  void add_namespace(const std::string& ns) {
    namespaces_.push_back(ns);
  }
  void add_link(const std::string& link) {
    links_.push_back(link);
  }
  void add_route(const std::string& prefix) {
    routes_.push_back(prefix);
  }

private:
  std::string ip_;
  fs::path logs_;
  std::vector<std::string> namespaces_;
  std::vector<std::string> links_;
  std::vector<std::string> routes_;
};

/// One side of the partition: a namespace and its link to the root one.
struct site {
  std::string ns;
  std::string host_link; ///< in the root namespace
  std::string ns_link;
  std::string host_address; ///< what the runner connects to
  std::string ns_address;
};

/// An unused 10.231.K.0/24 for each site (no address, no route).
std::vector<int> free_subnets(const network_lab& lab, const std::string& ip,
                              size_t count) {
  std::vector<int> found;
  auto start = static_cast<int>(::getpid() % 250);
  for (int i = 0; i < 250 && found.size() < count; ++i) {
    int k = (start + i) % 250 + 1;
    auto prefix = "10.231." + std::to_string(k) + ".0/24";
    auto routes = lab.run(
      {ip, "-4", "route", "show", "table", "all", "to", "root", prefix});
    auto addrs = lab.run({ip, "-4", "-o", "addr", "show", "to", prefix});
    if (routes.status == 0 && routes.out.empty() && addrs.status == 0
        && addrs.out.empty())
      found.push_back(k);
  }
  return found;
}

struct execution {
  std::string runner;
  uint32_t attempt = 0;
};

/// The runners' execution records: task index -> executions.
std::map<uint32_t, std::vector<execution>> read_executions(const fs::path& f) {
  std::map<uint32_t, std::vector<execution>> out;
  std::ifstream in{f};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words{line};
    uint32_t task = 0;
    execution e;
    if (words >> task >> e.runner >> e.attempt)
      out[task].push_back(e);
  }
  return out;
}

size_t executions_by(const fs::path& f, const std::string& runner) {
  size_t n = 0;
  for (const auto& [task, list] : read_executions(f))
    for (const auto& e : list)
      n += e.runner == runner;
  return n;
}

std::set<std::string> runners_of(weft::job_client& jobs) {
  std::set<std::string> names;
  for (const auto& r : jobs.find_cluster("default").runners)
    names.insert(r.name);
  return names;
}

/// What is left of the test's overall bound, at most `limit`: each wait
/// is bounded, and so are all of them together.
class budget {
public:
  explicit budget(std::chrono::milliseconds total)
      : end_(std::chrono::steady_clock::now() + total) {
  }
  std::chrono::milliseconds operator()(std::chrono::milliseconds limit) const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      end_ - std::chrono::steady_clock::now());
    return std::clamp(left, std::chrono::milliseconds{0}, limit);
  }

private:
  std::chrono::steady_clock::time_point end_;
};

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(
           std::chrono::steady_clock::now() - t)
    .count();
}

} // namespace

TEST_CASE("partition: a runner cut off by a silent link is dropped by "
          "heartbeats, its tasks move on, it rejoins, and every task is "
          "computed once",
          "[remote][partition]") {
  auto began = std::chrono::steady_clock::now();
  // Under 60 s in all, failures included (the server's start excepted,
  // which start_server bounds by itself).
  budget within{50s};
  if (::geteuid() != 0) {
    WARN("skipped: network namespaces need root");
    return;
  }
  auto ip = find_ip();
  if (ip.empty()) {
    WARN("skipped: no `ip` command (iproute2) here");
    return;
  }
  temp_dir dir{"weft-partition-"};
  auto logs = dir.path / "logs";
  fs::create_directories(logs);
  network_lab lab{ip, logs};
  lab.sweep_dead();

  auto pid = std::to_string(::getpid());
  auto subnets = free_subnets(lab, ip, 2);
  REQUIRE(subnets.size() == 2);
  std::vector<site> sites;
  for (size_t i = 0; i < 2; ++i) {
    std::string tag = i == 0 ? "a" : "b";
    auto k = std::to_string(subnets[i]);
    sites.push_back({ns_prefix + pid + "-" + tag, link_prefix + pid + "h" + tag,
                     link_prefix + pid + "n" + tag, "10.231." + k + ".1",
                     "10.231." + k + ".2"});
  }
  {
    auto r = lab.run({ip, "netns", "add", sites[0].ns});
    if (r.status != 0) {
      WARN("skipped: `ip netns add` failed (" << r.status << "): " << r.err);
      return;
    }
    lab.add_namespace(sites[0].ns);
  }
  for (size_t i = 0; i < sites.size(); ++i) {
    const auto& s = sites[i];
    if (i > 0) {
      auto r = lab.run({ip, "netns", "add", s.ns});
      INFO(r.err);
      REQUIRE(r.status == 0);
      lab.add_namespace(s.ns);
    }
    auto veth = lab.run({ip, "link", "add", s.host_link, "type", "veth", "peer",
                         "name", s.ns_link});
    if (veth.status != 0) {
      WARN("skipped: cannot create a veth pair (" << veth.status
                                                  << "): " << veth.err);
      return;
    }
    lab.add_link(s.host_link);
    auto prefix = s.host_address.substr(0, s.host_address.rfind('.')) + ".0/24";
    std::vector<std::vector<std::string>> steps{
      {ip, "link", "set", s.ns_link, "netns", s.ns},
      {ip, "addr", "add", s.host_address + "/24", "dev", s.host_link},
      {ip, "link", "set", s.host_link, "up"},
      {ip, "-n", s.ns, "addr", "add", s.ns_address + "/24", "dev", s.ns_link},
      {ip, "-n", s.ns, "link", "set", s.ns_link, "up"},
      {ip, "-n", s.ns, "link", "set", "lo", "up"},
      // While the link is down, the server's packets for the namespace
      // are dropped here instead of leaving by the default route.
      {ip, "route", "add", "blackhole", prefix, "metric",
       std::to_string(network_lab::metric())},
    };
    for (auto& step : steps) {
      auto r = lab.run(step);
      INFO("ip " << step[1] << " " << step[2] << " " << step[3] << ": "
                 << r.err);
      REQUIRE(r.status == 0);
      if (step[1] == "route")
        lab.add_route(prefix);
    }
  }

  // A non-loopback listener needs TLS.
  test_pki pki{dir.path};
  auto srv = start_server(dir.path, "0.0.0.0:0",
                          {"--http", "127.0.0.1:0", "--cert",
                           pki.server_cert.certificate.string(), "--key",
                           pki.server_cert.key.string(), "--ca", pki.ca,
                           "--heartbeat-ms", std::to_string(heartbeat_ms),
                           "--connection-timeout-ms",
                           std::to_string(connection_timeout_ms)});
  http_target http{http_port_of(*srv.proc), pki.ca, {}};
  auto local = "127.0.0.1:" + std::to_string(srv.port);
  auto conn
    = connect(local, {pki.node_cert.certificate, pki.node_cert.key, pki.ca});
  auto jobs = conn.jobs();

  auto executions = dir.path / "executions";
  const std::string name_a = "part-a";
  const std::string name_b = "part-b";
  std::vector<std::unique_ptr<child_process>> runners;
  for (size_t i = 0; i < sites.size(); ++i) {
    auto name = i == 0 ? name_a : name_b;
    runners.push_back(std::make_unique<child_process>(
      std::vector<std::string>{ip,
                               "netns",
                               "exec",
                               sites[i].ns,
                               WEFT_REMOTE_WORKER,
                               sites[i].host_address + ":"
                                 + std::to_string(srv.port),
                               "--cluster",
                               "default",
                               "--name",
                               name,
                               "--slots",
                               "2",
                               "--cert",
                               pki.node_cert.certificate.string(),
                               "--key",
                               pki.node_cert.key.string(),
                               "--ca",
                               pki.ca,
                               "--heartbeat-ms",
                               std::to_string(heartbeat_ms),
                               "--connection-timeout-ms",
                               std::to_string(connection_timeout_ms),
                               "--executions",
                               executions.string()},
      dir.path / (name + ".out")));
    REQUIRE(runners.back()->started());
    auto ready = runners.back()->await_line("ready", within(20s));
    INFO("runner " << name << " stderr: " << runners.back()->errors());
    REQUIRE(ready.has_value());
  }
  auto& runner_a = *runners[0];
  auto& runner_b = *runners[1];
  REQUIRE(wait_until(
    [&] {
      return runners_of(jobs) == std::set<std::string>{name_a, name_b};
    },
    within(10s), 20ms));

  auto job = jobs.submit("partition", {spread(leaves, leaf_ms, {"default"})});
  // Both runners at work before the cut.
  REQUIRE(wait_until(
    [&] {
      return executions_by(executions, name_a) >= 1
             && executions_by(executions, name_b) >= 1;
    },
    within(20s), 10ms));
  // Its slots took their next leaves just now: cut while those run.
  std::this_thread::sleep_for(300ms);

  auto cut = lab.run({ip, "link", "set", sites[0].host_link, "down"});
  auto cut_at = std::chrono::steady_clock::now();
  INFO(cut.err);
  REQUIRE(cut.status == 0);
  auto a_before_cut = executions_by(executions, name_a);

  // The server drops the silent runner within its connection timeout (plus
  // a heartbeat and slack).
  REQUIRE(wait_until(
    [&] { return runners_of(jobs) == std::set<std::string>{name_b}; },
    within(std::chrono::milliseconds{connection_timeout_ms} + 3s), 20ms));
  auto detected_ms = ms_since(cut_at);
  auto computed_at_detection
    = jobs.find(job.id).stats.count(weft::task_state::computed);
  auto b_at_detection = executions_by(executions, name_b);

  // The job goes on, on the other runner.
  CHECK(wait_until(
    [&] {
      auto j = jobs.find(job.id);
      return j.state == weft::job_state::completed
             || (j.stats.count(weft::task_state::computed)
                   >= computed_at_detection + 2
                 && executions_by(executions, name_b) >= b_at_detection + 2);
    },
    within(15s), 20ms));
  bool running_at_heal = jobs.find(job.id).state != weft::job_state::completed;
  // Cut off, the runner can only have finished what it held when the link
  // went down: its two slots.
  auto a_during_cut = executions_by(executions, name_a) - a_before_cut;
  CHECK(a_during_cut <= 2);

  auto heal = lab.run({ip, "link", "set", sites[0].host_link, "up"});
  auto healed_at = std::chrono::steady_clock::now();
  INFO(heal.err);
  REQUIRE(heal.status == 0);
  // It reconnects by itself (backoff up to 2 s) and rejoins.
  CHECK(wait_until(
    [&] {
      return runners_of(jobs) == std::set<std::string>{name_a, name_b};
    },
    within(15s), 20ms));
  auto rejoined_ms = ms_since(healed_at);
  CHECK(runner_a.running());
  CHECK(runner_b.running());

  auto done = jobs.wait(job.id, within(30s));
  REQUIRE(done.state == weft::job_state::completed);
  auto tasks = jobs.tasks(job.id);
  REQUIRE(tasks.size() == leaves + 1);
  auto ran = read_executions(executions);
  uint64_t losses = 0;
  size_t ran_twice = 0;
  for (const auto& t : tasks) {
    INFO("task " << t.index << " " << t.identifier.name << " attempts "
                 << t.attempts << " losses " << t.runner_losses);
    CHECK(t.state == weft::task_state::computed);
    CHECK(t.retries_used == 0); // a lost runner spends no retry
    losses += t.runner_losses;
    if (t.identifier.name != "Leaf")
      continue;
    // Each execution logs a line, so the server keeps a record of every
    // attempt it accepted: exactly one succeeded.
    size_t succeeded = 0;
    std::string by;
    for (const auto& a : t.history)
      if (a.succeeded) {
        ++succeeded;
        by = a.runner;
      }
    CHECK(succeeded == 1);
    const auto& list = ran[t.index];
    CHECK(list.size() >= 1);
    ran_twice += list.size() > 1;
    // The accepted attempt is one that really ran on that runner.
    CHECK(std::any_of(list.begin(), list.end(),
                      [&](const execution& e) { return e.runner == by; }));
    if (t.runner_losses > 0)
      CHECK(t.attempts >= 2);
  }
  size_t a_total = executions_by(executions, name_a);
  size_t b_total = executions_by(executions, name_b);
  CHECK(a_total + b_total >= leaves);

  // Fencing: what the cut-off runner finished while it was dropped must not
  // count. The results of those attempts are reported late, if at all, and
  // the orchestrator rejects and counts them.
  bool a_was_running = losses > 0;
  auto rejected = counter_sum(http, rejected_metric);
  if (!rejected && !require_rejected_metric) {
    WARN(rejected_metric << " not exported yet");
  } else {
    REQUIRE(rejected.has_value());
    if (a_was_running) {
      // Late reports may arrive after the job completed.
      CHECK(wait_until(
        [&] { return counter_sum(http, rejected_metric).value_or(0) > 0; },
        within(5s), 50ms));
      auto log = srv.proc->output() + srv.proc->errors();
      CHECK_THAT(log, Catch::Contains("rejected"));
    }
  }

  WARN("partition: server dropped the cut-off runner after "
       << detected_ms << " ms (timeout " << connection_timeout_ms
       << " ms); it rejoined " << rejoined_ms << " ms after the link came back"
       << (running_at_heal ? " (job still running)" : " (job had completed)")
       << "; executions: " << a_total << " on " << name_a << " ("
       << a_during_cut << " while cut off), " << b_total << " on " << name_b
       << " for " << leaves << " leaves; " << ran_twice
       << " leaves ran more than once; " << losses << " attempts lost; "
       << rejected_metric << " = "
       << (rejected ? std::to_string(*rejected) : std::string{"absent"}));
  CHECK(ms_since(began) < 60'000);
}
