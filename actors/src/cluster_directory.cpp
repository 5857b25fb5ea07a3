#include "weft/actors/cluster_directory.hpp"
#include "weft/actors/cluster.hpp"

#include <caf/all.hpp>

namespace weft {

cluster_actor cluster_directory::get(const std::string& name) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = clusters_.find(name);
  if (i != clusters_.end())
    return i->second;
  auto hdl = spawn_cluster(sys_, name);
  clusters_.emplace(name, hdl);
  return hdl;
}

cluster_actor cluster_directory::find(const std::string& name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = clusters_.find(name);
  return i != clusters_.end() ? i->second : cluster_actor{};
}

bool cluster_directory::remove(const std::string& name) {
  cluster_actor hdl;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = clusters_.find(name);
    if (i == clusters_.end())
      return false;
    hdl = std::move(i->second);
    clusters_.erase(i);
  }
  caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
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
  {
    std::lock_guard<std::mutex> guard{mtx_};
    clusters.swap(clusters_);
  }
  for (auto& [name, hdl] : clusters)
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
}

} // namespace weft
