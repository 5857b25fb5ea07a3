#include "weft/actors/runner_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <iostream>
#include <map>

namespace weft {

worker_pool::worker_pool(uint32_t threads) : st_(std::make_shared<state>()) {
  for (uint32_t i = 0; i < std::max(threads, 1u); ++i)
    threads_.emplace_back([st = st_] { loop(st); });
}

worker_pool::~worker_pool() {
  shutdown();
}

void worker_pool::post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> guard{st_->mtx};
    if (st_->stopping)
      return;
    st_->jobs.push_back(std::move(job));
  }
  st_->cv.notify_one();
}

void worker_pool::shutdown() {
  stop(true);
}

void worker_pool::abandon() {
  stop(false);
}

void worker_pool::stop(bool join) {
  {
    std::lock_guard<std::mutex> guard{st_->mtx};
    st_->stopping = true;
    st_->jobs.clear();
  }
  st_->cv.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) {
      if (join)
        t.join();
      else
        t.detach();
    }
  threads_.clear();
}

void worker_pool::loop(std::shared_ptr<state> st) {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> guard{st->mtx};
      st->cv.wait(guard, [&] { return st->stopping || !st->jobs.empty(); });
      if (st->stopping)
        return;
      job = std::move(st->jobs.front());
      st->jobs.pop_front();
    }
    job();
  }
}

namespace {

void print_logs(const std::string& task_id, const core::attempt_outcome& out) {
  for (const auto& line : out.logs)
    std::cerr << format_time(line.time) << ' ' << line.level << " [" << task_id
              << "] " << line.message
              << (line.fields == "{}" ? std::string{} : " " + line.fields)
              << '\n';
  if (!out.succeeded)
    std::cerr << "ERROR [" << task_id << "] " << out.error << '\n';
}

struct runner_data {
  std::shared_ptr<runner_shared> shared;
  cluster_actor cluster;
  uint32_t slots = 1;
  uint32_t busy = 0; // dispatched here and not yet finished
  bool stopping = false;
  bool left = false; // the cluster confirmed it sends nothing more
  // Gathered since the last flush: results per job, already cut into
  // messages of about result_batch_bytes, and freed slots.
  struct job_results {
    job_actor job;
    std::vector<std::vector<task_result>> batches;
    size_t last_bytes = 0; // of the last batch
  };
  std::map<caf::actor_addr, job_results> results;
  uint32_t credit = 0;
  bool flush_scheduled = false;
  // Prefetch: attempts granted beyond the slots, as many as the runner
  // expects to finish in `refill_ns` at its mean attempt duration.
  uint32_t prefetch_max = 0;
  uint32_t prefetch = 0;
  double mean_ns = 0;
  static constexpr double refill_ns = 2e6;
  bool report_scheduled = false;
  static inline const char* name = "weft.runner";
};

using runner_pointer = runner_actor::stateful_pointer<runner_data>;

/// Results and credit go out in one message per job and one per cluster
/// for everything that arrived before the flush message: under load the
/// batches grow by themselves, idle the delay is one mailbox round.
void schedule_flush(runner_pointer self) {
  auto& st = self->state;
  if (st.flush_scheduled)
    return;
  st.flush_scheduled = true;
  self->send(self, atom::flush_v);
}

void release(runner_pointer self, uint32_t n) {
  auto& st = self->state;
  st.busy -= std::min(st.busy, n);
  st.credit += n;
  if (st.mean_ns > 0) {
    auto want
      = std::min<double>(st.prefetch_max, st.slots * st.refill_ns / st.mean_ns);
    auto target = static_cast<uint32_t>(want);
    if (target > st.prefetch) {
      st.credit += target - st.prefetch;
      st.prefetch = target;
    } else if (target < st.prefetch) {
      auto withheld = std::min(st.credit, st.prefetch - target);
      st.credit -= withheld;
      st.prefetch -= withheld;
    }
  }
  schedule_flush(self);
}

/// Roughly what an attempt's results take on the wire.
size_t wire_bytes(const core::attempt_outcome& out) {
  size_t n = 128 + out.error.size() + out.display.size() + out.runner.size();
  for (const auto& s : out.subtasks)
    n += 64 + s.identifier.name.size() + s.input.size() + s.cluster.size()
         + 4 * s.depends_on.size();
  for (const auto& p : out.progress)
    n += 32 + p.label.size();
  for (const auto& l : out.logs)
    n += 32 + l.level.size() + l.message.size() + l.fields.size();
  for (const auto& sp : out.spans)
    n += 32 + sp.name.size() + sp.attributes.size();
  return n;
}

/// Results go out in messages of about this much, far below the smallest
/// max_message_bytes a server accepts (wire_limits).
constexpr size_t result_batch_bytes = 4u << 20;
/// One attempt's results may not take more than this on the wire.
constexpr size_t max_result_bytes = 32u << 20;

void flush(runner_pointer self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  for (auto& [addr, entry] : st.results)
    for (auto& batch : entry.batches)
      self->send(entry.job, atom::done_v, std::move(batch));
  st.results.clear();
  if (!st.stopping && st.credit > 0)
    self->send(st.cluster, atom::credit_v, caf::actor_cast<runner_actor>(self),
               st.credit);
  st.credit = 0;
  if (st.stopping && st.left && st.busy == 0)
    self->quit();
}

/// Registers an attempt's indicators for sampling once it creates one, and
/// removes them when the attempt is over.
class live_registration : public progress_observer {
public:
  live_registration(runner_shared& shared, job_actor job, uint32_t task,
                    uint32_t attempt)
      : shared_(shared), job_(std::move(job)), task_(task), attempt_(attempt) {
  }
  void watch(std::shared_ptr<const progress_board> board) override {
    board_ = board.get();
    std::lock_guard<std::mutex> guard{shared_.live_mtx};
    shared_.live.push_back({job_, task_, attempt_, std::move(board), 0});
  }
  ~live_registration() override {
    if (board_ == nullptr)
      return;
    std::lock_guard<std::mutex> guard{shared_.live_mtx};
    auto& live = shared_.live;
    for (size_t i = 0; i < live.size(); ++i)
      if (live[i].board.get() == board_) {
        live[i] = std::move(live.back());
        live.pop_back();
        break;
      }
  }

private:
  runner_shared& shared_;
  job_actor job_;
  uint32_t task_;
  uint32_t attempt_;
  const progress_board* board_ = nullptr;
};

/// While attempts are out, a timer samples the indicators of those that
/// have some.
void schedule_report(runner_pointer self) {
  auto& st = self->state;
  if (st.report_scheduled || st.busy == 0)
    return;
  st.report_scheduled = true;
  self->delayed_send(self, st.shared->progress_interval, atom::tick_v);
}

/// Sends each job the indicators of its running attempts that changed.
void report_progress(runner_pointer self) {
  auto& st = self->state;
  st.report_scheduled = false;
  std::map<caf::actor_addr, std::pair<job_actor, std::vector<attempt_progress>>>
    reports;
  {
    std::lock_guard<std::mutex> guard{st.shared->live_mtx};
    for (auto& a : st.shared->live)
      if (auto list = a.board->sample(a.seen)) {
        auto& entry = reports[a.job.address()];
        entry.first = a.job;
        entry.second.push_back(
          attempt_progress{a.task, a.attempt, std::move(*list)});
      }
  }
  for (auto& [addr, entry] : reports)
    self->send(entry.first, atom::progress_v, std::move(entry.second));
  schedule_report(self);
}

/// Asks each job of a dispatch batch once to start its attempts, then runs
/// those it allows on the worker threads. Attempts beyond the free slots
/// (prefetched) wait in the pool's queue and count as RUNNING at their job
/// from here on.
void run_batch(runner_pointer self, std::vector<dispatch_spec>& batch) {
  auto& st = self->state;
  std::map<caf::actor_addr, std::vector<dispatch_spec>> by_job;
  for (auto& spec : batch) {
    ++st.busy;
    by_job[caf::actor_cast<caf::actor_addr>(spec.job)].push_back(
      std::move(spec));
  }
  for (auto& [addr, specs] : by_job) {
    std::vector<attempt_id> ids;
    ids.reserve(specs.size());
    for (const auto& s : specs)
      ids.push_back(attempt_id{s.task, s.attempt, s.seq});
    auto job = specs.front().job;
    auto n = static_cast<uint32_t>(specs.size());
    auto pending
      = std::make_shared<std::vector<dispatch_spec>>(std::move(specs));
    self
      ->request(job, caf::infinite, atom::start_v, std::move(ids),
                st.shared->name)
      .then(
        [self, pending](const std::vector<uint64_t>& allowed) {
          auto& st = self->state;
          auto me = caf::actor_cast<runner_actor>(self);
          uint32_t refused = 0;
          for (auto& spec : *pending) {
            if (std::find(allowed.begin(), allowed.end(), spec.seq)
                == allowed.end()) {
              ++refused;
              continue;
            }
            attempt_request req;
            req.job_id = spec.job_id;
            req.task = spec.task;
            req.attempt = spec.attempt;
            req.identifier = std::move(spec.identifier);
            req.input = std::move(spec.input);
            st.shared->pool.post(
              [me, job = spec.job, shared = st.shared, req = std::move(req)] {
                core::attempt_outcome out;
                {
                  live_registration live{*shared, job, req.task, req.attempt};
                  out = execute_attempt(*shared->registry, req, shared->cache,
                                        shared->limits, shared->name, &live);
                }
                if (shared->print_logs)
                  print_logs(req.job_id + "/" + std::to_string(req.task), out);
                caf::anon_send(me, atom::done_v, job,
                               task_result{req.task, req.attempt,
                                           std::move(out)});
              });
          }
          if (refused > 0)
            release(self, refused);
          schedule_report(self);
        },
        [self, n](caf::error&) { release(self, n); });
  }
}

/// An attempt finished on a worker thread: its result waits for the next
/// flush, its slot is free.
void attempt_done(runner_pointer self, job_actor& job, task_result& result) {
  auto& st = self->state;
  auto d = std::max<double>(1.0, static_cast<double>(result.outcome.stopped
                                                     - result.outcome.started));
  st.mean_ns = st.mean_ns == 0 ? d : 0.8 * st.mean_ns + 0.2 * d;
  auto n = wire_bytes(result.outcome);
  if (n > max_result_bytes) {
    // It could not reach the orchestrator in one message: the attempt fails
    // with the reason instead of its connection.
    auto& out = result.outcome;
    core::attempt_outcome failed;
    failed.error = "the attempt's results take " + std::to_string(n)
                   + " bytes, more than the " + std::to_string(max_result_bytes)
                   + " one attempt may send: submit fewer or smaller "
                     "subtasks, or log less";
    failed.started = out.started;
    failed.stopped = out.stopped;
    failed.runner = std::move(out.runner);
    out = std::move(failed);
    n = wire_bytes(out);
  }
  auto& entry = st.results[job.address()];
  entry.job = std::move(job);
  if (entry.batches.empty() || entry.last_bytes + n > result_batch_bytes) {
    entry.batches.emplace_back();
    entry.last_bytes = 0;
  }
  entry.last_bytes += n;
  entry.batches.back().push_back(std::move(result));
  release(self, 1);
}

/// Joins the cluster, then offers it the slots; without its cluster (the
/// orchestrator's node is gone) a runner has nothing to do, and whoever
/// started it may connect again.
void join_cluster(runner_pointer self) {
  auto& st = self->state;
  runner_registration reg;
  reg.name = st.shared->name;
  reg.slots = st.slots;
  reg.identifiers = st.shared->registry->identifiers();
  auto me = caf::actor_cast<runner_actor>(self);
  self->monitor(st.cluster);
  self->set_down_handler([self](caf::down_msg& msg) {
    if (msg.source == self->state.cluster.address())
      self->quit(msg.reason
                   ? msg.reason
                   : caf::error{caf::exit_reason::remote_link_unreachable});
  });
  self->request(st.cluster, caf::infinite, atom::join_v, me, std::move(reg))
    .then(
      [self, me](bool) {
        self->send(self->state.cluster, atom::credit_v, me, self->state.slots);
      },
      [self](caf::error& err) { self->quit(err); });
}

/// Leaves the cluster first: batches it sent before its reply still arrive
/// and run; then quits once they are done and reported.
void leave_cluster(runner_pointer self) {
  auto& st = self->state;
  if (st.stopping)
    return;
  st.stopping = true;
  auto left = [self] {
    self->state.left = true;
    schedule_flush(self); // quits once the last results are out
  };
  self
    ->request(st.cluster, caf::infinite, atom::stop_v,
              caf::actor_cast<runner_actor>(self))
    .then([left](bool) { left(); }, [left](caf::error&) { left(); });
}

runner_actor::behavior_type runner_fn(runner_pointer self,
                                      cluster_actor cluster,
                                      std::shared_ptr<runner_shared> shared,
                                      uint32_t slots, uint32_t prefetch) {
  auto& st = self->state;
  st.shared = std::move(shared);
  st.cluster = std::move(cluster);
  st.slots = slots;
  st.prefetch_max = prefetch;
  join_cluster(self);
  return {
    [self](atom::run, std::vector<dispatch_spec>& batch) {
      run_batch(self, batch);
    },
    [self](atom::done, job_actor& job, task_result& result) {
      attempt_done(self, job, result);
    },
    [self](atom::flush) { flush(self); },
    [self](atom::tick) {
      if (self->current_sender().get() == self->ctrl())
        report_progress(self);
    },
    [self](atom::idle) -> caf::result<bool> {
      return self->delegate(self->state.cluster, atom::idle_v,
                            caf::actor_cast<runner_actor>(self));
    },
    [self](atom::stop) { leave_cluster(self); },
  };
}

} // namespace

runner_actor spawn_runner(caf::actor_system& sys, cluster_actor cluster,
                          std::shared_ptr<runner_shared> shared, uint32_t slots,
                          uint32_t prefetch) {
  return sys.spawn(runner_fn, std::move(cluster), std::move(shared), slots,
                   prefetch);
}

} // namespace weft
