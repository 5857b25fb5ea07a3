// A process for the crash test: an orchestrator with a journal and a
// runner. `submit` submits a job of 2,047 tasks (once; its id goes to
// ID_FILE after the submission is acknowledged); every run then serves
// until that job is finished and prints a summary line.
//
//   weft-crash-worker DATA_DIR ID_FILE [submit]

#include <weft/weft.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

struct crash_tree {
  uint32_t begin = 0;
  uint32_t end = 0;
  void execute(weft::context& ctx) const {
    if (end - begin <= 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
      ctx.progress("leaves").done(1);
      return;
    }
    auto mid = begin + (end - begin) / 2;
    ctx.submit_subtask(crash_tree{begin, mid});
    ctx.submit_subtask(crash_tree{mid, end});
  }
};
BOOST_DESCRIBE_STRUCT(crash_tree, (), (begin, end))

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: weft-crash-worker DATA_DIR ID_FILE [submit]\n";
    return 2;
  }
  try {
    weft::local_cluster_options opts;
    opts.orchestrator.data_dir = argv[1];
    opts.runners[0].slots = 2;
    weft::local_cluster cluster{opts};
    cluster.register_tasks<crash_tree>();
    cluster.start();
    auto jobs = cluster.jobs();
    std::string id;
    if (argc > 3 && std::string{argv[3]} == "submit") {
      id = jobs.submit("crash", crash_tree{0, 1024}).id;
      std::ofstream{argv[2]} << id; // acknowledged: it must survive
    } else {
      std::ifstream{argv[2]} >> id;
    }
    auto done = jobs.wait(id, std::chrono::minutes{5});
    std::string attempts = "compacted"; // finished in an earlier run
    try {
      uint64_t n = 0;
      for (const auto& t : jobs.tasks(id))
        n += t.attempts;
      attempts = std::to_string(n);
    } catch (const weft::error& e) {
      if (e.code() != weft::errc::invalid_state)
        throw;
    }
    std::cout << "job " << id << " " << weft::to_string(done.state) << " tasks "
              << done.stats.total_tasks << " computed "
              << done.stats.count(weft::task_state::computed) << " attempts "
              << attempts << std::endl;
    return done.state == weft::job_state::completed ? 0 : 1;
  } catch (const weft::error& e) {
    std::cerr << "weft-crash-worker: " << e.what() << "\n";
    return 3;
  }
}
