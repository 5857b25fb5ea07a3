// Actor tasks: a map of 1,000 tiles, each fetched by an actor task that
// requests it from a "tile service" (an actor of this program that answers
// after 100-300 ms, standing in for a network service), all in flight at
// once on a runner with 2 thread slots. A plain task stitches them. The
// blocks between "snippet NAME" and "end snippet" markers appear verbatim
// in docs/writing-tasks.md (checked by the test suite).

#include <weft/actor_task.hpp>
#include <weft/weft.hpp>

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <string>

namespace {

using tile_atom = caf::atom_constant<caf::atom("tile")>;
using ready_atom = caf::atom_constant<caf::atom("tileReady")>;
using peak_atom = caf::atom_constant<caf::atom("tilePeak")>;
using give_up_atom = caf::atom_constant<caf::atom("tileGiveUp")>;
/// Where the tile service is found in the actor system's registry.
constexpr caf::atom_value tiles_key = caf::atom("tiles");

/// The tile service: answers each request after a latency of its own, so
/// that many requests are outstanding at once, and counts the most there
/// were.
struct tile_service_state {
  uint64_t next = 0;
  std::map<uint64_t, caf::typed_response_promise<std::string>> pending;
  size_t peak = 0;
  static inline const char* name = "tile-service";
};

caf::behavior tile_service(caf::stateful_actor<tile_service_state>* self) {
  return {
    [self](tile_atom, uint32_t x, uint32_t y) -> caf::result<std::string> {
      auto& st = self->state;
      auto rp = self->make_response_promise<std::string>();
      auto id = st.next++;
      st.pending.emplace(id, rp);
      st.peak = std::max(st.peak, st.pending.size());
      auto latency = std::chrono::milliseconds{100 + (x * 31 + y * 17) % 200};
      self->delayed_send(self, latency, ready_atom::value, id, x, y);
      return rp;
    },
    [self](ready_atom, uint64_t id, uint32_t x, uint32_t y) {
      auto i = self->state.pending.find(id);
      if (i == self->state.pending.end())
        return;
      // A tile's "pixels": 64 bytes derived from its position.
      std::string bytes(64, '\0');
      for (size_t k = 0; k < bytes.size(); ++k)
        bytes[k] = static_cast<char>((x * 7 + y * 11 + k) % 256);
      i->second.deliver(std::move(bytes));
      self->state.pending.erase(i);
    },
    [self](peak_atom) { return static_cast<uint64_t>(self->state.peak); },
  };
}

std::string tile_key(uint32_t x, uint32_t y) {
  return std::to_string(x) + "_" + std::to_string(y);
}

} // namespace

// snippet actor_task
// Fetches one tile from the tile service (an actor of this program) into
// the job cache. While it waits for the answer it holds no thread.
struct fetch_tile {
  uint32_t x = 0;
  uint32_t y = 0;
  static weft::task_identifier identifier() {
    return {"maps/FetchTile", "v1.0"};
  }
  caf::behavior execute(weft::actor_context& ctx) const {
    ctx.progress("tiles").add(1);
    auto* self = ctx.self();
    auto service = self->home_system().registry().get<caf::actor>(tiles_key);
    self->request(service, caf::infinite, tile_atom::value, x, y)
      .then(
        [this, &ctx](std::string& bytes) {
          ctx.job_cache().group("tiles")[tile_key(x, y)] = std::move(bytes);
          ctx.progress("tiles").done(1);
          ctx.done(); // the attempt succeeded; the actor quits
        },
        [&ctx](caf::error& err) {
          ctx.fail("the tile service failed: "
                   + ctx.self()->home_system().render(err));
        });
    // Cooperative cancel: a failed attempt, so that a retry of the job
    // fetches the tile again (done() would leave it COMPUTED without it).
    ctx.on_cancel([&ctx] { ctx.fail("canceled while fetching"); });
    self->delayed_send(self, std::chrono::seconds{10}, give_up_atom::value);
    return {
      [&ctx](give_up_atom) { ctx.fail("no tile within 10 s"); },
    };
  }
};
BOOST_DESCRIBE_STRUCT(fetch_tile, (), (x, y))
// end snippet

/// Stitches the fetched tiles (here: checks and counts them).
struct stitch_map {
  uint32_t width = 0;
  uint32_t height = 0;
  static weft::task_identifier identifier() {
    return {"maps/StitchMap", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    auto tiles = ctx.job_cache().group("tiles");
    size_t bytes = 0;
    for (uint32_t y = 0; y < height; ++y)
      for (uint32_t x = 0; x < width; ++x)
        bytes += tiles.get(tile_key(x, y)).size();
    ctx.job_cache()["map_bytes"] = std::to_string(bytes);
    ctx.set_display("map " + std::to_string(width) + " x "
                    + std::to_string(height));
  }
};
BOOST_DESCRIBE_STRUCT(stitch_map, (), (width, height))

/// The map: one fetch per tile, then the stitch once all are in.
struct render_map {
  uint32_t width = 40;
  uint32_t height = 25;
  static weft::task_identifier identifier() {
    return {"maps/RenderMap", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    std::vector<weft::subtask_handle> fetched;
    for (uint32_t y = 0; y < height; ++y)
      for (uint32_t x = 0; x < width; ++x)
        fetched.push_back(
          ctx.submit_subtask(fetch_tile{x, y}, {.max_retries = 2}));
    ctx.submit_subtask(stitch_map{width, height}, {.depends_on = fetched});
  }
};
BOOST_DESCRIBE_STRUCT(render_map, (), (width, height))

int main() {
  // snippet actor_system
  // The program owns the actor system: the tile service and weft's actors
  // (orchestrator, runner, task actors) live in it together.
  caf::actor_system_config cfg;
  weft::add_weft_types(cfg);
  caf::actor_system sys{cfg};
  auto service = sys.spawn(tile_service);
  sys.registry().put(tiles_key, service);
  // Two threads for plain tasks; actor tasks take actor slots instead.
  weft::local_cluster_options opts;
  opts.runners = {{.slots = 2, .actor_slots = 5000}};
  auto cluster = std::make_unique<weft::local_cluster>(sys, opts);
  // end snippet
  cluster->register_tasks<render_map, fetch_tile, stitch_map>();
  cluster->start();
  auto jobs = cluster->jobs();
  auto job = jobs.submit("map", render_map{40, 25});
  auto started = std::chrono::steady_clock::now();
  auto done = jobs.wait(job.id);
  auto seconds
    = std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
        .count();
  std::cout << "map: " << weft::to_string(done.state) << ", "
            << done.stats.total_tasks << " tasks in " << seconds << " s\n";
  for (const auto& p : done.progress)
    std::cout << p.label << ": " << p.done << "/" << p.total << "\n";
  bool ok = done.state == weft::job_state::completed;
  if (ok) {
    std::string bytes = jobs.cache(job.id)["map_bytes"];
    std::cout << "stitched " << bytes << " bytes of tiles\n";
  }
  // weft's actors go first; the system outlives them.
  cluster.reset();
  caf::scoped_actor self{sys};
  self->request(service, std::chrono::seconds{5}, peak_atom::value)
    .receive(
      [](uint64_t peak) {
        std::cout << "tile service: at most " << peak
                  << " requests in flight at once, on 2 thread slots\n";
      },
      [](caf::error&) {});
  sys.registry().erase(tiles_key);
  self->send_exit(service, caf::exit_reason::user_shutdown);
  return ok ? 0 : 1;
}
