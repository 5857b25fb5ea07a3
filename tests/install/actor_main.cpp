// An actor program outside weft's tree: an event-based actor submits a job
// and watches it to its final update, by messages only.

#include <weft/weft.hpp>
#include <weft/workflow_actor.hpp>

#include <caf/all.hpp>

#include <iostream>

struct greet {
  std::string name;
  void execute(weft::context& ctx) const {
    ctx.set_display("hello " + name);
  }
};
BOOST_DESCRIBE_STRUCT(greet, (), (name))

caf::behavior greeter(caf::event_based_actor* self, weft::workflow_actor weft,
                      std::shared_ptr<weft::job_state> outcome) {
  auto fail = [self](caf::error& err) { self->quit(err); };
  self
    ->request(weft, caf::infinite, weft::atom::submit_v,
              weft::make_submit_request("greet", greet{"actors"}))
    .then(
      [self, weft, fail](weft::job_info& job) {
        self
          ->request(weft, caf::infinite, weft::atom::watch_v, job.id,
                    caf::actor_cast<weft::progress_watcher>(self))
          .then([](bool) {}, fail);
      },
      fail);
  return {
    [self, outcome](weft::atom::progress, weft::progress_update& u) {
      if (!u.final)
        return;
      *outcome = u.state;
      self->quit();
    },
  };
}

int main() {
  weft::local_cluster cluster{{.runners = {{.slots = 1}}}};
  cluster.register_tasks<greet>();
  cluster.start();
  auto wf = cluster.workflows();
  auto outcome = std::make_shared<weft::job_state>(weft::job_state::submitted);
  caf::scoped_actor waiter{wf.system()};
  auto actor = wf.system().spawn(greeter, wf.actor(), outcome);
  waiter->monitor(actor);
  bool ended = false;
  waiter->receive([&](caf::down_msg&) { ended = true; },
                  caf::after(std::chrono::seconds{60}) >> [] {});
  std::cout << "actor program: " << weft::to_string(*outcome) << "\n";
  return ended && *outcome == weft::job_state::completed ? 0 : 1;
}
