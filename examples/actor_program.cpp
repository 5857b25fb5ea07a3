// A workflow composed as an actor program: an event-based CAF actor submits
// a job that counts the words of some texts, prints its progress as the
// updates arrive, and once it completed reads the counts from the job's
// cache and submits a second job built from them, all by messages; no call
// inside the actor blocks. docs/actor-programs.md shows the pieces.

#include <weft/weft.hpp>
#include <weft/workflow_actor.hpp>

#include <caf/all.hpp>

#include <chrono>
#include <cmath>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;

/// Counts the words of one text, a word at a time, and leaves the count in
/// the job cache under "counts/<index>".
struct count_words {
  uint32_t index = 0;
  std::string text;
  static weft::task_identifier identifier() {
    return {"words/Count", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    std::istringstream in{text};
    std::vector<std::string> words;
    for (std::string word; in >> word;)
      words.push_back(word);
    auto progress = ctx.progress("words");
    progress.add(words.size());
    for (size_t i = 0; i < words.size(); ++i) {
      std::this_thread::sleep_for(50ms); // slow enough to watch
      progress.done(1);
    }
    ctx.job_cache().group("counts")[std::to_string(index)]
      = std::to_string(words.size());
  }
};
BOOST_DESCRIBE_STRUCT(count_words, (), (index, text))

/// The first job's root: one count_words per text.
struct count_all {
  std::vector<std::string> texts;
  static weft::task_identifier identifier() {
    return {"words/CountAll", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    for (uint32_t i = 0; i < texts.size(); ++i)
      ctx.submit_subtask(count_words{i, texts[i]});
  }
};
BOOST_DESCRIBE_STRUCT(count_all, (), (texts))

/// The second job's root, made from the first job's results.
struct report {
  std::vector<uint64_t> counts;
  static weft::task_identifier identifier() {
    return {"words/Report", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    uint64_t total = 0;
    for (auto n : counts)
      total += n;
    ctx.set_display(std::to_string(total) + " words in "
                    + std::to_string(counts.size()) + " texts");
    ctx.logger().info("reported", {{"total", total}});
  }
};
BOOST_DESCRIBE_STRUCT(report, (), (counts))

void print(caf::local_actor* self, const weft::progress_update& u) {
  auto out = caf::aout(self);
  out << u.name << ": " << weft::to_string(u.state);
  if (u.percent)
    out << " " << std::lround(*u.percent) << "%";
  for (const auto& p : u.progress)
    out << " " << p.label << " " << p.done << "/" << p.total;
  out << (u.final ? " (final)\n" : "\n");
}

// snippet actor_program
struct chain_state {
  std::set<std::string> finished; // jobs whose final update came
};

/// Counts the words of `texts` in one job, then reports them in a second
/// job built from what the first left in its job cache.
caf::behavior word_chain(caf::stateful_actor<chain_state>* self,
                         weft::workflow_endpoint workflows,
                         std::vector<std::string> texts) {
  // Errors come back as messages: weft's carry a weft::errc code
  // (unknown_job, invalid_input, ...) and say what was wrong.
  auto fail = [self](caf::error& err) {
    auto e = weft::to_weft_error(err);
    caf::aout(self) << "failed (" << weft::to_string(e.code())
                    << "): " << e.what() << "\n";
    self->quit(err);
  };
  // Submits a job, then subscribes this actor to its progress updates.
  auto submit = [self, workflows, fail](weft::submit_request req) {
    self
      ->request(workflows.actor(), caf::infinite, weft::atom::submit_v,
                std::move(req))
      .then(
        [self, workflows, fail](weft::job_info& job) {
          self
            ->request(workflows.actor(), caf::infinite, weft::atom::watch_v,
                      job.id, caf::actor_cast<weft::progress_watcher>(self))
            .then([](bool) {}, fail);
        },
        fail);
  };
  submit(weft::make_submit_request("count words", count_all{texts}));
  return {
    [self, workflows, submit](weft::atom::progress, weft::progress_update& u) {
      if (u.final && !self->state.finished.insert(u.job_id).second)
        return; // a retried job's next end
      print(self, u);
      if (!u.final)
        return;
      if (u.state != weft::job_state::completed) {
        self->quit(weft::make_weft_error(weft::errc::invalid_state,
                                         u.name + " did not complete"));
      } else if (u.name == "count words") {
        // A read of the cluster's cache store, not a request: it does
        // not wait on anything.
        auto counts = workflows.job_cache(u.job_id).group("counts");
        report next;
        for (const auto& key : counts.keys())
          next.counts.push_back(std::stoull(counts.get(key)));
        submit(weft::make_submit_request("report", next));
      } else {
        self->quit(); // the report is done
      }
    },
  };
}
// end snippet

int main() {
  // snippet actor_main
  weft::local_cluster cluster{
    {.runners = {{.slots = 2}}, .orchestrator = {.progress_interval = 200ms}}};
  cluster.register_tasks<count_all, count_words, report>();
  cluster.start();
  auto workflows = cluster.workflows();
  auto program = workflows.system().spawn(
    word_chain, workflows,
    std::vector<std::string>{"the quick brown fox", "jumps over the lazy dog",
                             "and runs away into the woods"});
  // main waits for the program to end (its actors must end before the
  // cluster does); a scoped actor may block, an event-based one never.
  caf::scoped_actor waiter{workflows.system()};
  waiter->monitor(program);
  caf::error reason = caf::sec::request_timeout;
  waiter->receive([&](caf::down_msg& down) { reason = down.reason; },
                  caf::after(60s) >>
                    [&] {
                      caf::anon_send_exit(program, caf::exit_reason::kill);
                    });
  // end snippet
  if (reason) {
    std::cerr << "actor program: " << workflows.system().render(reason) << "\n";
    return 1;
  }
  for (const auto& job : cluster.jobs().query({.name = "report"}))
    for (const auto& task : cluster.jobs().tasks(job.id))
      std::cout << job.name << ": " << task.display << "\n";
  return 0;
}
