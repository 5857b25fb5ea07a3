// The HTTP listener against a real `weft server --http` process and real
// runner processes, through a real HTTP client: every endpoint, every
// error status, tokens, HTTPS, and the update stream.

#include "exposition.hpp"
#include "http_client.hpp"
#include "servers.hpp"
#include "wait.hpp"

#include <weft/server.hpp>

#include <boost/json.hpp>

#include <sys/socket.h>

#include <fstream>

using namespace weft::test;
namespace json = boost::json;

namespace {

struct http_server {
  server_process srv;
  http_target http;
};

http_server start_http(const fs::path& dir,
                       std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--http", "127.0.0.1:0", "--progress-interval",
                                "100"};
  for (auto& x : extra)
    args.push_back(x);
  http_server s;
  s.srv = start_server(dir, "127.0.0.1:0", args);
  s.http.port = http_port_of(*s.srv.proc);
  return s;
}

double num(const json::value& v) {
  if (v.is_int64())
    return static_cast<double>(v.get_int64());
  if (v.is_uint64())
    return static_cast<double>(v.get_uint64());
  return v.as_double();
}

std::string str(const json::value& v) {
  const auto& s = v.as_string();
  return std::string{s.data(), s.size()};
}

json::value body_of(const http_response& r) {
  INFO("body: " << r.body);
  return json::parse(r.body);
}

std::string error_code(const http_response& r) {
  auto v = body_of(r);
  return str(v.at("error").at("code"));
}

std::string submit_body(const std::string& task, const std::string& input,
                        const std::string& name = "web") {
  return "{\"name\":\"" + name + "\",\"roots\":[{\"task\":\"" + task
         + "\",\"input\":" + input + "}]}";
}

std::string spread_input(uint32_t leaves, uint32_t sleep_ms) {
  return "{\"leaves\":" + std::to_string(leaves) + ",\"sleep_ms\":"
         + std::to_string(sleep_ms) + ",\"clusters\":[\"default\"]}";
}

std::string job_state(const http_target& to, const std::string& id) {
  auto r = http_get(to, "/api/v1/jobs/" + id);
  REQUIRE(r.status == 200);
  return str(body_of(r).at("state"));
}

bool await_state(const http_target& to, const std::string& id,
                 const std::string& state, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (job_state(to, id) == state)
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

} // namespace

TEST_CASE("http: the REST API answers every endpoint", "[http][remote]") {
  temp_dir dir;
  auto s = start_http(dir.path);
  auto runner = start_runner(dir.path, s.srv.address(), "default", "r1");
  const auto& to = s.http;

  SECTION("jobs: submit, find, query with paging, tasks, graph") {
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
      auto r = http_post_json(to, "/api/v1/jobs",
                              submit_body("Spread@v1.0", spread_input(3, 0),
                                          "paged"));
      REQUIRE(r.status == 201);
      auto job = body_of(r).as_object();
      ids.emplace_back(job.at("id").as_string());
      CHECK(r.header("location") == "/api/v1/jobs/" + ids.back());
      CHECK(job.at("name").as_string() == "paged");
      CHECK(job.at("cluster").as_string() == "default");
    }
    for (const auto& id : ids)
      REQUIRE(await_state(to, id, "COMPLETED", 30s));

    auto one = http_get(to, "/api/v1/jobs/" + ids[0]);
    REQUIRE(one.status == 200);
    CHECK(num(body_of(one).at("stats").at("total_tasks")) == 4);

    // Two pages of two, oldest first, then newest first.
    auto p1 = http_get(to, "/api/v1/jobs?name=paged&limit=2");
    REQUIRE(p1.status == 200);
    auto page1 = body_of(p1).as_object();
    REQUIRE(page1.at("jobs").as_array().size() == 2);
    CHECK(page1.at("jobs").as_array()[0].at("id").as_string() == ids[0]);
    // As find answers it, counts and all (this server keeps no index).
    CHECK(num(page1.at("jobs").as_array()[0].at("stats").at("total_tasks"))
          == 4);
    auto cursor = str(page1.at("next_cursor"));
    CHECK(cursor == ids[1]);
    auto p2 = http_get(to, "/api/v1/jobs?name=paged&limit=2&cursor=" + cursor);
    auto page2 = body_of(p2).as_object();
    REQUIRE(page2.at("jobs").as_array().size() == 1);
    CHECK(page2.at("jobs").as_array()[0].at("id").as_string() == ids[2]);
    CHECK(page2.at("next_cursor").is_null());
    auto newest = body_of(http_get(to, "/api/v1/jobs?order=newest&limit=1"));
    CHECK(newest.at("jobs").as_array()[0].at("id").as_string() == ids[2]);
    auto done = body_of(http_get(to, "/api/v1/jobs?state=COMPLETED,FAILED"));
    CHECK(done.at("jobs").as_array().size() == 3);
    auto none = body_of(http_get(to, "/api/v1/jobs?cluster=elsewhere"));
    CHECK(none.at("jobs").as_array().empty());

    auto tasks = http_get(to, "/api/v1/jobs/" + ids[0] + "/tasks");
    REQUIRE(tasks.status == 200);
    auto list = body_of(tasks).at("tasks").as_array();
    REQUIRE(list.size() == 4);
    CHECK(list[0].at("task").as_string() == "Spread@v1.0");
    CHECK(list[0].at("state").as_string() == "COMPUTED");
    CHECK(num(list[1].at("parent")) == 0);
    CHECK(num(list[1].at("input").at("sleep_ms")) == 0);

    auto svg = http_get(to, "/api/v1/jobs/" + ids[0] + "/graph.svg");
    REQUIRE(svg.status == 200);
    CHECK(svg.header("content-type") == "image/svg+xml");
    CHECK(svg.body.find("<svg") != std::string::npos);
  }

  SECTION("cancel and retry") {
    auto r = http_post_json(to, "/api/v1/jobs",
                            submit_body("Spread@v1.0", spread_input(40, 100)));
    REQUIRE(r.status == 201);
    auto id = str(body_of(r).at("id"));
    auto c = http_call(to, "POST", "/api/v1/jobs/" + id + "/cancel");
    REQUIRE(c.status == 200);
    auto canceled = body_of(c).as_object();
    CHECK(canceled.at("job").at("id").as_string() == id);
    REQUIRE(await_state(to, id, "CANCELED", 30s));
    auto again = http_call(to, "POST", "/api/v1/jobs/" + id + "/retry");
    REQUIRE(again.status == 200);
    CHECK(num(body_of(again).at("requeued")) > 0);
    REQUIRE(await_state(to, id, "COMPLETED", 60s));
  }

  SECTION("clusters: create, list, find, delete") {
    auto made = http_post_json(to, "/api/v1/clusters", "{\"name\":\"gpu\"}");
    REQUIRE(made.status == 201);
    CHECK(body_of(made).at("name").as_string() == "gpu");
    auto dup = http_post_json(to, "/api/v1/clusters", "{\"name\":\"gpu\"}");
    CHECK(dup.status == 409);
    CHECK(error_code(dup) == "already_exists");
    auto all = body_of(http_get(to, "/api/v1/clusters")).at("clusters");
    bool has_default = false, has_gpu = false;
    for (const auto& c : all.as_array()) {
      has_default = has_default || c.at("name").as_string() == "default";
      has_gpu = has_gpu || c.at("name").as_string() == "gpu";
      if (c.at("name").as_string() == "default")
        CHECK(c.at("runners").as_array().size() == 1);
    }
    CHECK(has_default);
    CHECK(has_gpu);
    CHECK(http_get(to, "/api/v1/clusters/gpu").status == 200);
    CHECK(http_call(to, "DELETE", "/api/v1/clusters/gpu").status == 204);
    auto gone = http_get(to, "/api/v1/clusters/gpu");
    CHECK(gone.status == 404);
    CHECK(error_code(gone) == "unknown_cluster");
    auto busy = http_call(to, "DELETE", "/api/v1/clusters/default");
    CHECK(busy.status == 409);
  }

  SECTION("the OpenAPI document") {
    auto r = http_get(to, "/api/v1/openapi.json");
    REQUIRE(r.status == 200);
    auto doc = body_of(r).as_object();
    CHECK(doc.at("openapi").as_string().starts_with("3."));
    auto& paths = doc.at("paths").as_object();
    for (auto p :
         {"/api/v1/jobs", "/api/v1/jobs/{id}", "/api/v1/jobs/{id}/cancel",
          "/api/v1/jobs/{id}/retry", "/api/v1/jobs/{id}/tasks",
          "/api/v1/jobs/{id}/graph.svg", "/api/v1/jobs/{id}/events",
          "/api/v1/clusters", "/api/v1/clusters/{name}"})
      CHECK(paths.contains(p));
  }
}

TEST_CASE("http: bad requests get a JSON error with the fitting status",
          "[http][remote]") {
  temp_dir dir;
  auto s = start_http(dir.path,
                      {"--max-input-bytes", "1000", "--http-max-streams", "1"});
  const auto& to = s.http;

  auto malformed = http_post_json(to, "/api/v1/jobs", "{\"name\": ");
  CHECK(malformed.status == 400);
  CHECK(error_code(malformed) == "invalid_input");
  CHECK(body_of(malformed).at("error").at("message").as_string().find(
          "malformed JSON")
        != std::string::npos);

  auto missing = http_post_json(to, "/api/v1/jobs", "{\"name\":\"x\"}");
  CHECK(missing.status == 400);
  auto bad_task
    = http_post_json(to, "/api/v1/jobs", submit_body("no version", "{}"));
  CHECK(bad_task.status == 400);
  CHECK(error_code(bad_task) == "invalid_identifier");

  auto wrong_type
    = http_call(to, "POST", "/api/v1/jobs", submit_body("A@v1.0", "{}"),
                {{"Content-Type", "text/plain"}});
  CHECK(wrong_type.status == 415);
  CHECK(error_code(wrong_type) == "unsupported_media_type");

  auto big_input
    = http_post_json(to, "/api/v1/jobs",
                     submit_body("A@v1.0",
                                 "{\"x\":\"" + std::string(5000, 'a') + "\"}"));
  CHECK(big_input.status == 413);
  CHECK(error_code(big_input) == "input_too_large");
  // A body above the listener's limit is refused from its announced
  // length, before it is read.
  {
    asio::io_context ioc;
    asio::ip::tcp::socket sock{ioc};
    sock.connect({asio::ip::make_address("127.0.0.1"), to.port});
    std::string head = "POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 3145728\r\n\r\n";
    asio::write(sock, asio::buffer(head));
    std::string reply;
    boost::system::error_code ec;
    asio::read(sock, asio::dynamic_buffer(reply), ec);
    CHECK(reply.starts_with("HTTP/1.1 413"));
    CHECK(reply.find("body_too_large") != std::string::npos);
  }

  auto route = http_get(to, "/api/v2/nothing");
  CHECK(route.status == 404);
  CHECK(error_code(route) == "unknown_route");
  auto not_uuid = http_get(to, "/api/v1/jobs/12345");
  CHECK(not_uuid.status == 404);
  CHECK(error_code(not_uuid) == "unknown_job");
  auto unknown
    = http_get(to, "/api/v1/jobs/018dd029-58ca-74e5-8b58-b4f99d610f9a");
  CHECK(unknown.status == 404);
  CHECK(error_code(unknown) == "unknown_job");
  auto stream404
    = http_get(to, "/api/v1/jobs/018dd029-58ca-74e5-8b58-b4f99d610f9a/events");
  CHECK(stream404.status == 404);
  auto method = http_call(to, "DELETE", "/api/v1/jobs");
  CHECK(method.status == 405);
  CHECK(!method.header("allow").empty());
  auto bad_query = http_get(to, "/api/v1/jobs?limit=lots");
  CHECK(bad_query.status == 400);
  CHECK(error_code(bad_query) == "invalid_argument");
  auto bad_state = http_get(to, "/api/v1/jobs?state=DONE");
  CHECK(bad_state.status == 400);
  auto bad_escape = http_get(to, "/api/v1/jobs?name=%zz");
  CHECK(bad_escape.status == 400);

  // Garbage instead of HTTP: 400, and the listener goes on.
  {
    asio::io_context ioc;
    asio::ip::tcp::socket sock{ioc};
    sock.connect({asio::ip::make_address("127.0.0.1"), to.port});
    std::string junk = "\x16\x03\x01 garbage\r\n\r\n";
    asio::write(sock, asio::buffer(junk));
    std::string reply;
    boost::system::error_code ec;
    asio::read(sock, asio::dynamic_buffer(reply), ec);
    CHECK(reply.starts_with("HTTP/1.1 400"));
  }

  // A slow client that never finishes its request is closed by the read
  // timeout; meanwhile everyone else is served.
  {
    asio::io_context ioc;
    asio::ip::tcp::socket slow{ioc};
    slow.connect({asio::ip::make_address("127.0.0.1"), to.port});
    asio::write(slow,
                asio::buffer(std::string{"GET /api/v1/jobs HTTP/1.1\r\n"}));
    CHECK(http_get(to, "/api/v1/jobs").status == 200);
  }

  // Streams beyond the bound: 503 with Retry-After.
  auto r = http_post_json(to, "/api/v1/jobs", submit_body("A@v1.0", "{}"));
  REQUIRE(r.status == 201);
  auto id = str(body_of(r).at("id"));
  sse_reader first{to, "/api/v1/jobs/" + id + "/events"};
  CHECK(first.status() == 200);
  auto ev = first.next(10s);
  REQUIRE(ev);
  CHECK(ev->name == "state");
  auto second = http_get(to, "/api/v1/jobs/" + id + "/events");
  CHECK(second.status == 503);
  CHECK(error_code(second) == "too_many_streams");
  CHECK(second.header("retry-after") == "5");
}

TEST_CASE("http: tokens and HTTPS", "[http][remote]") {
  temp_dir dir;
  auto tokens = dir.path / "tokens";
  {
    std::ofstream out{tokens};
    out << "# operators\nsecret-one\n\nsecret-two\n";
  }

  SECTION("a token file on loopback makes tokens required") {
    auto s = start_http(dir.path, {"--http-token-file", tokens.string()});
    auto to = s.http;
    auto none = http_get(to, "/api/v1/jobs");
    CHECK(none.status == 401);
    CHECK(error_code(none) == "unauthorized");
    CHECK(none.header("www-authenticate") == "Bearer");
    to.token = "wrong";
    CHECK(http_get(to, "/api/v1/jobs").status == 401);
    to.token = "secret-two";
    CHECK(http_get(to, "/api/v1/jobs").status == 200);
    to.token.clear();
    CHECK(http_get(to, "/api/v1/jobs?access_token=secret-one").status == 200);
    CHECK(http_get(to, "/metrics").status == 401);
    // The dashboard's pages hold no data: a browser gets them, then is
    // asked for a token.
    auto page = http_get(to, "/");
    CHECK(page.status == 200);
    CHECK(page.header("content-type").starts_with("text/html"));
    CHECK(http_get(to, "/static/app.js").status == 200);
  }

  SECTION("off loopback: refused without TLS or without tokens") {
    std::vector<std::string> args{WEFT_CLI,      "server", "--listen",
                                  "127.0.0.1:0", "--http", "0.0.0.0:0"};
    child_process plain{args, dir.path / "plain.out"};
    CHECK(plain.wait(30s) != 0);
    CHECK(plain.errors().find("without TLS") != std::string::npos);

    test_pki pki{dir.path};
    std::vector<std::string> tls_args{
      WEFT_CLI,   "server",
      "--listen", "127.0.0.1:0",
      "--http",   "0.0.0.0:0",
      "--cert",   pki.server_cert.certificate.string(),
      "--key",    pki.server_cert.key.string(),
      "--ca",     pki.ca};
    child_process no_tokens{tls_args, dir.path / "no-tokens.out"};
    CHECK(no_tokens.wait(30s) != 0);
    CHECK(no_tokens.errors().find("without tokens") != std::string::npos);
  }

  SECTION("HTTPS with the test certificates, tokens off loopback") {
    test_pki pki{dir.path};
    std::vector<std::string> args{"--http",
                                  "0.0.0.0:0",
                                  "--http-token-file",
                                  tokens.string(),
                                  "--cert",
                                  pki.server_cert.certificate.string(),
                                  "--key",
                                  pki.server_cert.key.string(),
                                  "--ca",
                                  pki.ca};
    http_server s;
    s.srv = start_server(dir.path, "127.0.0.1:0", args);
    s.http.port = http_port_of(*s.srv.proc);
    auto to = s.http;
    to.ca = pki.ca;
    CHECK(http_get(to, "/api/v1/jobs").status == 401);
    to.token = "secret-one";
    auto ok = http_get(to, "/api/v1/jobs");
    CHECK(ok.status == 200);
    CHECK(body_of(ok).at("jobs").as_array().empty());
    // Plain HTTP to the HTTPS port gets no answer of substance.
    http_target plain = s.http;
    bool refused = false;
    try {
      refused = http_get(plain, "/api/v1/jobs").status != 200;
    } catch (const std::exception&) {
      refused = true;
    }
    CHECK(refused);
  }
}

TEST_CASE("http: the update stream of a running job", "[http][remote]") {
  temp_dir dir;
  auto s = start_http(dir.path);
  auto runner = start_runner(dir.path, s.srv.address(), "default", "r1");
  const auto& to = s.http;
  auto r = http_post_json(to, "/api/v1/jobs",
                          submit_body("Spread@v1.0", spread_input(30, 40)));
  REQUIRE(r.status == 201);
  auto id = str(body_of(r).at("id"));
  auto path = "/api/v1/jobs/" + id + "/events";

  SECTION("events until done, in order, with Transloadit's fields") {
    sse_reader sse{to, path};
    REQUIRE(sse.status() == 200);
    CHECK(sse.head().find("text/event-stream") != std::string::npos);
    std::vector<sse_event> events;
    while (auto ev = sse.next(30s)) {
      events.push_back(*ev);
      if (ev->name == "done")
        break;
    }
    REQUIRE(events.size() >= 3);
    CHECK(events.front().name == "state");
    CHECK(events.back().name == "done");
    auto final_job = json::parse(events.back().data);
    CHECK(final_job.at("id").as_string() == id);
    CHECK(final_job.at("state").as_string() == "COMPLETED");
    double shown = 0;
    size_t progress_events = 0;
    std::string last_state;
    uint64_t last_at = 0;
    for (const auto& ev : events) {
      INFO(ev.name << " " << ev.id << " " << ev.data);
      REQUIRE(!ev.id.empty());
      auto at = std::stoull(ev.id.substr(0, ev.id.find('-')));
      CHECK(at >= last_at); // ids never go back
      last_at = at;
      auto data = json::parse(ev.data).as_object();
      if (ev.name == "state") {
        CHECK(data.at("state").as_string() != last_state);
        last_state = data.at("state").as_string();
      } else if (ev.name == "execution_progress") {
        ++progress_events;
        auto pct = num(data.at("progress_combined"));
        CHECK(pct >= 0);
        CHECK(pct <= 100);
        CHECK(pct >= shown); // the shown percentage never decreases
        shown = pct;
        CHECK(data.at("progress_per_item").is_array());
        for (const auto& item : data.at("progress_per_item").as_array()) {
          CHECK(item.as_object().contains("item"));
          CHECK(item.as_object().contains("progress"));
        }
        CHECK(data.contains("eta_seconds"));
        CHECK(data.contains("tasks_by_state"));
        CHECK(data.contains("progress"));
        CHECK(data.at("state").as_string() == last_state);
      } else {
        CHECK(ev.name == "done");
      }
    }
    CHECK(progress_events >= 1);
    CHECK(last_state == "COMPLETED");
    // The server closes the stream after done.
    CHECK_FALSE(sse.next(5s));
  }

  SECTION("a reconnect with Last-Event-ID resumes") {
    std::string last_id;
    std::string seen_state;
    {
      sse_reader sse{to, path};
      auto ev = sse.next(30s);
      REQUIRE(ev);
      REQUIRE(ev->name == "state");
      seen_state = json::parse(ev->data).at("state").as_string();
      last_id = ev->id;
    } // dropped
    sse_reader again{to, path, {{"Last-Event-ID", last_id}}};
    REQUIRE(again.status() == 200);
    std::vector<sse_event> events;
    while (auto ev = again.next(30s)) {
      events.push_back(*ev);
      if (ev->name == "done")
        break;
    }
    REQUIRE(!events.empty());
    CHECK(events.back().name == "done");
    auto first_at = std::stoull(last_id.substr(0, last_id.find('-')));
    for (const auto& ev : events) {
      INFO(ev.name << " " << ev.id);
      CHECK(std::stoull(ev.id.substr(0, ev.id.find('-'))) >= first_at);
    }
    // The state the browser already had is not sent again.
    if (events.front().name == "state")
      CHECK(str(json::parse(events.front().data).at("state")) != seen_state);
  }
}

TEST_CASE("http: /metrics is exposition format and its counters move with a "
          "job",
          "[http][remote]") {
  namespace ex = weft::test::exposition;
  temp_dir dir;
  auto s = start_http(dir.path);
  auto runner = start_runner(dir.path, s.srv.address(), "default", "r1");
  const auto& to = s.http;
  auto scrape = [&] {
    auto r = http_get(to, "/metrics");
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type").starts_with("text/plain; version=0.0.4"));
    return ex::parsed(r.body);
  };
  auto completed = [](const ex::scrape& m) {
    return m.value("weft_jobs_finished_total", {{"state", "completed"}})
      .value_or(0);
  };
  auto before = scrape();
  auto r = http_post_json(to, "/api/v1/jobs",
                          submit_body("Spread@v1.0", spread_input(5, 0)));
  REQUIRE(r.status == 201);
  auto id = str(body_of(r).at("id"));
  REQUIRE(await_state(to, id, "COMPLETED", 30s));
  // The job's counters are added as it settles, before the state is read.
  ex::scrape after = scrape();
  CHECK(weft::test::wait_until(
    [&] {
      after = scrape();
      return completed(after) == completed(before) + 1;
    },
    10s));
  CHECK(after.at("weft_tasks_finished_total",
                 {{"cluster", "default"}, {"state", "computed"}})
        >= 6);
  CHECK(after.at("weft_runners_connected", {{"cluster", "default"}}) == 1);
  CHECK(after.at("weft_runner_slots", {{"cluster", "default"}}) == 2);
  CHECK(after.at("weft_process_resident_memory_bytes") > 0);
}

TEST_CASE("http: slow clients are closed by the read timeout", "[http]") {
  weft::server_options opts;
  opts.http.listen = weft::network_address{"127.0.0.1", 0};
  opts.http.read_timeout = 300ms;
  opts.http.write_timeout = 300ms;
  weft::server srv{opts};
  http_target to;
  to.port = srv.http_port();
  auto closed_within = [&](asio::ip::tcp::socket& sock,
                           std::chrono::milliseconds limit) {
    // Reads until the server closes; a server that keeps it open makes
    // the read time out.
    sock.non_blocking(false);
    timeval tv{static_cast<long>(limit.count() / 1000),
               static_cast<long>(limit.count() % 1000) * 1000};
    setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string got;
    boost::system::error_code ec;
    asio::read(sock, asio::dynamic_buffer(got), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  };
  asio::io_context ioc;
  SECTION("a request that never ends") {
    asio::ip::tcp::socket sock{ioc};
    sock.connect({asio::ip::make_address("127.0.0.1"), to.port});
    asio::write(sock,
                asio::buffer(std::string{"GET /api/v1/jobs HTTP/1.1\r\nHost"}));
    CHECK(closed_within(sock, 5s));
  }
  SECTION("a connection that sends nothing") {
    asio::ip::tcp::socket sock{ioc};
    sock.connect({asio::ip::make_address("127.0.0.1"), to.port});
    CHECK(closed_within(sock, 5s));
  }
  // Meanwhile everyone else is served.
  CHECK(http_get(to, "/api/v1/jobs").status == 200);
  srv.stop();
}
