// A cluster's dispatch rules as plain data: FIFO per identifier, oldest head
// first, version matching, credit, round robin, what is in flight, what a
// lost runner hands back and what a job that is gone leaves behind; credit
// of two kinds (plain and actor tasks).

#include <weft/core/dispatch_queue.hpp>

#include <catch2/catch.hpp>

namespace {

struct item {
  weft::task_identifier identifier;
  std::string job_id;
  uint32_t task = 0;
  uint64_t seq = 0;
  uint32_t ticket() const {
    return task;
  }
};

using queue = weft::core::dispatch_queue<item, int, uint32_t>;

std::vector<item> items(std::vector<std::pair<std::string, uint32_t>> xs,
                        const std::string& job = "j") {
  std::vector<item> out;
  for (auto& [version, task] : xs)
    out.push_back({{"t", version}, job, task, 0});
  return out;
}

std::vector<uint32_t> tasks_of(const std::vector<item>& xs) {
  std::vector<uint32_t> out;
  for (const auto& x : xs)
    out.push_back(x.task);
  return out;
}

} // namespace

TEST_CASE("dispatch queue: a runner takes the oldest compatible head first, "
          "within its credit") {
  queue q;
  q.add_runner(1, {{"t", "v1.2"}});
  auto a = items({{"v1.0", 1}, {"v1.3", 2}, {"v1.1", 3}, {"v2.0", 4}});
  q.enqueue(a);
  q.add_credit(1, 2);
  auto out = q.dispatch();
  REQUIRE(out.size() == 1);
  CHECK(out[0].first == 1);
  // v1.3 needs a newer minor, v2.0 another major: 1 and 3, in arrival order.
  CHECK(tasks_of(out[0].second) == std::vector<uint32_t>{1, 3});
  CHECK(q.dispatched() == 2);
  CHECK(q.queued() == 2);
  q.add_credit(1, 5);
  CHECK(q.dispatch().empty());
  auto unserved = q.unserved();
  CHECK(unserved.size() == 2);
}

TEST_CASE("dispatch queue: arrival order holds across identifiers") {
  queue q;
  q.add_runner(1, {{"a", "v1.0"}, {"b", "v1.0"}});
  std::vector<item> xs{{{"b", "v1.0"}, "j", 1, 0},
                       {{"a", "v1.0"}, "j", 2, 0},
                       {{"b", "v1.0"}, "j", 3, 0},
                       {{"a", "v1.0"}, "j", 4, 0}};
  q.enqueue(xs);
  q.add_credit(1, 10);
  auto out = q.dispatch();
  REQUIRE(out.size() == 1);
  CHECK(tasks_of(out[0].second) == std::vector<uint32_t>{1, 2, 3, 4});
}

TEST_CASE("dispatch queue: runners are served round robin, one batch each") {
  queue q;
  q.add_runner(1, {{"t", "v1.0"}});
  q.add_runner(2, {{"t", "v1.0"}});
  q.add_credit(1, 1);
  q.add_credit(2, 1);
  auto a = items({{"v1.0", 1}, {"v1.0", 2}, {"v1.0", 3}, {"v1.0", 4}});
  q.enqueue(a);
  auto first = q.dispatch();
  REQUIRE(first.size() == 2);
  CHECK(first[0].first == 1);
  CHECK(first[1].first == 2);
  // The next round starts one runner further.
  q.add_credit(1, 1);
  q.add_credit(2, 1);
  auto second = q.dispatch();
  REQUIRE(second.size() == 2);
  CHECK(second[0].first == 2);
  CHECK(second[0].second[0].task == 3);
}

TEST_CASE("dispatch queue: runners with credit share the queue, one item "
          "each per round") {
  // The first runner's large lease window does not take everything.
  queue q;
  q.add_runner(1, {{"t", "v1.0"}});
  q.add_runner(2, {{"t", "v1.0"}});
  q.add_credit(1, 100);
  q.add_credit(2, 3);
  auto a = items({{"v1.0", 1},
                  {"v1.0", 2},
                  {"v1.0", 3},
                  {"v1.0", 4},
                  {"v1.0", 5},
                  {"v1.0", 6},
                  {"v1.0", 7},
                  {"v1.0", 8}});
  q.enqueue(a);
  auto out = q.dispatch();
  REQUIRE(out.size() == 2);
  CHECK(out[0].first == 1);
  CHECK(tasks_of(out[0].second) == std::vector<uint32_t>{1, 3, 5, 7, 8});
  CHECK(out[1].first == 2);
  CHECK(tasks_of(out[1].second) == std::vector<uint32_t>{2, 4, 6});
}

TEST_CASE("dispatch queue: a lost runner hands back what is in flight, a "
          "settled dispatch is not handed back") {
  queue q;
  q.add_runner(1, {{"t", "v1.0"}});
  auto a = items({{"v1.0", 1}, {"v1.0", 2}, {"v1.0", 3}});
  q.enqueue(a);
  q.add_credit(1, 3);
  auto out = q.dispatch();
  REQUIRE(out.size() == 1);
  auto seqs = out[0].second;
  q.settle({seqs[0].seq});
  CHECK_FALSE(q.idle_for(1));
  auto lost = q.remove_runner(1);
  REQUIRE(lost.size() == 2);
  CHECK(lost[0].second == 2);
  CHECK(lost[1].second == 3);
  // They stay in flight until their job requeues and settles them.
  CHECK(q.dispatched() == 2);
  q.settle({lost[0].first, lost[1].first});
  CHECK(q.idle_for(1));
}

TEST_CASE("dispatch queue: withdrawing a job drops only its queued items") {
  queue q;
  auto a = items({{"v1.0", 1}, {"v1.0", 2}}, "a");
  auto b = items({{"v1.0", 3}}, "b");
  q.enqueue(a);
  q.enqueue(b);
  q.withdraw("a");
  CHECK(q.queued() == 1);
  q.add_runner(7, {{"t", "v1.0"}});
  q.add_credit(7, 5);
  auto out = q.dispatch();
  REQUIRE(out.size() == 1);
  CHECK(tasks_of(out[0].second) == std::vector<uint32_t>{3});
}

TEST_CASE("dispatch queue: a job that is gone leaves neither queued items "
          "nor dispatches in flight, and others keep theirs") {
  queue q;
  q.add_runner(1, {{"t", "v1.0"}});
  auto a = items({{"v1.0", 1}, {"v1.0", 2}, {"v1.0", 3}}, "a");
  auto b = items({{"v1.0", 4}, {"v1.0", 5}}, "b");
  q.enqueue(a);
  q.enqueue(b);
  q.add_credit(1, 3);
  auto out = q.dispatch();
  REQUIRE(out.size() == 1);
  REQUIRE(tasks_of(out[0].second) == std::vector<uint32_t>{1, 2, 3});
  q.add_credit(1, 1);
  REQUIRE(tasks_of(q.dispatch().at(0).second) == std::vector<uint32_t>{4});
  CHECK(q.queued() == 1);
  CHECK(q.dispatched() == 4);
  CHECK_FALSE(q.idle_for(1));

  // a had three in flight: they go, b's dispatch and queued item stay.
  CHECK(q.forget_job("a") == 3);
  CHECK(q.dispatched() == 1);
  CHECK(q.queued() == 1);
  CHECK(q.forget_job("a") == 0);
  // Its runner lost now hands back only b's dispatch.
  auto lost = q.remove_runner(1);
  REQUIRE(lost.size() == 1);
  CHECK(lost[0].second == 4);
  q.settle({lost[0].first});
  q.add_runner(2, {{"t", "v1.0"}});
  CHECK_FALSE(q.idle_for(2)); // b's item 5 still waits for runner 2

  // b goes too, with its queued item: nothing is left to wait for.
  CHECK(q.forget_job("b") == 0);
  CHECK(q.queued() == 0);
  CHECK(q.idle_for(2));
}

TEST_CASE("dispatch queue: forgetting a job takes its queued items, not "
          "credit") {
  queue q;
  q.add_runner(1, {{"t", "v1.0"}});
  auto a = items({{"v1.0", 1}, {"v1.0", 2}}, "a");
  q.enqueue(a);
  CHECK(q.forget_job("a") == 0);
  CHECK(q.queued() == 0);
  // The runner's credit was never spent on them: two later items both go.
  q.add_credit(1, 2);
  auto b = items({{"v1.0", 3}, {"v1.0", 4}}, "b");
  q.enqueue(b);
  auto out = q.dispatch();
  REQUIRE(out.size() == 1);
  CHECK(tasks_of(out[0].second) == std::vector<uint32_t>{3, 4});
}

TEST_CASE("dispatch queue: an unparsable version waits, unserved") {
  queue q;
  q.add_runner(1, {{"t", "v1.0"}});
  auto a = items({{"1.0", 1}});
  q.enqueue(a);
  q.add_credit(1, 1);
  CHECK(q.dispatch().empty());
  CHECK(q.unserved().size() == 1);
  CHECK(q.idle_for(1));
}

TEST_CASE("dispatch queue: a runner's actor tasks take its actor credit, its "
          "plain tasks its plain credit") {
  queue q;
  q.add_runner(1, {{"a", "v1.0"}, {"b", "v1.0"}}, {{"b", "v1.0"}});
  std::vector<item> xs{{{"a", "v1.0"}, "j", 1, 0},
                       {{"a", "v1.0"}, "j", 2, 0},
                       {{"b", "v1.0"}, "j", 3, 0},
                       {{"b", "v1.0"}, "j", 4, 0},
                       {{"b", "v1.0"}, "j", 5, 0}};
  q.enqueue(xs);
  q.add_credit(1, 1, 2);
  auto out = q.dispatch();
  REQUIRE(out.size() == 1);
  // The second "a" waits for plain credit; the "b"s behind it go.
  CHECK(tasks_of(out[0].second) == std::vector<uint32_t>{1, 3, 4});
  q.add_credit(1, 0, 5);
  out = q.dispatch();
  REQUIRE(out.size() == 1);
  CHECK(tasks_of(out[0].second) == std::vector<uint32_t>{5});
  q.add_credit(1, 1, 0);
  out = q.dispatch();
  REQUIRE(out.size() == 1);
  CHECK(tasks_of(out[0].second) == std::vector<uint32_t>{2});
  CHECK(q.queued() == 0);
}

TEST_CASE("dispatch queue: an item's kind is that of the version the runner "
          "would run") {
  queue q;
  // t v1.0 runs as v1.1 here (the highest compatible minor): an actor task.
  q.add_runner(1, {{"t", "v1.0"}, {"t", "v1.1"}}, {{"t", "v1.1"}});
  auto a = items({{"v1.0", 1}});
  q.enqueue(a);
  q.add_credit(1, 10, 0);
  CHECK(q.dispatch().empty());
  CHECK(!q.idle_for(1)); // it waits for this runner, for actor credit
  q.add_credit(1, 0, 1);
  auto out = q.dispatch();
  REQUIRE(out.size() == 1);
  CHECK(tasks_of(out[0].second) == std::vector<uint32_t>{1});
}
