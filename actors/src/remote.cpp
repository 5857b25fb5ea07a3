#include "weft/remote.hpp"

#include "weft/actors/client_internal.hpp"
#include "weft/actors/node.hpp"
#include "weft/actors/runner_actor.hpp"

#include <caf/all.hpp>

#include <limits>
#include <mutex>

namespace weft::remote {

struct connection::impl {
  std::shared_ptr<owned_system> node;
  network_address addr;
  std::string address;
  connect_options opts;
  std::mutex mtx; // guards `service`, which reconnect() replaces
  job_service_actor service;

  gateway_connector connector() {
    auto node_ptr = node.get();
    auto where = addr;
    return [node_ptr, where](std::chrono::milliseconds patience) {
      return connect_gateway(*node_ptr, where, patience);
    };
  }
};

connection::connection(std::shared_ptr<impl> ptr) : impl_(std::move(ptr)) {
}

job_client connection::jobs() {
  job_service_actor svc;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    svc = impl_->service;
  }
  auto ptr = std::make_shared<job_client::impl>(*impl_->node->sys, svc, impl_);
  auto connect = impl_->connector();
  auto patience = impl_->opts.patience;
  ptr->reconnect = [connect, patience] { return connect(patience); };
  auto client = job_client_access::make(std::move(ptr));
  // The orchestrator enforces its own limit (`--max-input-bytes`), which
  // this node does not know; a local guess would hide larger ones.
  client.set_max_input_bytes(std::numeric_limits<size_t>::max());
  client.set_cache(impl_->opts.cache);
  return client;
}

workflow_endpoint connection::workflows() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return workflow_endpoint{*impl_->node->sys, impl_->service,
                           impl_->opts.cache};
}

workflow_endpoint connection::reconnect() {
  auto svc = impl_->connector()(impl_->opts.patience);
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->service = std::move(svc);
  }
  return workflows();
}

weft::runner connection::make_runner(runner_options opts) {
  return make_remote_runner(*impl_->node->sys, impl_->connector(),
                            std::move(opts), impl_->opts.cache, impl_);
}

const std::string& connection::address() const {
  return impl_->address;
}

connection connect(const std::string& address, connect_options opts) {
  auto ptr = std::make_shared<connection::impl>();
  ptr->addr = parse_address(address);
  ptr->address = address;
  ptr->opts = opts;
  ptr->node = make_system(opts.scheduler_threads, &ptr->opts);
  ptr->service = connect_gateway(*ptr->node, ptr->addr, opts.patience);
  return connection{std::move(ptr)};
}

} // namespace weft::remote
