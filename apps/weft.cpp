// The `weft` command: the orchestrator as a server, and a client of a
// remote one (jobs, clusters, certificates, pictures).

#include "weft/certs.hpp"
#include "weft/core/json_views.hpp"
#include "weft/core/uuid.hpp"
#include "weft/json.hpp"
#include "weft/remote.hpp"
#include "weft/server.hpp"
#include "weft/text.hpp"

#include <boost/json.hpp>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace json = boost::json;
using weft::core::to_json;

namespace {

constexpr const char* usage = R"(usage: weft COMMAND [ARGS] [OPTIONS]

The orchestrator:
  server --listen HOST:PORT [--data DIR] [--fsync always|never]
         [--cert F --key F --ca F] [--max-input-bytes N]
         [--progress-interval MS] [--max-message-bytes N]
         [--handshake-timeout-ms MS] [--max-connections N]
                          limits on what peers may send (docs/security.md)
         [--heartbeat-ms MS] [--connection-timeout-ms MS]
                          how often it tells peers it is alive (default
                          1000), and how long a silent peer is kept before
                          its runners' attempts are requeued (default 5000)
         [--http HOST:PORT [--http-token-file F] [--http-max-streams N]]
                          REST API, update stream, /metrics and the
                          dashboard at http(s)://HOST:PORT/ (docs/http.md)
         [--retention AGE] [--finished-in-memory N]
                          delete finished jobs submitted longer ago than AGE
                          (30d, 12h, 90m, 3600s; default: keep them); how
                          many finished jobs keep an actor in memory
                          (docs/journal.md)

Jobs on a server (--server HOST:PORT, default $WEFT_SERVER or 127.0.0.1:7100):
  submit --task NAME@vX.Y --input JSON|@FILE|- [--cluster C]
         [--max-retries N] [--name N]
                          --input @FILE reads the JSON from a file, --input -
                          from standard input (up to the server's
                          --max-input-bytes)
  jobs [--from TIME] [--to TIME] [--state STATE] [--name N] [--cluster C]
       [--limit N] [--cursor ID] [--newest]
                          oldest first (--newest: newest first), N per page
                          (default 100, 0: all); the next page starts after
                          --cursor, the last id shown
  job ID
  watch ID                live progress until the job ends (exit status 0
                          COMPLETED, 3 FAILED, 4 CANCELED)
  cancel ID
  retry ID
  visualize ID -o FILE.svg
  clusters create NAME | clusters list | clusters delete NAME

Certificates for TLS (files in --dir, default ./weft-certs):
  certs init
  certs issue NAME

Client options: --server HOST:PORT, --cert F --key F --ca F (TLS),
  --connect-timeout SECONDS (default 5), --json (machine-readable output).
TIME is 2026-11-22 or 2026-11-22T10:30:00Z (UTC).
Names: a job name is 1-1024 bytes of UTF-8 without control characters; a
  cluster name is 1-64 letters, digits, '-', '_' or '.'.

Exit status: 0 success; 1 the operation failed (server unreachable, request
  refused, unknown job...); 2 the command line is wrong (unknown command or
  option, malformed value, identifier, name, address, time or JSON input);
  watch: 3 the job FAILED, 4 it was CANCELED. Every error is one line on
  standard error.
)";

/// A command line: positional words and --flags with values.
struct command_line {
  std::vector<std::string> words;
  std::map<std::string, std::string> flags;
  std::set<std::string> switches;

  std::optional<std::string> flag(const std::string& name) const {
    auto i = flags.find(name);
    if (i == flags.end())
      return std::nullopt;
    return i->second;
  }

  bool has(const std::string& name) const {
    return switches.count(name) > 0;
  }
};

/// Thrown for a command line that cannot be run: exit status 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

command_line parse(int argc, char** argv) {
  static const std::set<std::string> known_switches{"--json", "--help",
                                                    "--newest"};
  static const std::set<std::string> known_flags{"--listen",
                                                 "--http",
                                                 "--http-token-file",
                                                 "--http-max-streams",
                                                 "--data",
                                                 "--fsync",
                                                 "--cert",
                                                 "--key",
                                                 "--ca",
                                                 "--server",
                                                 "--task",
                                                 "--input",
                                                 "--cluster",
                                                 "--max-retries",
                                                 "--name",
                                                 "--from",
                                                 "--to",
                                                 "--state",
                                                 "--dir",
                                                 "-o",
                                                 "--max-input-bytes",
                                                 "--connect-timeout",
                                                 "--progress-interval",
                                                 "--max-message-bytes",
                                                 "--handshake-timeout-ms",
                                                 "--max-connections",
                                                 "--heartbeat-ms",
                                                 "--connection-timeout-ms",
                                                 "--retention",
                                                 "--finished-in-memory",
                                                 "--limit",
                                                 "--cursor"};
  command_line cl;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h")
      arg = "--help";
    if (known_switches.count(arg)) {
      cl.switches.insert(arg);
    } else if (known_flags.count(arg)) {
      if (i + 1 >= argc)
        throw usage_error(arg + " needs a value");
      cl.flags[arg] = argv[++i];
    } else if (arg.size() > 1 && arg[0] == '-') {
      throw usage_error("unknown option " + weft::text::quote(arg)
                        + " (see weft --help)");
    } else {
      cl.words.push_back(arg);
    }
  }
  return cl;
}

/// A whole number for `flag`, at most `max`; too large is named as such.
uint64_t parse_count(const std::string& flag, const std::string& text,
                     uint64_t max = 999'999'999) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
    throw usage_error(flag + " wants a whole number, not "
                      + weft::text::quote(text));
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc::result_out_of_range || n > max)
    throw usage_error(flag + " " + weft::text::quote(text, 24)
                      + " is too large (max " + std::to_string(max) + ")");
  return n;
}

/// Like parse_count, refusing 0.
uint64_t parse_positive(const std::string& flag, const std::string& text) {
  auto n = parse_count(flag, text);
  if (n == 0)
    throw usage_error(flag + " must be at least 1");
  return n;
}

/// An age such as 30d, 12h, 90m or 3600s.
std::chrono::seconds parse_age(const std::string& flag,
                               const std::string& text) {
  auto unit = text.empty() ? '\0' : text.back();
  uint64_t scale = unit == 'd'   ? 86400
                   : unit == 'h' ? 3600
                   : unit == 'm' ? 60
                   : unit == 's' ? 1
                                 : 0;
  if (scale == 0)
    throw usage_error(flag
                      + " wants an age such as 30d, 12h, 90m or 3600s, "
                        "not "
                      + weft::text::quote(text));
  auto n = parse_count(flag, text.substr(0, text.size() - 1),
                       uint64_t{100'000'000'000} / scale);
  return std::chrono::seconds{static_cast<int64_t>(n * scale)};
}

/// A time flag's value, read by the SDK's `weft::parse_time`: what it
/// refuses is a usage error (exit status 2), not a failed operation.
weft::timestamp parse_time(const std::string& flag, const std::string& text) {
  try {
    return weft::parse_time(text);
  } catch (const weft::error& e) {
    throw usage_error(flag + ": " + e.what());
  }
}

weft::task_identifier parse_task(const std::string& text) {
  auto at = text.rfind('@');
  if (at == std::string::npos || at == 0)
    throw usage_error("--task wants NAME@vX.Y (such as ResizeImage@v1.0), "
                      "not "
                      + weft::text::quote(text));
  weft::task_identifier id{text.substr(0, at), text.substr(at + 1)};
  try {
    weft::validate_identifier(id);
  } catch (const weft::error& e) {
    throw usage_error(std::string{"--task: "} + e.what());
  }
  return id;
}

/// Runs a shared validator on a command-line value: what it refuses is a
/// usage error (exit status 2), not a failed operation.
template <class Fn>
void check_argument(const std::string& flag, Fn fn) {
  try {
    fn();
  } catch (const weft::error& e) {
    throw usage_error(flag.empty() ? std::string{e.what()}
                                   : flag + ": " + e.what());
  }
}

/// A command's job id argument: job ids are UUIDs, so anything else is a
/// typo that the server need not see.
std::string job_id_of(const std::string& word) {
  if (!weft::core::is_uuid(word))
    throw usage_error(weft::text::quote(word)
                      + " is not a job id: job ids are UUIDs such as "
                        "018dd029-58ca-74e5-8b58-b4f99d610f9a (see weft "
                        "jobs)");
  return word;
}

/// A name as a terminal shows it: names stored by older releases may hold
/// control characters or bytes that are not UTF-8.
std::string printable(const std::string& s) {
  return weft::text::one_line(s, std::numeric_limits<size_t>::max());
}

/// An errno value in words, as in "no such file or directory".
std::string reason_of(int err) {
  std::string why = std::strerror(err);
  if (!why.empty())
    why[0]
      = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
  return why;
}

/// The --input text: literal JSON, @FILE or - (standard input).
std::string read_input(const std::string& arg, std::string& source) {
  if (arg == "-") {
    source = "--input - (standard input)";
    std::string all{std::istreambuf_iterator<char>{std::cin}, {}};
    if (std::cin.bad())
      throw usage_error("--input -: cannot read standard input");
    return all;
  }
  if (arg.empty() || arg[0] != '@') {
    source = "--input";
    return arg;
  }
  auto path = arg.substr(1);
  source = "--input file " + weft::text::quote(path);
  std::unique_ptr<FILE, int (*)(FILE*)> file{std::fopen(path.c_str(), "rb"),
                                             &std::fclose};
  if (!file)
    throw usage_error("cannot open " + source + ": " + reason_of(errno));
  std::string all;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file.get())) > 0)
    all.append(buf, n);
  if (std::ferror(file.get()))
    throw usage_error("cannot read " + source + ": " + reason_of(errno));
  return all;
}

weft::tls_options tls_of(const command_line& cl) {
  weft::tls_options tls;
  if (auto x = cl.flag("--cert"))
    tls.certificate = *x;
  if (auto x = cl.flag("--key"))
    tls.key = *x;
  if (auto x = cl.flag("--ca"))
    tls.ca = *x;
  if (tls.enabled()
      && (tls.certificate.empty() || tls.key.empty() || tls.ca.empty()))
    throw usage_error("TLS needs --cert, --key and --ca together");
  return tls;
}

// -- output -------------------------------------------------------------------

void print_json(json::value v) {
  weft::core::make_valid_utf8(v);
  std::cout << json::serialize(v) << "\n";
}

// -- commands -----------------------------------------------------------------

int run_server(const command_line& cl) {
  weft::server_options opts;
  auto listen = cl.flag("--listen");
  if (!listen)
    throw usage_error("server needs --listen HOST:PORT (port 0 picks one)");
  check_argument("--listen",
                 [&] { opts.listen = weft::parse_address(*listen, true); });
  if (auto dir = cl.flag("--data"))
    opts.orchestrator.data_dir = *dir;
  if (auto fsync = cl.flag("--fsync")) {
    if (*fsync != "always" && *fsync != "never")
      throw usage_error("--fsync is always or never, not "
                        + weft::text::quote(*fsync));
    opts.orchestrator.fsync = *fsync == "always";
  }
  if (auto n = cl.flag("--max-input-bytes"))
    opts.orchestrator.max_input_bytes
      = parse_count("--max-input-bytes", *n, uint64_t{1} << 40);
  if (auto n = cl.flag("--progress-interval"))
    opts.orchestrator.progress_interval
      = std::chrono::milliseconds{parse_count("--progress-interval", *n)};
  if (auto age = cl.flag("--retention"))
    opts.orchestrator.retention = parse_age("--retention", *age);
  if (auto n = cl.flag("--finished-in-memory"))
    opts.orchestrator.finished_in_memory
      = parse_count("--finished-in-memory", *n, uint64_t{1} << 32);
  auto& limits = opts.network.limits;
  if (auto n = cl.flag("--max-message-bytes"))
    limits.max_message_bytes
      = parse_count("--max-message-bytes", *n, uint64_t{0xFFFFFFFFu});
  if (auto n = cl.flag("--handshake-timeout-ms"))
    limits.handshake_timeout
      = std::chrono::milliseconds{parse_count("--handshake-timeout-ms", *n)};
  if (auto n = cl.flag("--max-connections"))
    limits.max_connections
      = parse_count("--max-connections", *n, uint64_t{1} << 20);
  // 0 would turn CAF's heartbeats off, and a hung peer would never be
  // noticed.
  if (auto n = cl.flag("--heartbeat-ms"))
    opts.network.heartbeat
      = std::chrono::milliseconds{parse_positive("--heartbeat-ms", *n)};
  if (auto n = cl.flag("--connection-timeout-ms"))
    opts.network.connection_timeout = std::chrono::milliseconds{
      parse_positive("--connection-timeout-ms", *n)};
  if (opts.network.connection_timeout <= opts.network.heartbeat)
    throw usage_error("--connection-timeout-ms must be longer than "
                      "--heartbeat-ms (a peer would be dropped between two "
                      "heartbeats)");
  opts.network.tls = tls_of(cl);
  if (auto http = cl.flag("--http"))
    check_argument("--http", [&] {
      opts.http.listen = weft::parse_address(*http, true);
    });
  if (auto file = cl.flag("--http-token-file")) {
    if (!opts.http.listen)
      throw usage_error("--http-token-file needs --http HOST:PORT");
    opts.http.token_file = *file;
  }
  if (auto n = cl.flag("--http-max-streams"))
    opts.http.max_streams
      = parse_count("--http-max-streams", *n, uint64_t{1} << 20);
  weft::server srv{opts};
  if (!srv.recovery_note().empty())
    std::cerr << "weft: warning: " << srv.recovery_note() << "\n";
  // Brackets keep an IPv6 address readable as HOST:PORT.
  auto host = srv.host().find(':') != std::string::npos ? "[" + srv.host() + "]"
                                                        : srv.host();
  std::cout << "weft server listening on " << host << ":" << srv.port()
            << (srv.tls() ? " (TLS: only nodes with a certificate signed by "
                            "its CA may connect)"
                          : " (plain TCP on loopback: for development only; "
                            "give --cert, --key and --ca for TLS)")
            << "\n";
  if (srv.http_port() != 0) {
    auto& h = opts.http.listen->host;
    auto web = h.find(':') != std::string::npos ? "[" + h + "]" : h;
    std::cout << "dashboard and HTTP API at " << (srv.tls() ? "https" : "http")
              << "://" << web << ":" << srv.http_port() << "/"
              << (opts.http.token_file.empty() ? "" : " (bearer tokens)")
              << "\n";
  }
  if (opts.orchestrator.data_dir.empty())
    std::cout << "no --data: jobs live in memory and are lost when the "
                 "server stops\n";
  else
    std::cout << "journal in " << opts.orchestrator.data_dir.string()
              << " (fsync " << (opts.orchestrator.fsync ? "always" : "never")
              << ")\n";
  std::cout.flush();
  srv.run_until_signal();
  std::cout << "weft server stopping\n";
  std::cout.flush();
  srv.stop();
  std::cout << "weft server stopped\n";
  return 0;
}

int run_certs(const command_line& cl) {
  std::filesystem::path dir = cl.flag("--dir").value_or("weft-certs");
  if (cl.words.size() == 2 && cl.words[1] == "init") {
    auto files = weft::make_certificate_authority(dir);
    std::cout << "created certificate authority " << files.certificate.string()
              << " (key " << files.key.string()
              << ": keep it secret; it signs every node)\n";
    return 0;
  }
  if (cl.words.size() == 3 && cl.words[1] == "issue") {
    check_argument("", [&] { weft::validate_certificate_name(cl.words[2]); });
    auto files = weft::issue_certificate(dir, cl.words[2]);
    std::cout << "issued " << files.certificate.string() << " and "
              << files.key.string() << "; use them with --cert "
              << files.certificate.string() << " --key " << files.key.string()
              << " --ca " << (dir / "ca.pem").string() << "\n";
    return 0;
  }
  throw usage_error("certs init | certs issue NAME");
}

weft::job_client connect(const command_line& cl) {
  std::string address = "127.0.0.1:7100";
  std::string source = "--server";
  if (const char* env = std::getenv("WEFT_SERVER"); env && *env) {
    address = env;
    source = "$WEFT_SERVER";
  }
  if (auto x = cl.flag("--server")) {
    address = *x;
    source = "--server";
  }
  weft::network_address addr;
  check_argument(source, [&] { addr = weft::parse_address(address); });
  weft::remote::connect_options opts;
  opts.tls = tls_of(cl);
  opts.patience = std::chrono::seconds{5};
  if (auto t = cl.flag("--connect-timeout"))
    opts.patience
      = std::chrono::seconds{parse_count("--connect-timeout", *t, 86'400)};
  opts.scheduler_threads = 2;
  return weft::remote::connect(address, opts).jobs();
}

std::string one_word(const command_line& cl, const char* what) {
  if (cl.words.size() != 2)
    throw usage_error(cl.words[0] + " needs exactly one " + what);
  return cl.words[1];
}

std::string one_job_id(const command_line& cl) {
  return job_id_of(one_word(cl, "job id"));
}

int run_submit(const command_line& cl) {
  auto task = cl.flag("--task");
  auto input_arg = cl.flag("--input");
  if (!task || !input_arg)
    throw usage_error(
      "submit needs --task NAME@vX.Y and --input JSON (or @FILE, or - for "
      "standard input)");
  auto id = parse_task(*task);
  weft::submit_options opts;
  opts.cluster = cl.flag("--cluster").value_or("");
  if (!opts.cluster.empty())
    check_argument("--cluster",
                   [&] { weft::validate_cluster_name(opts.cluster); });
  if (auto n = cl.flag("--max-retries"))
    opts.max_retries = static_cast<uint32_t>(parse_count("--max-retries", *n));
  auto name = cl.flag("--name").value_or(id.name);
  check_argument("--name", [&] { weft::validate_job_name(name); });
  std::string source;
  auto input = read_input(*input_arg, source);
  // The check the server makes, made here so that a typo costs no round
  // trip and is reported as a usage error.
  check_argument(source, [&] { weft::json::parse_input(input); });
  auto jobs = connect(cl);
  auto info = jobs.submit(name, {weft::task_input{id, std::move(input)}}, opts);
  if (cl.has("--json"))
    print_json(to_json(info));
  else
    std::cout << "submitted job " << info.id << " (" << printable(info.name)
              << ") on cluster " << printable(info.cluster) << "\n";
  return 0;
}

int run_jobs(const command_line& cl) {
  weft::job_query q;
  if (auto x = cl.flag("--from"))
    q.from = parse_time("--from", *x);
  if (auto x = cl.flag("--to"))
    q.to = parse_time("--to", *x);
  if (auto x = cl.flag("--state")) {
    auto s = weft::parse_job_state(*x);
    if (!s)
      throw usage_error("--state is one of SUBMITTED, RUNNING, STARTED, "
                        "COMPLETED, FAILED, CANCELED, not "
                        + weft::text::quote(*x));
    q.states.push_back(*s);
  }
  q.name = cl.flag("--name").value_or("");
  if (!q.name.empty())
    check_argument("--name", [&] { weft::validate_job_name(q.name); });
  q.cluster = cl.flag("--cluster").value_or("");
  if (!q.cluster.empty())
    check_argument("--cluster",
                   [&] { weft::validate_cluster_name(q.cluster); });
  q.limit = static_cast<uint32_t>(
    parse_count("--limit", cl.flag("--limit").value_or("100"), UINT32_MAX));
  q.cursor = cl.flag("--cursor").value_or("");
  if (!q.cursor.empty() && !weft::core::is_uuid(q.cursor))
    throw usage_error("--cursor wants a job id (the last one a page showed), "
                      "not "
                      + weft::text::quote(q.cursor));
  q.newest_first = cl.has("--newest");
  auto jobs = connect(cl).query(q);
  if (cl.has("--json")) {
    json::array all;
    for (const auto& j : jobs)
      all.push_back(to_json(j));
    print_json(all);
    return 0;
  }
  if (jobs.empty()) {
    std::cout << "no jobs match\n";
    return 0;
  }
  std::cout << std::left << std::setw(38) << "ID" << std::setw(11) << "STATE"
            << std::setw(26) << "SUBMITTED" << std::setw(14) << "CLUSTER"
            << "NAME\n";
  for (const auto& j : jobs)
    std::cout << std::setw(38) << j.id << std::setw(11)
              << weft::to_string(j.state) << std::setw(26)
              << weft::format_time(j.submitted_at) << std::setw(14)
              << printable(j.cluster) << printable(j.name) << "\n";
  if (q.limit != 0 && jobs.size() == q.limit)
    std::cout << "more may follow: add --cursor " << jobs.back().id << "\n";
  return 0;
}

int run_job(const command_line& cl) {
  auto id = one_job_id(cl);
  auto client = connect(cl);
  auto info = client.find(id);
  // Work that waits: queued tasks whose cluster does not exist (never
  // created, or deleted under the job) or has no runner for them.
  std::vector<std::string> waiting;
  if (!weft::is_final(info.state)) {
    std::map<std::string, std::set<weft::task_identifier>> queued;
    for (const auto& t : client.tasks(id))
      if (t.state == weft::task_state::queued)
        queued[t.cluster].insert(t.identifier);
    for (const auto& [cluster, ids] : queued) {
      weft::cluster_info c;
      try {
        c = client.find_cluster(cluster);
      } catch (const weft::error& e) {
        if (e.code() == weft::errc::unknown_cluster)
          waiting.push_back("cluster " + cluster
                            + " does not exist: its tasks wait until it is "
                              "created (weft clusters create "
                            + cluster + ")");
        else
          waiting.push_back("cluster " + cluster + ": " + e.what());
        continue;
      }
      for (const auto& u : c.unserved)
        if (ids.count(u))
          waiting.push_back("no runner in cluster " + cluster + " can run "
                            + weft::to_string(u));
    }
  }
  if (cl.has("--json")) {
    auto o = to_json(info);
    json::array w;
    for (const auto& x : waiting)
      w.push_back(json::string{x});
    o["waiting"] = std::move(w);
    print_json(o);
    return 0;
  }
  std::cout << "job " << info.id << "\n"
            << "  name:      " << printable(info.name) << "\n"
            << "  state:     " << weft::to_string(info.state) << "\n"
            << "  cluster:   " << info.cluster << "\n"
            << "  submitted: " << weft::format_time(info.submitted_at) << "\n"
            << "  tasks:     " << info.stats.total_tasks;
  const char* sep = " (";
  for (size_t i = 0; i < weft::task_state_count; ++i)
    if (info.stats.tasks_by_state[i] > 0) {
      std::cout << sep << info.stats.tasks_by_state[i] << ' '
                << weft::to_string(static_cast<weft::task_state>(i));
      sep = ", ";
    }
  std::cout << (std::string{sep} == ", " ? ")" : "") << "\n";
  for (const auto& p : info.progress)
    std::cout << "  progress:  "
              << (p.label.empty() ? "(default)" : printable(p.label)) << " "
              << p.done << "/" << p.total << "\n";
  for (const auto& w : waiting)
    std::cout << "  waiting:   " << w << "\n";
  return 0;
}

std::string bar(std::optional<double> percent, size_t width = 30) {
  if (!percent)
    return "[" + std::string(width, '?') + "]";
  auto filled = static_cast<size_t>(*percent / 100.0 * width + 0.5);
  filled = std::min(filled, width);
  return "[" + std::string(filled, '#') + std::string(width - filled, '.')
         + "]";
}

std::string format_percent(std::optional<double> percent) {
  if (!percent)
    return "no estimate";
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << *percent << "%";
  return out.str();
}

std::string format_eta(std::optional<int64_t> ns) {
  if (!ns)
    return "ETA unknown";
  auto secs = *ns / 1'000'000'000;
  std::ostringstream out;
  out << "ETA ";
  if (secs >= 3600)
    out << secs / 3600 << "h" << std::setw(2) << std::setfill('0')
        << (secs % 3600) / 60 << "m";
  else if (secs >= 60)
    out << secs / 60 << "m" << std::setw(2) << std::setfill('0') << secs % 60
        << "s";
  else
    out << secs << "s";
  return out.str();
}

/// The lines of one frame of `weft watch`.
std::vector<std::string> frame(const weft::progress_update& u) {
  std::vector<std::string> lines;
  std::ostringstream head;
  head << "job " << u.job_id << " (" << printable(u.name) << ") "
       << weft::to_string(u.state) << ", " << u.stats.total_tasks << " tasks";
  const char* sep = ": ";
  for (size_t i = 0; i < weft::task_state_count; ++i)
    if (u.stats.tasks_by_state[i] > 0) {
      head << sep << u.stats.tasks_by_state[i] << ' '
           << weft::to_string(static_cast<weft::task_state>(i));
      sep = ", ";
    }
  lines.push_back(head.str());
  for (const auto& p : u.progress) {
    std::optional<double> pct;
    if (p.total > 0)
      pct = 100.0 * static_cast<double>(std::min(p.done, p.total))
            / static_cast<double>(p.total);
    std::ostringstream line;
    line << std::left << std::setw(16)
         << (p.label.empty() ? std::string{"progress"} : printable(p.label))
         << bar(pct) << " " << p.done << "/" << p.total;
    lines.push_back(line.str());
  }
  size_t shown = 0;
  for (const auto& item : u.items) {
    if (u.items.size() <= 1 || ++shown > 10)
      break;
    std::ostringstream line;
    auto label = printable(item.label.substr(0, item.label.find('\n')));
    line << "  " << std::left << std::setw(14) << label.substr(0, 14)
         << bar(item.percent, 20) << " " << format_percent(item.percent);
    lines.push_back(line.str());
  }
  std::ostringstream overall;
  overall << std::left << std::setw(16) << "overall" << bar(u.percent) << " "
          << format_percent(u.percent) << "  " << format_eta(u.eta_ns);
  lines.push_back(overall.str());
  return lines;
}

int run_watch(const command_line& cl) {
  auto id = one_job_id(cl);
  auto client = connect(cl);
  bool tty = ::isatty(STDOUT_FILENO) == 1 && !cl.has("--json");
  size_t drawn = 0;
  auto last = client.watch(id, [&](const weft::progress_update& u) {
    if (cl.has("--json")) {
      print_json(to_json(u));
      return;
    }
    auto lines = frame(u);
    if (!tty) {
      // One line per update when the output is not a terminal.
      std::string joined = lines.front();
      for (size_t i = 1; i < lines.size(); ++i)
        joined += " | " + lines[i];
      std::cout << joined << std::endl;
      return;
    }
    if (drawn > 0)
      std::cout << "\x1b[" << drawn << "F"; // back to the frame's start
    for (const auto& line : lines)
      std::cout << "\x1b[2K" << line << "\n";
    for (size_t i = lines.size(); i < drawn; ++i)
      std::cout << "\x1b[2K\n";
    drawn = std::max(drawn, lines.size());
    std::cout.flush();
  });
  switch (last.state) {
    case weft::job_state::completed: return 0;
    case weft::job_state::failed: return 3;
    case weft::job_state::canceled: return 4;
    default: return 1;
  }
}

int run_cancel_retry(const command_line& cl, bool cancel) {
  auto id = one_job_id(cl);
  auto client = connect(cl);
  auto n = cancel ? client.cancel(id) : client.retry(id);
  if (cl.has("--json"))
    print_json(json::object{{"id", id}, {cancel ? "canceled" : "requeued", n}});
  else
    std::cout << (cancel ? "canceled " : "requeued ") << n << " task(s) of job "
              << id << "\n";
  return 0;
}

int run_visualize(const command_line& cl) {
  auto id = one_job_id(cl);
  auto out = cl.flag("-o");
  if (!out)
    throw usage_error("visualize needs -o FILE.svg");
  auto svg = connect(cl).visualize(id);
  std::ofstream file{*out, std::ios::binary};
  file << svg;
  if (!file)
    throw weft::error(weft::errc::io_error, "cannot write "
                                              + weft::text::quote(*out) + ": "
                                              + reason_of(errno));
  if (!cl.has("--json"))
    std::cout << "wrote " << printable(*out) << "\n";
  else
    print_json(json::object{{"id", id}, {"file", *out}});
  return 0;
}

int run_clusters(const command_line& cl) {
  auto sub = cl.words.size() >= 2 ? cl.words[1] : std::string{};
  if (sub == "list" && cl.words.size() == 2) {
    auto all = connect(cl).clusters();
    if (cl.has("--json")) {
      json::array a;
      for (const auto& c : all)
        a.push_back(to_json(c));
      print_json(a);
      return 0;
    }
    std::cout << std::left << std::setw(20) << "NAME" << std::setw(9)
              << "RUNNERS" << std::setw(7) << "SLOTS" << std::setw(8)
              << "QUEUED"
              << "WAITING FOR A RUNNER\n";
    for (const auto& c : all) {
      uint64_t slots = 0;
      for (const auto& r : c.runners)
        slots += r.slots;
      std::string unserved;
      for (const auto& u : c.unserved)
        unserved += (unserved.empty() ? "" : ", ") + weft::to_string(u);
      std::cout << std::setw(20) << printable(c.name) << std::setw(9)
                << c.runners.size() << std::setw(7) << slots << std::setw(8)
                << c.queued << unserved << "\n";
    }
    return 0;
  }
  if ((sub == "create" || sub == "delete") && cl.words.size() == 3) {
    const auto& name = cl.words[2];
    check_argument("", [&] { weft::validate_cluster_name(name); });
    auto client = connect(cl);
    if (sub == "create") {
      auto info = client.create_cluster(name);
      if (cl.has("--json"))
        print_json(to_json(info));
      else
        std::cout << "created cluster " << name << "\n";
    } else {
      client.delete_cluster(name);
      if (cl.has("--json"))
        print_json(json::object{{"deleted", name}});
      else
        std::cout << "deleted cluster " << name << "\n";
    }
    return 0;
  }
  throw usage_error("clusters create NAME | clusters list | clusters delete "
                    "NAME");
}

int dispatch(const command_line& cl) {
  if (cl.has("--help") || cl.words.empty()) {
    std::cout << usage;
    return cl.words.empty() && !cl.has("--help") ? 2 : 0;
  }
  const auto& cmd = cl.words[0];
  if (cmd == "server")
    return run_server(cl);
  if (cmd == "certs")
    return run_certs(cl);
  if (cmd == "submit")
    return run_submit(cl);
  if (cmd == "jobs")
    return run_jobs(cl);
  if (cmd == "job")
    return run_job(cl);
  if (cmd == "watch")
    return run_watch(cl);
  if (cmd == "cancel")
    return run_cancel_retry(cl, true);
  if (cmd == "retry")
    return run_cancel_retry(cl, false);
  if (cmd == "visualize")
    return run_visualize(cl);
  if (cmd == "clusters")
    return run_clusters(cl);
  throw usage_error("unknown command " + weft::text::quote(cmd)
                    + " (see weft --help)");
}

} // namespace

int main(int argc, char** argv) {
  // Every error is one line: whatever a message echoes (inputs, names,
  // server replies) is escaped and its length bounded here once more.
  auto report = [](const char* what) {
    std::cerr << "weft: " << weft::text::one_line(what) << "\n";
  };
  try {
    return dispatch(parse(argc, argv));
  } catch (const usage_error& e) {
    report(e.what());
    return 2;
  } catch (const std::exception& e) {
    report(e.what());
    return 1;
  }
}
