// A runner program: connects to a `weft server` and runs the tasks of a
// small render workflow for one cluster until SIGTERM or SIGINT.
//
//   weft-example-remote_runner HOST:PORT [--cluster C] [--slots N]
//       [--name N] [--cert F --key F --ca F]
//
// RenderMovie (cluster "default") submits one RenderFrame per frame to the
// cluster "gpu", then Encode, which depends on every frame, back on
// "default". Frames share their output through a file-system job cache, so
// runner processes on one machine see each other's frames.

#include <weft/weft.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

struct RenderFrame {
  uint32_t frame = 0;
  static weft::task_identifier identifier() {
    return {"movies/RenderFrame", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    ctx.job_cache().group("frames").set(std::to_string(frame),
                                        "frame " + std::to_string(frame)
                                          + " by " + ctx.current_task().runner);
    ctx.set_display("frame " + std::to_string(frame) + "\n"
                    + ctx.current_task().runner);
    ctx.progress("frames").done(1);
  }
};
BOOST_DESCRIBE_STRUCT(RenderFrame, (), (frame))

struct Encode {
  uint32_t frames = 0;
  static weft::task_identifier identifier() {
    return {"movies/Encode", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    auto group = ctx.job_cache().group("frames");
    for (uint32_t i = 0; i < frames; ++i)
      (void)group.get(std::to_string(i)); // throws if a frame is missing
    ctx.logger().info("encoded", {{"frames", frames}});
  }
};
BOOST_DESCRIBE_STRUCT(Encode, (), (frames))

struct RenderMovie {
  uint32_t frames = 24;
  static weft::task_identifier identifier() {
    return {"movies/RenderMovie", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    ctx.progress("frames").add(frames);
    std::vector<weft::subtask_handle> rendered;
    for (uint32_t i = 0; i < frames; ++i)
      rendered.push_back(
        ctx.submit_subtask(RenderFrame{i}, {.cluster = "gpu"}));
    ctx.submit_subtask(Encode{frames}, {.depends_on = rendered});
  }
};
BOOST_DESCRIBE_STRUCT(RenderMovie, (), (frames))

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: weft-example-remote_runner HOST:PORT [--cluster C] "
                 "[--slots N] [--name N] [--cert F --key F --ca F]\n";
    return 2;
  }
  weft::remote::connect_options connect;
  weft::runner_options runner;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--cluster")
      runner.cluster = value;
    else if (flag == "--slots")
      runner.slots = static_cast<uint32_t>(std::stoul(value));
    else if (flag == "--name")
      runner.name = value;
    else if (flag == "--cert")
      connect.tls.certificate = value;
    else if (flag == "--key")
      connect.tls.key = value;
    else if (flag == "--ca")
      connect.tls.ca = value;
    else {
      std::cerr << "unknown option " << flag << "\n";
      return 2;
    }
  }
  // Runners on one machine share the job cache through the file system.
  runner.cache = weft::make_file_system_cache(
    std::filesystem::temp_directory_path() / "weft-example-cache");
  try {
    auto server = weft::remote::connect(argv[1], connect);
    auto r = server.make_runner(runner);
    r.register_tasks<RenderMovie, RenderFrame, Encode>();
    r.start();
    std::cout << "runner " << r.name() << " serves cluster "
              << r.options().cluster << " of " << server.address() << std::endl;
    r.run_forever();
    return 0;
  } catch (const weft::error& e) {
    std::cerr << "weft-example-remote_runner: " << e.what() << "\n";
    return 1;
  }
}
