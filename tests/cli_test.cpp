// The `weft` command against a real `weft server`: every error is one
// escaped, bounded line; misuse exits 2 and failed operations 1; addresses,
// identifiers, names, times and JSON inputs are checked strictly; inputs
// come from files and standard input; --json output is always valid UTF-8.

#include "servers.hpp"

#include <weft/network.hpp>
#include <weft/remote.hpp>
#include <weft/text.hpp>
#include <weft/weft.hpp>

#include <boost/json.hpp>

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>
#include <memory>
#include <sstream>

using namespace std::chrono_literals;
using weft::test::child_process;
using weft::test::start_server;
using weft::test::temp_dir;
namespace fs = std::filesystem;

namespace {

struct cli_result {
  int status = -1;
  std::string out;
  std::string err;
};

/// Runs the `weft` command, its output kept in `dir`.
struct cli {
  fs::path dir;
  int runs = 0;

  cli_result operator()(std::vector<std::string> args,
                        const fs::path& stdin_file = {}) {
    args.insert(args.begin(), WEFT_CLI);
    child_process p{args, dir / ("cli-" + std::to_string(++runs) + ".out"),
                    stdin_file};
    REQUIRE(p.started());
    cli_result r;
    r.status = p.wait(60s);
    r.out = p.output();
    r.err = p.errors();
    return r;
  }
};

/// The error is exactly one line: a single '\n' at its end, no other
/// control character (U+202E included), valid UTF-8, at most `max` bytes.
void check_one_line(const std::string& err, size_t max = 400) {
  INFO("stderr: " << err);
  REQUIRE_FALSE(err.empty());
  CHECK(err.back() == '\n');
  CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  bool raw_control = false;
  for (size_t i = 0; i + 1 < err.size(); ++i) {
    auto c = static_cast<unsigned char>(err[i]);
    raw_control = raw_control || c < 0x20 || c == 0x7f;
  }
  CHECK_FALSE(raw_control);
  CHECK(err.find("\xE2\x80\xAE") == std::string::npos);
  CHECK(weft::text::invalid_utf8_offset(err) == std::string::npos);
  CHECK(err.size() <= max);
  CHECK(err.rfind("weft: ", 0) == 0);
}

/// Parses `text` as strict JSON: UTF-8 checked byte by byte, then Boost.JSON
/// (which refuses bad UTF-8 too), then Python's strict decoder when present.
void check_strict_json(const std::string& text, const fs::path& dir) {
  INFO("output: " << text.substr(0, 500));
  CHECK(weft::text::invalid_utf8_offset(text) == std::string::npos);
  boost::system::error_code ec;
  boost::json::parse(text, ec);
  CHECK_FALSE(ec);
  if (!fs::exists("/usr/bin/python3"))
    return;
  static int n = 0;
  auto file = dir / ("json-" + std::to_string(++n) + ".txt");
  std::ofstream{file, std::ios::binary} << text;
  child_process py{{"/usr/bin/python3", "-c",
                    "import json,sys; "
                    "json.loads(sys.stdin.buffer.read().decode('utf-8',"
                    "'strict'))"},
                   dir / ("python-" + std::to_string(n) + ".out"),
                   file};
  CHECK(py.wait(30s) == 0);
  CHECK(py.errors().empty());
}

std::string id_in(const std::string& json_text) {
  auto v = boost::json::parse(json_text);
  return std::string{v.at("id").as_string()};
}

bool ipv6_loopback_available() {
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0)
    return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// -- tasks run by the tests' own runner ---------------------------------------

/// Reports a progress label that is not UTF-8 and a display name with an
/// escape sequence, a newline and a byte that is not UTF-8.
struct odd_reporter {
  static weft::task_identifier identifier() {
    return {"OddReporter", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    ctx.progress("bad\xff label").add(2).done(1);
    ctx.set_display("x\x1b[31my\nz\xfe");
  }
};
BOOST_DESCRIBE_STRUCT(odd_reporter, (), ())

struct json_child {
  int n = 0;
  static weft::task_identifier identifier() {
    return {"JsonChild", "v1.0"};
  }
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(json_child, (), (n))

/// Subtask inputs for json_parent, by index: bad ones, then a good one.
/// (An index, since an input that is not UTF-8 cannot travel as a string
/// field of the parent's own JSON input.)
const std::vector<std::string> child_inputs{"{\"n\": 1,", "[1]",
                                            "{\"n\": \"\xff\"}", "{\"n\": 1}"};

/// Submits a subtask whose JSON input is `child_inputs[which]`.
struct json_parent {
  size_t which = 0;
  static weft::task_identifier identifier() {
    return {"JsonParent", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    ctx.submit_json(json_child::identifier(), child_inputs.at(which));
  }
};
BOOST_DESCRIBE_STRUCT(json_parent, (), (which))

} // namespace

TEST_CASE("cli: every error is one escaped, bounded line; misuse exits 2, "
          "a failed operation 1",
          "[cli]") {
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0");
  cli run{dir.path};
  struct expectation {
    std::vector<std::string> args;
    int status;
    std::vector<std::string> contains;
    std::vector<std::string> absent;
  };
  auto server = srv.address();
  std::string deep
    = "{\"a\":" + std::string(40, '[') + std::string(40, ']') + "}";
  std::vector<expectation> cases{
    // Control characters are shown escaped.
    {{"submit", "--task", "Leaf@v1.0\n", "--input", "{}"},
     2,
     {R"(invalid version "v1.0\n")"},
     {}},
    {{"submit", "--task", "Leaf@v1.0", "--input", "{}", "--\x1b[31mred"},
     2,
     {R"(unknown option "--\x1b[31mred")"},
     {}},
    {{"\xE2\x80\xAEsubmit"}, 2, {R"(unknown command "\u202esubmit")"}, {}},
    // Long inputs are cut, with their size.
    {{"job", std::string(5000, 'a'), "--server", server},
     2,
     {"...\" (5000 bytes) is not a job id"},
     {}},
    {{"submit", "--task", std::string(5000, 'T') + "@v1.0", "--input", "{}"},
     2,
     {"must be 1 to 256 bytes long, not 5000", "(5000 bytes)"},
     {}},
    // Identifiers: malformed is misuse, whatever the part; overflow is
    // named as such.
    {{"submit", "--task", "x@v1", "--input", "{}"}, 2, {"invalid version"}, {}},
    {{"submit", "--task", "@v1.0", "--input", "{}"}, 2, {"NAME@vX.Y"}, {}},
    {{"submit", "--task", "x@v99999999999.0", "--input", "{}"},
     2,
     {"version number 99999999999", "is too large (max 4294967295)"},
     {"must match"}},
    {{"submit", "--task", "Leaf@v1.0", "--input", "{}", "--max-retries",
      "99999999999999999999999"},
     2,
     {"is too large (max 999999999)"},
     {}},
    // Advice that works: an invalid cluster name gets the rule, a valid
    // unknown one the command that creates it.
    {{"submit", "--task", "Leaf@v1.0", "--input", "{}", "--cluster", "bad name",
      "--server", server},
     2,
     {"cluster name \"bad name\" is not 1 to 64 letters, digits"},
     {"clusters create"}},
    {{"submit", "--task", "Leaf@v1.0", "--input", "{}", "--cluster", "nosuch",
      "--server", server},
     1,
     {"`weft clusters create nosuch`"},
     {}},
    {{"clusters", "create", "bad name", "--server", server},
     2,
     {"letters, digits"},
     {}},
    // JSON: line and column, invalid UTF-8 and depth named as such.
    {{"submit", "--task", "Leaf@v1.0", "--input", "{\n  \"a\": 1,\n  b: 2\n}"},
     2,
     {"--input: malformed JSON at offset 14 (line 3, column 3)"},
     {}},
    {{"submit", "--task", "Leaf@v1.0", "--input", "{\"a\": \"\xff\"}"},
     2,
     {"at offset 7 (line 1, column 8): invalid UTF-8 (byte 0xff)"},
     {"syntax"}},
    {{"submit", "--task", "Leaf@v1.0", "--input", deep},
     2,
     {"nested deeper than 32 levels"},
     {"too deep"}},
    {{"submit", "--task", "Leaf@v1.0", "--input", "[1, 2]"},
     2,
     {"not a JSON object but an array"},
     {}},
    // Times are checked against the calendar.
    {{"jobs", "--from", "2026-02-30", "--server", server},
     2,
     {"is not a date (February 2026 has 28 days)"},
     {}},
    {{"jobs", "--to", "2026-13-01", "--server", server},
     2,
     {"no month 13"},
     {}},
    {{"jobs", "--from", "2026-11-22T24:00:00Z", "--server", server},
     2,
     {"no such time of day"},
     {}},
    {{"jobs", "--from", "2026-11-22T10:30:00", "--server", server},
     2,
     {"is not a time"},
     {}},
    {{"jobs", "--from", "1969-12-31", "--server", server},
     2,
     {"outside the years"},
     {}},
    // Other commands' arguments.
    {{"certs", "issue", "bad name", "--dir", (dir.path / "certs").string()},
     2,
     {"certificate name \"bad name\" must be 1 to 64 letters"},
     {}},
    {{"server", "--listen", "127.0.0.1:0", "--fsync", "sometimes\n"},
     2,
     {R"(--fsync is always or never, not "sometimes\n")"},
     {}},
    {{"server", "--listen", "127.0.0.1:65536"},
     2,
     {"--listen: address \"127.0.0.1:65536\" has port 65536"},
     {}},
    // 0 would turn the heartbeats off; a timeout within one heartbeat
    // would drop every peer.
    {{"server", "--listen", "127.0.0.1:0", "--heartbeat-ms", "0"},
     2,
     {"--heartbeat-ms must be at least 1"},
     {}},
    {{"server", "--listen", "127.0.0.1:0", "--heartbeat-ms", "500",
      "--connection-timeout-ms", "500"},
     2,
     {"--connection-timeout-ms must be longer than --heartbeat-ms"},
     {}},
    // A failed operation: no CAF terms.
    {{"jobs", "--server", "127.0.0.1:1", "--connect-timeout", "1"},
     1,
     {"cannot reach the server at 127.0.0.1:1: connection refused"},
     {"system_error", "cannot_connect", "ip_connect", "(("}},
    {{"job", "01a2037f-caef-70b2-8438-12d1f925d3cc", "--server", server},
     1,
     {"no job with id 01a2037f-caef-70b2-8438-12d1f925d3cc"},
     {}},
  };
  for (const auto& c : cases) {
    auto r = run(c.args);
    std::string shown;
    for (const auto& a : c.args)
      shown += weft::text::quote(a, 40) + " ";
    INFO("weft " << shown << "-> " << r.status << ": " << r.err);
    CHECK(r.status == c.status);
    check_one_line(r.err);
    for (const auto& x : c.contains)
      CHECK_THAT(r.err, Catch::Contains(x));
    for (const auto& x : c.absent)
      CHECK_THAT(r.err, !Catch::Contains(x));
  }
  // Valid times of both forms, a leap day included.
  for (std::string t : {"2024-02-29", "2026-11-22T10:30:00Z"}) {
    auto r
      = run({"jobs", "--from", t, "--to", "2261-12-31", "--server", server});
    INFO(t << ": " << r.err);
    CHECK(r.status == 0);
  }
  // The statuses are documented.
  auto help = run({"--help"});
  CHECK(help.status == 0);
  CHECK_THAT(help.out, Catch::Contains("Exit status")
                         && Catch::Contains("2 the command line is wrong")
                         && Catch::Contains("1 the operation failed"));
}

TEST_CASE("cli: addresses are exactly HOST:PORT, an IPv6 host in brackets",
          "[cli]") {
  temp_dir dir;
  cli run{dir.path};
  struct expectation {
    std::string address;
    std::string contains;
  };
  std::vector<expectation> bad{
    {"127.0.0.1:7100:1", "more than one ':'"},
    {"::1:7100", "more than one ':'"},
    {"127.0.0.1:99999999999", "port 99999999999, which is too large"},
    {"127.0.0.1:65536", "too large (ports are 1-65535)"},
    {"127.0.0.1:0", "port 0"},
    {"127.0.0.1:", "no port number"},
    {"127.0.0.1", "has no port"},
    {":7100", "has no host"},
    {"[::1", "no ']'"},
    {"[::1]7100", "no ':PORT' after ']'"},
    {"[localhost]:7100", "no IPv6 address"},
    {"bad host:7100", "not a name or an IP address"},
  };
  for (const auto& b : bad) {
    auto r = run({"jobs", "--server", b.address});
    INFO(b.address << " -> " << r.err);
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains(b.contains));
    check_one_line(r.err);
  }
  auto a = weft::parse_address("[::1]:7100");
  CHECK(a.host == "::1");
  CHECK(a.port == 7100);
  CHECK(weft::parse_address("localhost:1").port == 1);
  CHECK(weft::parse_address("127.0.0.1:00080").port == 80);
  CHECK(weft::is_loopback("::1"));
  CHECK(weft::is_loopback("0:0:0:0:0:0:0:1"));
  CHECK_FALSE(weft::is_loopback("::2"));
  if (!ipv6_loopback_available()) {
    WARN("no IPv6 loopback here: the [::1] server is not tried");
    return;
  }
  auto srv = start_server(dir.path, "[::1]:0");
  CHECK(srv.host == "[::1]");
  auto r = run({"jobs", "--server", srv.address()});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("no jobs match"));
}

TEST_CASE("cli: names are printable UTF-8, checked by the command and by "
          "the server",
          "[cli]") {
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0");
  cli run{dir.path};
  std::vector<std::string> bad_names{"bad\xffname",
                                     "esc\x1b[31mape",
                                     "line\nbreak",
                                     "rtl\xE2\x80\xAE"
                                     "evil",
                                     "tab\tname",
                                     "",
                                     std::string(1025, 'n')};
  for (const auto& name : bad_names) {
    INFO("name " << weft::text::quote(name));
    // The unreachable server shows the check comes before connecting.
    auto r = run({"submit", "--task", "Leaf@v1.0", "--input", "{}", "--name",
                  name, "--server", "127.0.0.1:1"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("--name:"));
    check_one_line(r.err);
  }
  // A client that skips the command line meets the same rules at the
  // server.
  weft::remote::connect_options opts;
  opts.scheduler_threads = 2;
  opts.patience = 10s;
  auto conn = weft::remote::connect(srv.address(), opts);
  auto jobs = conn.jobs();
  weft::task_input leaf{{"Leaf", "v1.0"}, "{}"};
  for (const auto& name : bad_names) {
    INFO("name " << weft::text::quote(name));
    try {
      jobs.submit(name, {leaf});
      FAIL("the server accepted the job name");
    } catch (const weft::error& e) {
      CHECK(e.code() == weft::errc::invalid_argument);
      CHECK_THAT(e.what(), Catch::Contains("job name"));
      CHECK(weft::text::control_offset(e.what()) == std::string::npos);
    }
  }
  for (std::string cluster : {"bad name", "gpu\x1b", "\xE2\x80\xAEgpu"}) {
    INFO("cluster " << weft::text::quote(cluster));
    CHECK_THROWS_WITH(jobs.create_cluster(cluster),
                      Catch::Contains("letters, digits"));
    CHECK_THROWS_WITH(jobs.submit("ok", {leaf}, {.cluster = cluster}),
                      Catch::Contains("letters, digits")
                        && !Catch::Contains("clusters create"));
  }
  CHECK_THROWS_WITH(jobs.submit("ok", {{{"Leaf", "v1.0"}, "{\"a\":"}}),
                    Catch::Contains("malformed JSON at offset 5"));
  CHECK(jobs.query({}).empty());
  // Printable names of any script pass.
  auto r = run({"submit", "--task", "Leaf@v1.0", "--input", "{}", "--name",
                "café ✓ 日本語", "--json", "--server", srv.address()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto listed = run({"jobs", "--json", "--server", srv.address()});
  check_strict_json(listed.out, dir.path);
  CHECK_THAT(listed.out, Catch::Contains("café ✓ 日本語"));
}

TEST_CASE("cli: --input @FILE and --input - carry inputs up to the server's "
          "limit",
          "[cli]") {
  temp_dir dir;
  auto srv
    = start_server(dir.path, "127.0.0.1:0", {"--max-input-bytes", "3000000"});
  cli run{dir.path};
  auto write_input = [&](const std::string& file, size_t size) {
    auto path = dir.path / file;
    std::ofstream{path, std::ios::binary} << "{\"blob\": \""
                                          << std::string(size, 'x') << "\"}";
    return path;
  };
  // 1.5 MB from a file: far above one argument (128 KiB) and the client's
  // former 1 MiB guess, below the server's limit.
  auto big = write_input("big.json", 1'500'000);
  auto r = run({"submit", "--task", "Leaf@v1.0", "--input", "@" + big.string(),
                "--json", "--server", srv.address()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto id = id_in(r.out);
  // 200 KiB from standard input.
  auto piped = write_input("piped.json", 200 * 1024);
  r = run({"submit", "--task", "Leaf@v1.0", "--input", "-", "--json",
           "--server", srv.address()},
          piped);
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(id_in(r.out) != id);
  auto listed = run({"jobs", "--json", "--server", srv.address()});
  CHECK_THAT(listed.out, Catch::Contains(id));
  // Above the server's limit: a failed operation, in one line.
  auto huge = write_input("huge.json", 3'100'000);
  r = run({"submit", "--task", "Leaf@v1.0", "--input", "@" + huge.string(),
           "--server", srv.address()});
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("above the limit of 3000000 bytes"));
  check_one_line(r.err);
  // A missing file, a directory, empty standard input: misuse, one line.
  r = run({"submit", "--task", "Leaf@v1.0", "--input",
           "@" + (dir.path / "missing.json").string(), "--server",
           srv.address()});
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("cannot open --input file")
                      && Catch::Contains("no such file or directory"));
  check_one_line(r.err);
  r = run({"submit", "--task", "Leaf@v1.0", "--input", "@" + dir.path.string(),
           "--server", srv.address()});
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("is a directory"));
  check_one_line(r.err);
  std::ofstream{dir.path / "empty.json"};
  r = run({"submit", "--task", "Leaf@v1.0", "--input", "-", "--server",
           srv.address()},
          dir.path / "empty.json");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("--input - (standard input): malformed "
                                    "JSON at offset 0"));
  check_one_line(r.err);
}

TEST_CASE("cli: --json output is valid UTF-8 even for what tasks report",
          "[cli]") {
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0");
  cli run{dir.path};
  weft::remote::connect_options opts;
  opts.scheduler_threads = 2;
  opts.patience = 10s;
  auto conn = weft::remote::connect(srv.address(), opts);
  auto runner = conn.make_runner(
    {.cluster = "default", .slots = 1, .name = "odd \xff runner"});
  runner.register_tasks<odd_reporter>();
  runner.start();
  auto jobs = conn.jobs();
  auto job = jobs.submit("odd", odd_reporter{});
  REQUIRE(jobs.wait(job.id, 60s).state == weft::job_state::completed);
  // The display name is stored printable, its newline kept.
  CHECK(jobs.tasks(job.id).at(0).display == "x\\x1b[31my\nz\xEF\xBF\xBD");
  for (std::vector<std::string> args :
       {std::vector<std::string>{"job", job.id, "--json"},
        std::vector<std::string>{"jobs", "--json"},
        std::vector<std::string>{"watch", job.id, "--json"},
        std::vector<std::string>{"clusters", "list", "--json"}}) {
    args.push_back("--server");
    args.push_back(srv.address());
    auto r = run(args);
    INFO(args[0] << ": " << r.err);
    CHECK(r.status == 0);
    std::istringstream lines{r.out};
    std::string line;
    while (std::getline(lines, line))
      check_strict_json(line, dir.path);
  }
  // The terminal form shows the label escaped.
  auto r = run({"job", job.id, "--server", srv.address()});
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains(R"(bad\xff label 1/2)"));
  CHECK(weft::text::invalid_utf8_offset(r.out) == std::string::npos);
  runner.stop();
}

TEST_CASE("cli: submit_json in a task checks its JSON as a root submit "
          "does",
          "[cli]") {
  weft::local_cluster_options opts;
  opts.runners = {weft::runner_options{}};
  opts.runners[0].slots = 1;
  opts.scheduler_threads = 2;
  weft::local_cluster lc{opts};
  lc.register_tasks<json_parent, json_child>();
  lc.start();
  auto jobs = lc.jobs();
  for (size_t which = 0; which + 1 < child_inputs.size(); ++which) {
    const auto& input = child_inputs[which];
    INFO("input " << weft::text::quote(input));
    // The root submit's refusal is the reference.
    std::string refusal;
    try {
      jobs.submit("root", {{json_child::identifier(), input}});
      FAIL("root submit accepted the input");
    } catch (const weft::error& e) {
      CHECK(e.code() == weft::errc::invalid_input);
      refusal = e.what();
    }
    auto reason = refusal.substr(refusal.find(": ") + 2);
    auto job = jobs.submit("parent", json_parent{which});
    auto done = jobs.wait(job.id, 30s);
    CHECK(done.state == weft::job_state::failed);
    auto tasks = jobs.tasks(job.id);
    REQUIRE(tasks.size() == 1); // the child was never created
    CHECK(tasks[0].state == weft::task_state::failed);
    REQUIRE_FALSE(tasks[0].history.empty());
    CHECK_THAT(tasks[0].history.back().error,
               Catch::Contains("input of subtask JsonChild@v1.0: " + reason));
  }
  // Valid JSON still makes a child.
  auto ok = jobs.submit("parent", json_parent{child_inputs.size() - 1});
  CHECK(jobs.wait(ok.id, 30s).state == weft::job_state::completed);
  CHECK(jobs.tasks(ok.id).size() == 2);
}

TEST_CASE("cli: text rules escape, cut, replace and validate", "[cli]") {
  using namespace weft::text;
  CHECK(escape("a\nb\x1b\t\"\\") == R"(a\nb\x1b\t\"\\)");
  CHECK(escape("\xE2\x80\xAE") == R"(\u202e)");
  CHECK(escape("\xC2\x85") == R"(\u0085)");
  CHECK(escape("bad\xff") == R"(bad\xff)");
  CHECK(escape("café ✓") == "café ✓");
  CHECK(quote("abc") == "\"abc\"");
  CHECK(quote(std::string(5000, 'a'))
        == "\"" + std::string(80, 'a') + "...\" (5000 bytes)");
  CHECK(one_line("a\nb\\n") == R"(a\nb\n)");
  CHECK(one_line(std::string(2000, 'x'), 10)
        == std::string(10, 'x') + "... (2000 bytes)");
  CHECK(to_valid_utf8("a\xff"
                      "b")
        == "a\xEF\xBF\xBD"
           "b");
  CHECK(to_valid_utf8("ok ✓") == "ok ✓");
  CHECK(invalid_utf8_offset("ab\xC0\xAF") == 2); // overlong '/'
  CHECK(control_offset("a\nb", true) == std::string::npos);
  CHECK(control_offset("a\nb") == 1);
  CHECK(weft::clean_display_name("a\nb\x1b"
                                 "c\xff",
                                 1024)
        == "a\nb\\x1bc\xEF\xBF\xBD");
  CHECK(weft::clean_display_name("ééé", 2) == "éé");
  CHECK_NOTHROW(weft::validate_job_name("café ✓"));
  CHECK_THROWS_WITH(weft::validate_job_name("a\xE2\x80\xAE"),
                    Catch::Contains(R"("a\u202e" contains a control)"));
  CHECK_THROWS_WITH(weft::validate_job_name("a\xff"),
                    Catch::Contains("not valid UTF-8 (byte 1)"));
  CHECK_NOTHROW(weft::validate_cluster_name("gpu-2.eu_west"));
  CHECK_THROWS(weft::validate_cluster_name(std::string(65, 'c')));
  CHECK_THROWS_WITH(weft::parse_version("v4294967296.0"),
                    Catch::Contains("version number 4294967296 in "
                                    "\"v4294967296.0\" is too large"));
  CHECK(weft::parse_version("v4294967295.0").major == 4294967295u);
  CHECK_THROWS_WITH(weft::json::parse("{\"a\": \"\xE2\x82\"}"),
                    Catch::Contains("offset 7 (line 1, column 8): invalid "
                                    "UTF-8 (byte 0xe2)"));
}

TEST_CASE("cli: a server whose port is taken says so in plain words", "[cli]") {
  temp_dir dir;
  cli run{dir.path};
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  auto address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  auto r = run({"server", "--listen", address});
  ::close(fd);
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("cannot listen on " + address
                                    + ": address already in use"));
  CHECK_THAT(r.err, !Catch::Contains("system_error")
                      && !Catch::Contains("cannot_open_port"));
  check_one_line(r.err);
}
