// A flaky task retried by the orchestrator: it fails at random, up to five
// retries are allowed, and any runner slot may pick up the next attempt.

#include <weft/weft.hpp>

#include <iostream>
#include <random>

struct flaky_task {
  double failure_rate = 0.5;
  void execute(weft::context& ctx) const {
    static thread_local std::mt19937 rng{std::random_device{}()};
    std::bernoulli_distribution fails{failure_rate};
    ctx.logger().info("flaky task running",
                      {{"attempt", ctx.current_task().attempt}});
    if (fails(rng))
      throw std::runtime_error("the external service is unavailable");
  }
};
BOOST_DESCRIBE_STRUCT(flaky_task, (), (failure_rate))

struct root_task {
  void execute(weft::context& ctx) const {
    ctx.submit_subtask(flaky_task{0.5}, {.max_retries = 5});
  }
};
BOOST_DESCRIBE_STRUCT(root_task, (), ())

int main() {
  weft::local_cluster_options opts;
  opts.runners[0].print_logs = true;
  weft::local_cluster cluster{opts};
  cluster.register_tasks<root_task, flaky_task>();
  cluster.start();
  auto job = cluster.jobs().submit("flaky", root_task{});
  auto done = cluster.jobs().wait(job.id);
  for (const auto& t : cluster.jobs().tasks(job.id))
    std::cout << t.display << ": " << weft::to_string(t.state) << " after "
              << t.attempts << " attempt(s), " << t.retries_used
              << " retries used\n";
  std::cout << "job " << done.id << ": " << weft::to_string(done.state) << "\n";
  // With 5 retries at 50 % the job fails about 1.6 % of the time; both
  // outcomes are shown, neither is an error of the example.
  return 0;
}
