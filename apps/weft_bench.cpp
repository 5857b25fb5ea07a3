// weft-bench: measures weft. Each scenario prints a human summary and one
// JSON line. Benchmarks measure; tests never assert timings.

#include <weft/weft.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

/// Splits [begin, end) until leaves; every task is a no-op otherwise.
struct bench_tree {
  uint64_t begin = 0;
  uint64_t end = 0;
  uint32_t fanout = 2;
  void execute(weft::context& ctx) const {
    auto n = end - begin;
    if (n <= 1)
      return;
    auto parts = std::min<uint64_t>(fanout, n);
    for (uint64_t i = 0; i < parts; ++i)
      ctx.submit_subtask(bench_tree{begin + n * i / parts,
                                    begin + n * (i + 1) / parts, fanout});
  }
};
BOOST_DESCRIBE_STRUCT(bench_tree, (), (begin, end, fanout))

struct bench_noop {
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(bench_noop, (), ())

/// Submits `count` no-op leaves directly, or splits when above `threshold`.
struct bench_fanout {
  uint64_t count = 0;
  uint64_t threshold = 64;
  void execute(weft::context& ctx) const {
    if (count <= threshold) {
      for (uint64_t i = 0; i < count; ++i)
        ctx.submit_subtask(bench_noop{});
      return;
    }
    // Recursive decomposition with fan-out 64 above the threshold.
    for (uint64_t i = 0; i < 64; ++i) {
      auto part = count * (i + 1) / 64 - count * i / 64;
      if (part > 0)
        ctx.submit_subtask(bench_fanout{part, threshold});
    }
  }
};
BOOST_DESCRIBE_STRUCT(bench_fanout, (), (count, threshold))

double peak_rss_mb() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

struct options {
  std::string scenario = "fanout";
  uint64_t tasks = 100000;
  uint32_t slots = 2;
  uint64_t threshold = 64;
};

void usage() {
  std::cerr << "usage: weft-bench [--scenario fanout|tree] [--tasks N] "
               "[--slots N] [--threshold N]\n";
}

int run(const options& opt) {
  weft::local_cluster_options lco;
  lco.runners[0].slots = opt.slots;
  weft::local_cluster cluster{lco};
  cluster.register_tasks<bench_tree, bench_noop, bench_fanout>();
  cluster.start();
  auto jobs = cluster.jobs();
  auto start = clock_type::now();
  weft::job_info job;
  if (opt.scenario == "tree")
    job = jobs.submit("bench-tree", bench_tree{0, opt.tasks, 2});
  else
    job = jobs.submit("bench-fanout", bench_fanout{opt.tasks, opt.threshold});
  auto done = jobs.wait(job.id, std::chrono::hours{1});
  auto secs = std::chrono::duration<double>(clock_type::now() - start).count();
  auto total = done.stats.total_tasks;
  auto rate = static_cast<double>(total) / secs;
  std::cout << opt.scenario << ": " << total << " tasks ("
            << weft::to_string(done.state) << ") in " << secs << " s, "
            << static_cast<uint64_t>(rate) << " tasks/s, peak RSS "
            << peak_rss_mb() << " MB\n";
  std::cout << "{\"scenario\":\"" << opt.scenario << "\",\"tasks\":" << total
            << ",\"seconds\":" << secs << ",\"tasks_per_s\":" << rate
            << ",\"peak_rss_mb\":" << peak_rss_mb()
            << ",\"bytes_per_task\":"
            << peak_rss_mb() * 1024 * 1024 / static_cast<double>(total)
            << ",\"slots\":" << opt.slots << "}\n";
  return done.state == weft::job_state::completed ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--scenario")
      opt.scenario = value();
    else if (arg == "--tasks")
      opt.tasks = std::stoull(value());
    else if (arg == "--slots")
      opt.slots = static_cast<uint32_t>(std::stoul(value()));
    else if (arg == "--threshold")
      opt.threshold = std::stoull(value());
    else {
      usage();
      return 2;
    }
  }
  if (opt.scenario != "fanout" && opt.scenario != "tree") {
    std::cerr << "weft-bench: unknown scenario '" << opt.scenario << "'\n";
    usage();
    return 2;
  }
  return run(opt);
}
