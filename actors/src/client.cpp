#include "weft/client.hpp"

#include "weft/actors/client_internal.hpp"
#include "weft/core/submission.hpp"

#include <caf/all.hpp>

#include <optional>

namespace weft {

job_client::job_client(std::shared_ptr<impl> ptr) : impl_(std::move(ptr)) {
}

submit_request make_submit_request(std::string name,
                                   std::vector<task_input> roots,
                                   submit_options opts,
                                   size_t max_input_bytes) {
  submit_request req;
  req.name = std::move(name);
  req.cluster = std::move(opts.cluster);
  req.max_retries = opts.max_retries;
  for (auto& r : roots) {
    core::validate_root(r.identifier, r.input, max_input_bytes);
    core::task_submission sub;
    sub.identifier = std::move(r.identifier);
    sub.input = std::move(r.input);
    req.roots.push_back(std::move(sub));
  }
  // One message carries the whole submission; a server accepts 40 MiB at
  // the least (wire_limits::max_message_bytes).
  size_t total = 0;
  for (const auto& r : req.roots)
    total += r.input.size() + r.identifier.name.size();
  if (total > (32u << 20))
    throw error(errc::input_too_large,
                "the roots' inputs total " + std::to_string(total)
                  + " bytes, above the 33554432 one submission may carry: "
                    "submit fewer roots and let a task fan out instead");
  return req;
}

job_info job_client::submit(std::string name, std::vector<task_input> roots,
                            submit_options opts) {
  auto req = make_submit_request(std::move(name), std::move(roots),
                                 std::move(opts), max_input_bytes_);
  return impl_->ask<job_info>(impl_->timeout, atom::submit_v, std::move(req));
}

job_info job_client::find(const std::string& id) {
  return impl_->ask<job_info>(impl_->timeout, atom::find_v, id);
}

std::vector<job_info> job_client::query(const job_query& q) {
  return impl_->ask<std::vector<job_info>>(impl_->timeout, atom::query_v, q);
}

uint64_t job_client::cancel(const std::string& id) {
  return impl_->ask<uint64_t>(impl_->timeout, atom::cancel_v, id);
}

uint64_t job_client::retry(const std::string& id) {
  return impl_->ask<uint64_t>(impl_->timeout, atom::retry_v, id);
}

std::vector<task_info> job_client::tasks(const std::string& id) {
  return impl_->ask<std::vector<task_info>>(impl_->timeout, atom::tasks_v, id);
}

cache_group job_client::cache(const std::string& id) {
  // Asked first so that an unknown id is unknown_job, whatever the store
  // holds under that name.
  auto info = find(id);
  if (!cache_)
    throw error(errc::invalid_state,
                "the cache of job " + info.id
                  + " is out of this client's reach: its runners keep it "
                    "(in memory, per process, unless they share a store); "
                    "give the runners and this client one file-system "
                    "cache (runner_options::cache and job_client::set_cache "
                    "or connect_options::cache, "
                    "weft::make_file_system_cache(dir))");
  return cache_group{make_read_only_cache(cache_), info.id};
}

std::string job_client::visualize(const std::string& id,
                                  const render_options& options) {
  auto info = find(id);
  return render_svg(info, tasks(id), options);
}

cluster_info job_client::create_cluster(const std::string& name) {
  return impl_->ask<cluster_info>(impl_->timeout, atom::create_v, name);
}

cluster_info job_client::find_cluster(const std::string& name) {
  return impl_->ask<cluster_info>(impl_->timeout, atom::info_v, name);
}

std::vector<cluster_info> job_client::clusters() {
  return impl_->ask<std::vector<cluster_info>>(impl_->timeout, atom::list_v);
}

void job_client::delete_cluster(const std::string& name) {
  impl_->ask<bool>(impl_->timeout, atom::remove_v, name);
}

progress_update job_client::watch(
  const std::string& id,
  const std::function<void(const progress_update&)>& on_update,
  std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + timeout;
  caf::scoped_actor self{impl_->sys};
  auto me = caf::actor_cast<progress_watcher>(self);
  auto subscribe = [&] {
    auto svc = impl_->service();
    self->monitor(svc);
    caf::error err;
    self->request(svc, impl_->timeout, atom::watch_v, id, me)
      .receive([](bool) {}, [&](caf::error& e) { err = std::move(e); });
    if (err)
      throw to_weft_error(err);
  };
  subscribe();
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock::now());
    if (left.count() <= 0)
      throw error(errc::timeout, "job " + id + " did not finish within "
                                   + std::to_string(timeout.count())
                                   + " ms; it keeps running");
    std::optional<progress_update> got;
    bool lost = false;
    self->receive([&](atom::progress,
                      progress_update& u) { got = std::move(u); },
                  [&](caf::down_msg&) { lost = true; },
                  caf::after(left) >> [] {});
    if (lost) {
      if (!impl_->reconnect)
        throw error(errc::not_running,
                    "the orchestrator stopped while watching job " + id);
      impl_->reconnect_now();
      subscribe(); // the current state comes first again
      continue;
    }
    if (!got)
      continue;
    on_update(*got);
    if (got->final) {
      // The service would keep the record of this monitor for good.
      self->demonitor(impl_->service().address());
      return std::move(*got);
    }
  }
}

job_info job_client::wait(const std::string& id,
                          std::chrono::milliseconds timeout) {
  try {
    return impl_->ask<job_info>(timeout, atom::wait_v, id);
  } catch (const error& e) {
    if (e.code() != errc::timeout)
      throw;
    throw error(errc::timeout,
                "job " + id + " did not finish within "
                  + std::to_string(timeout.count())
                  + " ms; it keeps running (find() shows where it is)");
  }
}

} // namespace weft
