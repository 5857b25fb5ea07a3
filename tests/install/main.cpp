#include <weft/weft.hpp>

#include <iostream>

struct greet {
  std::string name;
  void execute(weft::context& ctx) const {
    ctx.set_display("hello " + name);
  }
};
BOOST_DESCRIBE_STRUCT(greet, (), (name))

int main() {
  weft::local_cluster cluster{{.runners = {{.slots = 1}}}};
  cluster.register_tasks<greet>();
  cluster.start();
  auto job = cluster.jobs().submit("greet", greet{"world"});
  auto done = cluster.jobs().wait(job.id);
  std::cout << cluster.jobs().tasks(job.id).at(0).display << ": "
            << weft::to_string(done.state) << "\n";
  return done.state == weft::job_state::completed ? 0 : 1;
}
