#include "weft/actors/runner_internal.hpp"

#include <iostream>

namespace weft {

worker_pool::worker_pool(uint32_t threads)
  : st_(std::make_shared<state>()) {
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
  {
    std::lock_guard<std::mutex> guard{st_->mtx};
    st_->stopping = true;
    st_->jobs.clear();
  }
  st_->cv.notify_all();
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
  threads_.clear();
}

void worker_pool::abandon() {
  {
    std::lock_guard<std::mutex> guard{st_->mtx};
    st_->stopping = true;
    st_->jobs.clear();
  }
  st_->cv.notify_all();
  for (auto& t : threads_)
    if (t.joinable())
      t.detach();
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
    std::cerr << format_time(line.time) << ' ' << line.level << " ["
              << task_id << "] " << line.message
              << (line.fields == "{}" ? std::string{} : " " + line.fields)
              << '\n';
  if (!out.succeeded)
    std::cerr << "ERROR [" << task_id << "] " << out.error << '\n';
}

struct task_data {
  dispatch_spec spec;
  static inline const char* name = "weft.task";
};

/// One attempt on the runner: asks its job for permission (the job may
/// have been canceled meanwhile), runs on a worker thread, reports back.
task_actor::behavior_type task_fn(task_actor::stateful_pointer<task_data> self,
                                  dispatch_spec spec,
                                  std::shared_ptr<runner_shared> shared,
                                  runner_actor runner) {
  self->state.spec = std::move(spec);
  auto& s = self->state.spec;
  auto give_up = [self, runner] {
    self->send(runner, atom::freed_v, uint32_t{1});
    self->quit();
  };
  self->request(s.job, caf::infinite, atom::start_v, s.task, s.attempt, s.seq,
                shared->name)
    .then(
      [self, shared, give_up](bool go) {
        if (!go) {
          give_up();
          return;
        }
        auto me = caf::actor_cast<task_actor>(self);
        attempt_request req;
        auto& s = self->state.spec;
        req.job_id = s.job_id;
        req.task = s.task;
        req.attempt = s.attempt;
        req.identifier = s.identifier;
        req.input = std::move(s.input);
        shared->pool.post([me, shared, req = std::move(req)] {
          auto out = execute_attempt(*shared->registry, req, shared->cache,
                                     shared->limits, shared->name);
          if (shared->print_logs)
            print_logs(req.job_id + "/" + std::to_string(req.task), out);
          caf::anon_send(me, atom::done_v,
                         task_result{req.task, req.attempt, std::move(out)});
        });
      },
      [give_up](caf::error&) { give_up(); });
  return {
    [self, runner](atom::done, task_result& result) {
      self->send(self->state.spec.job, atom::done_v, std::move(result));
      self->send(runner, atom::freed_v, uint32_t{1});
      self->quit();
    },
  };
}

struct runner_data {
  std::shared_ptr<runner_shared> shared;
  cluster_actor cluster;
  uint32_t slots = 1;
  uint32_t busy = 0;
  bool stopping = false;
  bool left = false;  // the cluster confirmed it sends nothing more
  static inline const char* name = "weft.runner";
};

runner_actor::behavior_type
runner_fn(runner_actor::stateful_pointer<runner_data> self,
          cluster_actor cluster, std::shared_ptr<runner_shared> shared,
          uint32_t slots) {
  auto& st = self->state;
  st.shared = std::move(shared);
  st.cluster = std::move(cluster);
  st.slots = slots;
  runner_registration reg;
  reg.name = st.shared->name;
  reg.slots = slots;
  reg.identifiers = st.shared->registry->identifiers();
  auto me = caf::actor_cast<runner_actor>(self);
  // Without its cluster (the orchestrator's node is gone) a runner has
  // nothing to do; whoever started it may connect again.
  self->monitor(st.cluster);
  self->set_down_handler([self](caf::down_msg& msg) {
    if (msg.source == self->state.cluster.address())
      self->quit(msg.reason ? msg.reason
                            : caf::error{caf::exit_reason::remote_link_unreachable});
  });
  self->request(st.cluster, caf::infinite, atom::join_v, me, std::move(reg))
    .then(
      [self, me](bool) {
        self->send(self->state.cluster, atom::credit_v, me,
                   self->state.slots);
      },
      [self](caf::error& err) { self->quit(err); });
  return {
    [self](atom::run, std::vector<dispatch_spec>& batch) {
      auto& st = self->state;
      auto me = caf::actor_cast<runner_actor>(self);
      for (auto& spec : batch) {
        ++st.busy;
        self->spawn<caf::linked>(task_fn, std::move(spec), st.shared, me);
      }
    },
    [self](atom::freed, uint32_t n) {
      auto& st = self->state;
      st.busy -= std::min(st.busy, n);
      if (!st.stopping)
        self->send(st.cluster, atom::credit_v,
                   caf::actor_cast<runner_actor>(self), n);
      else if (st.left && st.busy == 0)
        self->quit();
    },
    [self](atom::idle) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      self->request(self->state.cluster, caf::infinite, atom::idle_v,
                    caf::actor_cast<runner_actor>(self))
        .then([rp](bool x) mutable { rp.deliver(x); },
              [rp](caf::error& e) mutable { rp.deliver(e); });
      return rp;
    },
    [self](atom::stop) {
      // Leave the cluster first: batches it sent before its reply still
      // arrive and run; then quit once they are done.
      auto& st = self->state;
      if (st.stopping)
        return;
      st.stopping = true;
      self
        ->request(st.cluster, caf::infinite, atom::stop_v,
                  caf::actor_cast<runner_actor>(self))
        .then(
          [self](bool) {
            self->state.left = true;
            if (self->state.busy == 0)
              self->quit();
          },
          [self](caf::error&) {
            self->state.left = true;
            if (self->state.busy == 0)
              self->quit();
          });
    },
  };
}

} // namespace

runner_actor spawn_runner(caf::actor_system& sys, cluster_actor cluster,
                          std::shared_ptr<runner_shared> shared,
                          uint32_t slots) {
  return sys.spawn(runner_fn, std::move(cluster), std::move(shared), slots);
}

} // namespace weft
