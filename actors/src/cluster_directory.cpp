#include "weft/actors/cluster_directory.hpp"
#include "weft/actors/cluster.hpp"
#include "weft/actors/metrics.hpp"

#include <caf/all.hpp>

namespace weft {

cluster_directory::cluster_directory(caf::actor_system& sys,
                                     std::shared_ptr<metrics> registry)
    : sys_(sys),
      metrics_(registry ? std::move(registry) : std::make_shared<metrics>()) {
}

cluster_actor cluster_directory::get(const std::string& name) {
  cluster_actor hdl;
  std::set<caf::actor_addr> waiting;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = clusters_.find(name);
    if (i != clusters_.end())
      return i->second;
    hdl = spawn_cluster(sys_, name, metrics_);
    clusters_.emplace(name, hdl);
    if (auto w = awaited_.find(name); w != awaited_.end()) {
      waiting.swap(w->second);
      awaited_.erase(w);
    }
  }
  for (const auto& addr : waiting)
    if (auto job = caf::actor_cast<job_actor>(
          caf::actor_cast<caf::strong_actor_ptr>(addr)))
      caf::anon_send(job, atom::cluster_v, name);
  return hdl;
}

cluster_actor cluster_directory::find(const std::string& name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = clusters_.find(name);
  return i != clusters_.end() ? i->second : cluster_actor{};
}

cluster_actor cluster_directory::find_or_await(const std::string& name,
                                               const job_actor& job) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = clusters_.find(name);
  if (i != clusters_.end())
    return i->second;
  awaited_[name].insert(job.address());
  return {};
}

bool cluster_directory::remove(const std::string& name) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = clusters_.find(name);
  if (i == clusters_.end())
    return false;
  removed_.push_back(i->second.address());
  clusters_.erase(i);
  return true;
}

std::vector<std::string> cluster_directory::names() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::string> result;
  for (const auto& [name, hdl] : clusters_)
    result.push_back(name);
  return result;
}

void cluster_directory::shutdown() {
  std::map<std::string, cluster_actor> clusters;
  std::vector<caf::actor_addr> removed;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    clusters.swap(clusters_);
    removed.swap(removed_);
    awaited_.clear();
  }
  for (auto& [name, hdl] : clusters)
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  // Deleted clusters still running (something holds their handle) too.
  for (const auto& addr : removed)
    caf::anon_send_exit(addr, caf::exit_reason::user_shutdown);
}

} // namespace weft
