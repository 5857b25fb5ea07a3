#include "weft/actors/runner_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <unordered_map>

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

void print_attempt_logs(const std::string& task_id,
                        const core::attempt_outcome& out) {
  for (const auto& line : out.logs)
    std::cerr << format_time(line.time) << ' ' << line.level << " [" << task_id
              << "] " << line.message
              << (line.fields == "{}" ? std::string{} : " " + line.fields)
              << '\n';
  if (!out.succeeded)
    std::cerr << "ERROR [" << task_id << "] " << out.error << '\n';
}

void live_registration::watch(std::shared_ptr<const progress_board> board) {
  board_ = board.get();
  std::lock_guard<std::mutex> guard{shared_.live_mtx};
  shared_.live.push_back({job_, id_, std::move(board), 0});
}

void live_registration::end() {
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
  board_ = nullptr;
}

namespace {

struct runner_data {
  std::shared_ptr<runner_shared> shared;
  cluster_actor cluster;
  job_service_actor service;
  uint64_t epoch = 0; // this actor's connection, among the runner's
  uint32_t slots = 1;
  uint32_t busy = 0; // leased here (waiting or running), not yet finished
  // Actor tasks: at most `actor_slots` task actors run at once (of every
  // connection); leases beyond wait here, in arrival order, at most
  // `actor_window` of them. `actor_busy` counts this connection's (waiting
  // or running), `actor_running` its running ones by (job, lease), which
  // tells an actor attempt's result from a thread's, with whether its
  // start was reported.
  bool has_actor_tasks = false;
  uint32_t actor_slots = 0;
  uint32_t actor_window = 0;
  uint32_t actor_busy = 0;
  uint32_t actor_credit = 0; // freed since the last flush
  std::deque<runner_shared::lease> actor_leases;
  using lease_key = runner_shared::lease_key;
  using lease_hash = runner_shared::lease_hash;
  struct running_actor {
    job_actor job;
    attempt_id id;
    bool reported = false;
  };
  std::unordered_map<lease_key, running_actor, lease_hash> actor_running;
  // Those whose start is not reported yet (some may have ended since), and
  // the starts of those that ended first, by job.
  std::vector<lease_key> unreported;
  std::map<caf::actor_addr, std::pair<job_actor, std::vector<attempt_id>>>
    ended_starts;
  int64_t supervise_at = 0; // steady ns: the next look at `unreported`
  bool supervise_timer = false;
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
  // Results of attempts started under an earlier connection, by job id:
  // they go through the job service.
  std::map<std::string, std::vector<task_result>> late;
  uint32_t credit = 0;
  bool flush_scheduled = false;
  bool start_timer = false; // a flush in a millisecond sends waiting starts
  // The lease window: attempts held beyond the slots, as many as the
  // runner expects to finish while a refill travels (`refill_ns` plus two
  // round trips to its cluster) at its mean attempt duration.
  uint32_t max_leases = 0;
  uint32_t window = 0;
  double mean_ns = 0;
  double rtt_ns = 0; // to the cluster, measured when joining
  static constexpr double refill_ns = 2e6;
  // Leases held beyond the window go back only past what the slots would
  // start within this long.
  static constexpr double hold_ns = 100e6;
  bool report_scheduled = false;
  static inline const char* name = "weft.runner";
};

using runner_pointer = runner_actor::stateful_pointer<runner_data>;

/// Starts, results and credit go out in one message per job and one per
/// cluster for everything that arrived before the flush message: under
/// load the batches grow by themselves, idle the delay is one mailbox
/// round.
void flush(runner_pointer self);

void schedule_flush(runner_pointer self) {
  auto& st = self->state;
  if (st.flush_scheduled)
    return;
  if (self->mailbox().empty()) {
    flush(self); // nothing else to gather: out at once
    return;
  }
  st.flush_scheduled = true;
  self->send(self, atom::flush_v);
}

void hand_back(runner_pointer self, std::vector<runner_shared::lease> taken);

/// `n` leases are over (finished or revoked): their credit goes back, and
/// the window follows the mean attempt duration. A window that shrinks
/// below what is held (a fast task submitted slow ones) hands the newest
/// leases back to their jobs, for runners with free slots to take.
void release(runner_pointer self, uint32_t n) {
  auto& st = self->state;
  st.busy -= std::min(st.busy, n);
  st.credit += n;
  if (st.mean_ns > 0) {
    auto want = std::min<double>(st.max_leases,
                                 st.slots * (st.refill_ns + 2 * st.rtt_ns)
                                   / st.mean_ns);
    auto target = static_cast<uint32_t>(want);
    if (target > st.window) {
      st.credit += target - st.window;
      st.window = target;
    } else if (target < st.window) {
      auto excess = st.window - target;
      auto withheld = std::min(st.credit, excess);
      st.credit -= withheld;
      st.window -= withheld;
      excess -= withheld;
      if (excess > 0 && !st.stopping) {
        // Only leases this runner would not start within `hold_ns` go
        // back (a slow attempt among short ones moves the mean for a
        // moment, not the work it holds), and never what the free slots
        // take at once.
        std::vector<runner_shared::lease> taken;
        {
          std::lock_guard<std::mutex> guard{st.shared->lease_mtx};
          auto& leases = st.shared->leases;
          size_t mine = 0;
          for (const auto& l : leases)
            mine += l.epoch == st.epoch;
          auto running = st.busy > mine ? st.busy - mine : 0;
          auto free = st.slots > running ? st.slots - running : 0;
          auto drained = static_cast<size_t>(
            st.slots * (runner_data::hold_ns + 2 * st.rtt_ns) / st.mean_ns);
          auto keep
            = std::max<size_t>(static_cast<size_t>(target) + free, drained);
          auto give = mine > keep ? std::min<size_t>(mine - keep, excess) : 0;
          for (auto i = leases.end(); give > 0 && i != leases.begin();) {
            --i;
            if (i->epoch != st.epoch)
              continue;
            taken.push_back(std::move(*i));
            i = leases.erase(i);
            --give;
          }
        }
        st.window -= static_cast<uint32_t>(taken.size());
        hand_back(self, std::move(taken));
      }
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

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

/// The starts of actor attempts that began and still run go out with their
/// task actors, for their jobs to monitor and tell of a cancel; at most once
/// a millisecond, so that an attempt that ends sooner (most that do not
/// wait) has its start go as a plain one, with its result (attempt_done):
/// there is nothing left to supervise by then. One whose actor has not
/// begun yet (it waits for a scheduler thread) waits too: it is not
/// running.
template <class Supervised>
void supervise_actor_starts(runner_pointer self, Supervised& supervised) {
  auto& st = self->state;
  auto now = steady_ns();
  if (now >= st.supervise_at) {
    st.supervise_at = now + 1'000'000;
    st.supervise_timer = false;
    size_t kept = 0;
    std::lock_guard<std::mutex> guard{st.shared->actors_mtx};
    const auto& begun = st.shared->task_actors;
    for (const auto& key : st.unreported) {
      auto i = st.actor_running.find(key);
      if (i == st.actor_running.end() || i->second.reported)
        continue; // ended, its start went with its result
      auto& a = i->second;
      auto b = begun.find(key);
      if (b == begun.end()) {
        st.unreported[kept++] = key;
        continue;
      }
      a.reported = true;
      auto& entry = supervised[a.job.address()];
      if (!entry.first)
        entry.first = a.job;
      entry.second.push_back(actor_attempt{a.id, b->second});
    }
    st.unreported.resize(kept);
  }
  if (!st.unreported.empty() && !st.supervise_timer) {
    st.supervise_timer = true;
    self->delayed_send(self, std::chrono::nanoseconds{st.supervise_at - now},
                       atom::flush_v);
  }
}

void flush(runner_pointer self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  st.start_timer = false;
  // Starts first: a job hears of an attempt's start before its result.
  std::vector<runner_shared::started_attempt> starts;
  {
    std::lock_guard<std::mutex> guard{st.shared->lease_mtx};
    starts.swap(st.shared->started);
  }
  using by_job_map
    = std::map<caf::actor_addr, std::pair<job_actor, std::vector<attempt_id>>>;
  by_job_map by_job;
  for (auto& s : starts) {
    if (s.epoch != st.epoch)
      continue; // its connection is gone, and the lease with it
    auto& entry = by_job[s.job.address()];
    if (!entry.first)
      entry.first = std::move(s.job);
    entry.second.push_back(s.id);
  }
  for (auto& [addr, ended] : st.ended_starts) {
    auto& entry = by_job[addr];
    if (!entry.first)
      entry.first = std::move(ended.first);
    entry.second.insert(entry.second.end(), ended.second.begin(),
                        ended.second.end());
  }
  st.ended_starts.clear();
  std::map<caf::actor_addr, std::pair<job_actor, std::vector<actor_attempt>>>
    supervised;
  if (!st.unreported.empty())
    supervise_actor_starts(self, supervised);
  for (auto& [addr, entry] : by_job)
    self->send(entry.first, atom::start_v, std::move(entry.second),
               st.shared->name);
  for (auto& [addr, entry] : supervised)
    self->send(entry.first, atom::start_v, std::move(entry.second),
               st.shared->name);
  for (auto& [addr, entry] : st.results)
    for (auto& batch : entry.batches)
      self->send(entry.job, atom::done_v, std::move(batch));
  st.results.clear();
  for (auto& [job_id, results] : st.late)
    if (st.service)
      self->send(st.service, atom::done_v, job_id, std::move(results),
                 st.shared->name);
  st.late.clear();
  if (!st.stopping && (st.credit > 0 || st.actor_credit > 0))
    self->send(st.cluster, atom::credit_v, caf::actor_cast<runner_actor>(self),
               st.credit, st.actor_credit);
  st.credit = 0;
  st.actor_credit = 0;
  if (st.stopping && st.left && st.busy == 0 && st.actor_busy == 0)
    self->quit();
}

/// A worker thread is free: it takes the oldest lease (if a revocation did
/// not take it first), notes the start for the next flush and executes it.
void run_next_lease(const std::shared_ptr<runner_shared>& shared) {
  runner_shared::lease lease;
  runner_actor tell;
  {
    std::lock_guard<std::mutex> guard{shared->lease_mtx};
    if (shared->leases.empty())
      return;
    lease = std::move(shared->leases.front());
    shared->leases.pop_front();
    const auto& spec = lease.spec;
    // The first start since the last flush asks for one; later ones ride
    // along with it.
    if (shared->started.empty())
      tell = shared->current;
    shared->started.push_back(
      {spec.job, attempt_id{spec.task, spec.attempt, spec.seq, spec.lease},
       lease.epoch});
  }
  if (tell)
    caf::anon_send(tell, atom::flush_v);
  auto& spec = lease.spec;
  attempt_request req;
  req.job_id = spec.job_id;
  req.task = spec.task;
  req.attempt = spec.attempt;
  req.identifier = std::move(spec.identifier);
  req.input = std::move(spec.input);
  core::attempt_outcome out;
  {
    live_registration live{*shared, spec.job,
                           attempt_id{spec.task, spec.attempt, spec.seq,
                                      spec.lease}};
    out = execute_attempt(*shared->registry, req, shared->cache, shared->limits,
                          shared->name, &live);
  }
  if (shared->print_logs)
    print_attempt_logs(req.job_id + "/" + std::to_string(req.task), out);
  task_result result{req.task, req.attempt, spec.lease, std::move(out)};
  runner_actor to;
  {
    std::lock_guard<std::mutex> guard{shared->lease_mtx};
    if (!shared->current) {
      // Between connections: the next runner actor reports it.
      shared->orphans.push_back({std::move(spec.job_id), std::move(result)});
      return;
    }
    to = shared->current;
  }
  caf::anon_send(to, atom::done_v, std::move(spec.job), std::move(spec.job_id),
                 lease.epoch, std::move(result));
}

/// While attempts are out, a timer samples the indicators of those that
/// have some.
void schedule_report(runner_pointer self) {
  auto& st = self->state;
  if (st.report_scheduled || (st.busy == 0 && st.actor_busy == 0))
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
        entry.second.push_back(attempt_progress{a.id.task, a.id.attempt,
                                                a.id.lease, std::move(*list)});
      }
  }
  for (auto& [addr, entry] : reports)
    self->send(entry.first, atom::progress_v, std::move(entry.second));
  schedule_report(self);
}

/// Starts waiting actor leases, oldest first, while fewer task actors than
/// the actor slots run; their starts go out with the next flush.
void start_actor_leases(runner_pointer self) {
  auto& st = self->state;
  if (st.actor_leases.empty())
    return;
  size_t n;
  {
    std::lock_guard<std::mutex> guard{st.shared->actors_mtx};
    auto& running = st.shared->actors_running;
    n = std::min<size_t>(st.actor_leases.size(),
                         st.actor_slots - std::min(st.actor_slots, running));
    running += static_cast<uint32_t>(n); // uncounted as attempts end
  }
  if (n == 0)
    return;
  std::vector<runner_shared::lease> launch;
  launch.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto& lease = st.actor_leases.front();
    const auto& spec = lease.spec;
    runner_data::lease_key key{spec.job.id(), spec.lease};
    st.actor_running.emplace(
      key, runner_data::running_actor{spec.job,
                                      attempt_id{spec.task, spec.attempt,
                                                 spec.seq, spec.lease},
                                      false});
    st.unreported.push_back(key);
    launch.push_back(std::move(lease));
    st.actor_leases.pop_front();
  }
  spawn_task_actors(self->system(), st.shared, std::move(launch));
  schedule_flush(self);
}

/// `n` actor leases are over (finished or revoked): their credit goes
/// back, and waiting ones take their slots.
void release_actor(runner_pointer self, uint32_t n) {
  auto& st = self->state;
  st.actor_busy -= std::min(st.actor_busy, n);
  st.actor_credit += n;
  start_actor_leases(self);
  schedule_flush(self);
}

/// Leased attempts from the cluster: they wait, QUEUED at their jobs,
/// until a worker thread is free to take one (run_next_lease), or, for
/// actor tasks, until an actor slot is (start_actor_leases).
void run_batch(runner_pointer self, std::vector<dispatch_spec>& batch) {
  auto& st = self->state;
  if (st.has_actor_tasks) {
    // Actor leases wait here, not in the book the threads take from.
    size_t plain = 0;
    uint32_t k = 0;
    for (auto& spec : batch) {
      const auto* e = st.shared->registry->find(spec.identifier);
      if (e == nullptr || e->kind == task_kind::plain) {
        if (&batch[plain] != &spec)
          batch[plain] = std::move(spec);
        ++plain;
        continue;
      }
      st.actor_leases.push_back({std::move(spec), st.epoch, e});
      ++k;
    }
    batch.resize(plain);
    if (k > 0) {
      st.actor_busy += k;
      start_actor_leases(self);
    }
  }
  auto n = static_cast<uint32_t>(batch.size());
  {
    std::lock_guard<std::mutex> guard{st.shared->lease_mtx};
    for (auto& spec : batch)
      st.shared->leases.push_back({std::move(spec), st.epoch});
  }
  st.busy += n;
  // One turn per lease; a turn whose lease was revoked finds none, or a
  // later one.
  for (uint32_t i = 0; i < n; ++i)
    st.shared->pool.post([shared = st.shared] { run_next_lease(shared); });
  schedule_report(self);
}

/// Takes this actor's leases that no slot took yet: of one job, or all.
std::vector<runner_shared::lease> take_leases(runner_pointer self,
                                              const std::string* job_id) {
  auto& st = self->state;
  std::vector<runner_shared::lease> out;
  std::lock_guard<std::mutex> guard{st.shared->lease_mtx};
  auto& leases = st.shared->leases;
  for (auto i = leases.begin(); i != leases.end();) {
    if (i->epoch == st.epoch
        && (job_id == nullptr || i->spec.job_id == *job_id)) {
      out.push_back(std::move(*i));
      i = leases.erase(i);
    } else {
      ++i;
    }
  }
  return out;
}

/// Takes the actor leases that wait for a slot: of one job, or all.
std::vector<runner_shared::lease> take_actor_leases(runner_pointer self,
                                                    const std::string* job_id) {
  auto& leases = self->state.actor_leases;
  std::vector<runner_shared::lease> out;
  for (auto i = leases.begin(); i != leases.end();) {
    if (job_id == nullptr || i->spec.job_id == *job_id) {
      out.push_back(std::move(*i));
      i = leases.erase(i);
    } else {
      ++i;
    }
  }
  return out;
}

/// The cluster revokes a halted job's leases: those no slot took are
/// dropped; their seqs go back so the cluster stops counting them.
std::vector<uint64_t> revoke(runner_pointer self, const std::string& job_id) {
  auto taken = take_leases(self, &job_id);
  auto actors = take_actor_leases(self, &job_id);
  std::vector<uint64_t> seqs;
  seqs.reserve(taken.size() + actors.size());
  for (const auto& l : taken)
    seqs.push_back(l.spec.seq);
  for (const auto& l : actors)
    seqs.push_back(l.spec.seq);
  if (!taken.empty())
    release(self, static_cast<uint32_t>(taken.size()));
  if (!actors.empty())
    release_actor(self, static_cast<uint32_t>(actors.size()));
  return seqs;
}

/// Leases no slot took go back to their jobs, which dispatch them again
/// (elsewhere, or here) without spending a retry. Sends only: the caller
/// counts them out.
void send_back(runner_pointer self,
               const std::vector<runner_shared::lease>& taken) {
  if (taken.empty())
    return;
  std::map<caf::actor_addr, std::pair<job_actor, std::vector<attempt_id>>>
    by_job;
  for (auto& l : taken) {
    auto& entry = by_job[l.spec.job.address()];
    if (!entry.first)
      entry.first = l.spec.job;
    entry.second.push_back(
      attempt_id{l.spec.task, l.spec.attempt, l.spec.seq, l.spec.lease});
  }
  for (auto& [addr, entry] : by_job)
    self->send(entry.first, atom::lost_v, std::move(entry.second));
}

/// Thread leases no slot took go back to their jobs.
void hand_back(runner_pointer self, std::vector<runner_shared::lease> taken) {
  if (taken.empty())
    return;
  send_back(self, taken);
  auto& st = self->state;
  st.busy -= std::min<uint32_t>(st.busy, static_cast<uint32_t>(taken.size()));
}

/// Leaving: every lease no slot took goes back, of both kinds.
void hand_back_leases(runner_pointer self) {
  hand_back(self, take_leases(self, nullptr));
  auto actors = take_actor_leases(self, nullptr);
  if (actors.empty())
    return;
  send_back(self, actors);
  auto& st = self->state;
  st.actor_busy
    -= std::min<uint32_t>(st.actor_busy, static_cast<uint32_t>(actors.size()));
}

/// An attempt finished on a worker thread: its result waits for the next
/// flush, its slot is free.
void attempt_done(runner_pointer self, job_actor& job, std::string& job_id,
                  uint64_t epoch, task_result& result) {
  auto& st = self->state;
  // An actor attempt of this connection frees an actor slot; its length
  // (mostly waiting) says nothing about the threads' lease window.
  bool actor = false;
  if (epoch == st.epoch && !st.actor_running.empty()) {
    auto i = st.actor_running.find({job.id(), result.lease});
    if (i != st.actor_running.end()) {
      actor = true;
      if (!i->second.reported) {
        // Ended before its start was reported: the start goes plain,
        // ahead of this result.
        auto& entry = st.ended_starts[job.address()];
        if (!entry.first)
          entry.first = job;
        entry.second.push_back(i->second.id);
      }
      st.actor_running.erase(i);
    }
  }
  if (!actor) {
    auto d
      = std::max<double>(1.0, static_cast<double>(result.outcome.stopped
                                                  - result.outcome.started));
    st.mean_ns = st.mean_ns == 0 ? d : 0.8 * st.mean_ns + 0.2 * d;
    st.shared->starts_at_once.store(st.mean_ns >= 1e6,
                                    std::memory_order_relaxed);
  }
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
  if (epoch != st.epoch) {
    // Started under a connection that is gone: its job may have given the
    // task to another runner since, and decides by its lease.
    st.late[job_id].push_back(std::move(result));
    start_actor_leases(self); // it may have held an actor slot
    schedule_flush(self);
    return;
  }
  auto& entry = st.results[job.address()];
  entry.job = std::move(job);
  if (entry.batches.empty() || entry.last_bytes + n > result_batch_bytes) {
    entry.batches.emplace_back();
    entry.last_bytes = 0;
  }
  entry.last_bytes += n;
  entry.batches.back().push_back(std::move(result));
  if (actor) {
    // Collected in a batch (collect_actor_attempts), which fills the freed
    // slots and flushes once for all of it.
    st.actor_busy -= std::min(st.actor_busy, 1u);
    ++st.actor_credit;
  } else {
    release(self, 1);
  }
}

/// Collects the attempts task actors ended since the last look.
void collect_actor_attempts(runner_pointer self) {
  auto& st = self->state;
  std::vector<runner_shared::ended_attempt> ended;
  {
    std::lock_guard<std::mutex> guard{st.shared->lease_mtx};
    ended.swap(st.shared->actors_ended);
  }
  for (auto& e : ended)
    attempt_done(self, e.job, e.job_id, e.epoch, e.result);
  // The slots they freed are filled in one batch for the spawning helpers,
  // and one flush sends all of it.
  start_actor_leases(self);
  schedule_flush(self);
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
  reg.actor_tasks = st.shared->registry->actor_identifiers();
  reg.actor_slots = st.has_actor_tasks ? st.actor_slots : 0;
  auto me = caf::actor_cast<runner_actor>(self);
  self->monitor(st.cluster);
  self->set_down_handler([self](caf::down_msg& msg) {
    if (msg.source == self->state.cluster.address())
      self->quit(msg.reason
                   ? msg.reason
                   : caf::error{caf::exit_reason::remote_link_unreachable});
  });
  auto sent = std::chrono::steady_clock::now();
  self->request(st.cluster, caf::infinite, atom::join_v, me, std::move(reg))
    .then(
      [self, me, sent](bool) {
        self->state.rtt_ns = static_cast<double>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now() - sent)
            .count());
        auto& st = self->state;
        // Actor tasks get their slots and a window as large at once: a
        // task actor costs no thread, and waiting leases keep the slots
        // busy while refills travel.
        uint32_t actor_credit
          = st.has_actor_tasks ? st.actor_slots + st.actor_window : 0;
        self->send(st.cluster, atom::credit_v, me, st.slots, actor_credit);
      },
      [self](caf::error& err) { self->quit(err); });
}

/// Leaves the cluster first: batches it sent before its reply still arrive;
/// then hands back the leases no slot took and quits once the running
/// attempts are done and reported.
void leave_cluster(runner_pointer self) {
  auto& st = self->state;
  if (st.stopping)
    return;
  st.stopping = true;
  auto left = [self] {
    self->state.left = true;
    hand_back_leases(self);
    schedule_flush(self); // quits once the last results are out
  };
  self
    ->request(st.cluster, caf::infinite, atom::stop_v,
              caf::actor_cast<runner_actor>(self))
    .then([left](bool) { left(); }, [left](caf::error&) { left(); });
}

/// This actor becomes the runner's current one: the worker threads report
/// to it, and results that waited for a connection go out through it.
void take_over(runner_pointer self) {
  auto& st = self->state;
  std::vector<runner_shared::orphan> orphans;
  {
    std::lock_guard<std::mutex> guard{st.shared->lease_mtx};
    st.epoch = ++st.shared->epoch;
    st.shared->current = caf::actor_cast<runner_actor>(self);
    orphans.swap(st.shared->orphans);
    // Ended under an earlier connection whose actor did not collect them.
    for (auto& e : st.shared->actors_ended)
      orphans.push_back({std::move(e.job_id), std::move(e.result)});
    st.shared->actors_ended.clear();
  }
  for (auto& o : orphans)
    st.late[o.job_id].push_back(std::move(o.result));
  if (!st.late.empty())
    schedule_flush(self);
  // However it ends, what it leased and no slot took goes with it: its
  // orchestrator hands those to other runners once it notices.
  self->attach_functor([shared = st.shared, epoch = st.epoch] {
    std::lock_guard<std::mutex> guard{shared->lease_mtx};
    std::erase_if(shared->leases, [epoch](const runner_shared::lease& l) {
      return l.epoch == epoch;
    });
    std::erase_if(shared->started,
                  [epoch](const runner_shared::started_attempt& s) {
                    return s.epoch == epoch;
                  });
    if (shared->epoch == epoch) {
      shared->current = nullptr;
      // Not collected: the next connection reports them.
      for (auto& e : shared->actors_ended)
        shared->orphans.push_back({std::move(e.job_id), std::move(e.result)});
      shared->actors_ended.clear();
    }
  });
}

runner_actor::behavior_type runner_fn(runner_pointer self,
                                      cluster_actor cluster,
                                      job_service_actor service,
                                      std::shared_ptr<runner_shared> shared,
                                      uint32_t slots, uint32_t max_leases) {
  auto& st = self->state;
  st.shared = std::move(shared);
  st.cluster = std::move(cluster);
  st.service = std::move(service);
  st.slots = slots;
  st.max_leases = max_leases;
  st.has_actor_tasks = !st.shared->registry->actor_identifiers().empty();
  st.actor_slots = std::max(1u, st.shared->actor_slots);
  st.actor_window = std::min(st.actor_slots, max_leases);
  if (st.has_actor_tasks) // no rehashing while they start and end
    st.actor_running.reserve(std::min(st.actor_slots, 1u << 16));
  take_over(self);
  join_cluster(self);
  return {
    [self](atom::run, std::vector<dispatch_spec>& batch) {
      run_batch(self, batch);
    },
    [self](atom::withdraw, const std::string& job_id) {
      return revoke(self, job_id);
    },
    [self](atom::done, job_actor& job, std::string& job_id, uint64_t epoch,
           task_result& result) {
      attempt_done(self, job, job_id, epoch, result);
    },
    [self](atom::done) { collect_actor_attempts(self); },
    [self](atom::flush) {
      auto& st = self->state;
      if (self->current_sender() != nullptr
          || st.shared->starts_at_once.load(std::memory_order_relaxed)) {
        flush(self);
        return;
      }
      // A worker's notice of a start, while attempts are short: the start
      // travels with the result, in one message and one journal write at
      // its job, or after a millisecond if the attempt runs longer.
      if (!st.start_timer) {
        st.start_timer = true;
        self->delayed_send(self, std::chrono::milliseconds{1}, atom::flush_v);
      }
    },
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
                          job_service_actor service,
                          std::shared_ptr<runner_shared> shared, uint32_t slots,
                          uint32_t max_leases) {
  return sys.spawn(runner_fn, std::move(cluster), std::move(service),
                   std::move(shared), slots, max_leases);
}

} // namespace weft
