// An actor task outside weft's tree: it waits on a timer, holding no thread.

#include <weft/actor_task.hpp>
#include <weft/weft.hpp>

#include <caf/all.hpp>

#include <iostream>

using wake_atom = caf::atom_constant<caf::atom("wake")>;

// An actor task: waits on a timer without holding a thread.
struct nap {
  uint32_t ms = 10;
  caf::behavior execute(weft::actor_context& ctx) const {
    ctx.self()->delayed_send(ctx.self(), std::chrono::milliseconds{ms},
                             wake_atom::value);
    return {[&ctx](wake_atom) {
      ctx.set_display("woke");
      ctx.done();
    }};
  }
};
BOOST_DESCRIBE_STRUCT(nap, (), (ms))

int main() {
  weft::local_cluster cluster{{.runners = {{.slots = 1}}}};
  cluster.register_tasks<nap>();
  cluster.start();
  auto job = cluster.jobs().submit("nap", nap{});
  auto done = cluster.jobs().wait(job.id);
  std::cout << cluster.jobs().tasks(job.id).at(0).display << ": "
            << weft::to_string(done.state) << "\n";
  return done.state == weft::job_state::completed ? 0 : 1;
}
