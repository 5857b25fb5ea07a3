// Two progress indicators, as on the Tilebox progress page: a job
// "downloads" images (reads local files into the job cache) and converts
// each to grayscale, reporting "download" and "process" as it goes. The
// images are generated first, so the example needs no network.

#include <weft/weft.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;

namespace {

/// A binary PPM (P6) of w x h random colours.
std::string make_ppm(int w, int h, std::mt19937& rng) {
  std::ostringstream out;
  out << "P6\n" << w << " " << h << "\n255\n";
  std::uniform_int_distribution<int> byte{0, 255};
  for (int i = 0; i < w * h * 3; ++i)
    out.put(static_cast<char>(byte(rng)));
  return out.str();
}

/// PPM (P6) to PGM (P5) with the usual luma weights.
std::string to_grayscale(const std::string& ppm) {
  std::istringstream in{ppm};
  std::string magic;
  int w = 0;
  int h = 0;
  int max = 0;
  in >> magic >> w >> h >> max;
  in.get();
  if (magic != "P6" || w <= 0 || h <= 0 || max != 255)
    throw std::runtime_error("not a binary 8-bit PPM image");
  std::ostringstream out;
  out << "P5\n" << w << " " << h << "\n255\n";
  for (int i = 0; i < w * h; ++i) {
    auto r = static_cast<unsigned char>(in.get());
    auto g = static_cast<unsigned char>(in.get());
    auto b = static_cast<unsigned char>(in.get());
    out.put(static_cast<char>(0.299 * r + 0.587 * g + 0.114 * b));
  }
  return out.str();
}

} // namespace

struct download_image {
  std::string url; // a local path stands in for the URL
  std::string image_name;
  void execute(weft::context& ctx) const {
    std::ifstream in{url, std::ios::binary};
    if (!in)
      throw std::runtime_error("cannot download " + url);
    std::stringstream bytes;
    bytes << in.rdbuf();
    std::this_thread::sleep_for(std::chrono::milliseconds{30}); // the network
    ctx.job_cache()[image_name] = bytes.str();
    ctx.progress("download").done(1);
  }
};
BOOST_DESCRIBE_STRUCT(download_image, (), (url, image_name))

struct to_grayscale_task {
  std::string input_image;
  std::string output_name;
  static weft::task_identifier identifier() {
    return {"ToGrayscale", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    auto gray = to_grayscale(ctx.job_cache()[input_image]);
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    ctx.job_cache()[output_name] = gray;
    ctx.progress("process").done(1);
  }
};
BOOST_DESCRIBE_STRUCT(to_grayscale_task, (), (input_image, output_name))

struct download_images {
  std::vector<std::string> image_urls;
  void execute(weft::context& ctx) const {
    auto n = image_urls.size();
    ctx.progress("download").add(n);
    ctx.progress("process").add(n);
    for (size_t i = 0; i < n; ++i) {
      std::ostringstream name;
      name << "image_" << std::setw(4) << std::setfill('0') << i << ".ppm";
      std::ostringstream gray;
      gray << "image_gray_" << std::setw(4) << std::setfill('0') << i << ".pgm";
      auto download
        = ctx.submit_subtask(download_image{image_urls[i], name.str()});
      ctx.submit_subtask(to_grayscale_task{name.str(), gray.str()},
                         {.depends_on = {download}});
    }
  }
};
BOOST_DESCRIBE_STRUCT(download_images, (), (image_urls))

int main(int argc, char** argv) {
  int count = argc > 1 ? std::stoi(argv[1]) : 24;
  auto dir = fs::temp_directory_path() / "weft-example-images";
  fs::create_directories(dir);
  std::mt19937 rng{42};
  std::vector<std::string> urls;
  for (int i = 0; i < count; ++i) {
    auto path = dir / ("source_" + std::to_string(i) + ".ppm");
    std::ofstream{path, std::ios::binary} << make_ppm(64, 48, rng);
    urls.push_back(path.string());
  }

  // The job cache on disk, so the results can be looked at afterwards.
  weft::local_cluster_options opts;
  opts.cache = weft::make_file_system_cache(dir / "cache");
  opts.runners[0].slots = 4;
  weft::local_cluster cluster{opts};
  cluster.register_tasks<download_images, download_image, to_grayscale_task>();
  cluster.start();
  auto jobs = cluster.jobs();
  auto job = jobs.submit("download-images", download_images{urls});
  std::cout << "submitted job " << job.id << "\n";
  for (;;) {
    auto now = jobs.find(job.id);
    std::cout << std::left << std::setw(10) << weft::to_string(now.state);
    for (const auto& p : now.progress)
      std::cout << "  " << p.label << " " << p.done << "/" << p.total;
    std::cout << "\n";
    if (weft::is_final(now.state) && now.running == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{150});
  }
  auto done = jobs.wait(job.id);
  // A picture of the job, next to where the example runs.
  std::ofstream{"download-images.svg"} << jobs.visualize(job.id);
  std::cout << "job " << done.id << " (" << done.name
            << "): " << weft::to_string(done.state) << ", "
            << done.stats.total_tasks << " tasks, parallelism "
            << std::setprecision(2) << done.stats.parallelism << "\n"
            << "grayscale images in "
            << (dir / "cache" / (done.id + ".g")).string()
            << "\npicture of the job in "
            << (fs::current_path() / "download-images.svg").string() << "\n";
  return done.state == weft::job_state::completed ? 0 : 1;
}
