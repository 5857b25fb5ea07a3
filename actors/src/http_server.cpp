#include "weft/actors/http_server.hpp"

#include "weft/actors/client_internal.hpp"
#include "weft/actors/http_api.hpp"
#include "weft/text.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include <atomic>
#include <deque>
#include <fstream>
#include <thread>

namespace weft {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

std::vector<std::string> read_tokens(const std::filesystem::path& file) {
  std::ifstream in{file};
  if (!in)
    throw error(errc::io_error, "cannot read the token file " + file.string()
                                  + ": give a readable file with one bearer "
                                    "token per line");
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    while (
      !line.empty()
      && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#')
      continue;
    tokens.push_back(line.substr(start));
  }
  if (tokens.empty())
    throw error(errc::invalid_argument,
                "the token file " + file.string()
                  + " holds no token: write one bearer token per line");
  return tokens;
}

// Compares without stopping at the first difference, so that the time
// taken says nothing about how much of a token was right.
bool same(std::string_view given, std::string_view token) {
  if (given.size() != token.size())
    return false; // a token's length is no secret worth the trouble
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i] ^ token[i]);
  return diff == 0;
}

} // namespace

/// Forwards a job's updates from the actor system to a stream's strand,
/// until the stream or the listener closes it.
struct update_sink {
  std::mutex mtx;
  bool open = true;
  std::function<void(progress_update)> on_update;
  std::function<void(std::string)> on_lost;

  template <class Fn>
  void deliver(Fn fn) {
    std::lock_guard<std::mutex> guard{mtx};
    if (open)
      fn();
  }
  void close() {
    std::lock_guard<std::mutex> guard{mtx};
    open = false;
  }
};

// Sessions point to it plainly: the I/O context, and with it every session,
// goes first when it is destroyed (it is the last member that sessions do
// not use).
struct http_listener::impl {
  http_options opts;
  std::vector<std::string> tokens;
  std::chrono::milliseconds interval;
  std::atomic<size_t> connections{0};
  std::atomic<size_t> streams{0};
  std::atomic<bool> stopped{false};
  uint16_t port = 0;
  std::shared_ptr<job_client::impl> client;
  http::api handlers;
  asio::thread_pool workers;
  std::optional<asio::ssl::context> ssl;
  std::mutex sinks_mtx;
  std::vector<std::weak_ptr<update_sink>> sinks;
  asio::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;

  impl(const http_options& o, std::shared_ptr<job_client::impl> c,
       std::function<std::string()> metrics, const orchestrator_options& orch)
      : opts(o), interval(orch.progress_interval), client(std::move(c)),
        handlers(job_client_access::make(client), std::move(metrics), orch),
        workers(std::max<size_t>(1, o.worker_threads)) {
  }

  void accept();

  void add_sink(const std::shared_ptr<update_sink>& sink) {
    std::lock_guard<std::mutex> guard{sinks_mtx};
    std::erase_if(sinks, [](const auto& w) { return w.expired(); });
    sinks.push_back(sink);
  }

  /// After the I/O threads stopped: nothing posts to the context any more.
  void close_sinks() {
    std::lock_guard<std::mutex> guard{sinks_mtx};
    for (auto& w : sinks)
      if (auto sink = w.lock())
        sink->close();
    sinks.clear();
  }

  bool authorized(const http::request& r,
                  const std::string& authorization) const {
    if (tokens.empty())
      return true;
    // The dashboard's pages and scripts hold no data (they fetch it from
    // the API, with a token): a browser must get them to be asked for one.
    if (r.method == "GET" && !r.path.starts_with("/api/")
        && r.path != "/metrics")
      return true;
    std::string given;
    constexpr std::string_view bearer = "Bearer ";
    if (authorization.size() > bearer.size()
        && std::string_view{authorization}.substr(0, bearer.size()) == bearer)
      given = authorization.substr(bearer.size());
    else if (auto i = r.query.find("access_token"); i != r.query.end())
      given = i->second; // EventSource cannot send headers
    bool ok = false;
    for (const auto& t : tokens)
      ok = same(given, t) || ok;
    return ok;
  }
};

namespace {

/// Writes a reply as an HTTP/1.1 response.
bhttp::response<bhttp::string_body> to_response(const http::reply& rep,
                                                unsigned version,
                                                bool keep_alive) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(
                                            rep.status),
                                          version};
  res.set(bhttp::field::server, "weft");
  if (!rep.content_type.empty())
    res.set(bhttp::field::content_type, rep.content_type);
  res.set("X-Content-Type-Options", "nosniff");
  for (const auto& [k, v] : rep.headers)
    res.set(k, v);
  res.body() = rep.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

caf::actor spawn_watcher(job_client::impl& client, const std::string& id,
                         std::shared_ptr<update_sink> sink) {
  auto svc = client.service();
  return client.sys.spawn(
    [svc, id, sink](caf::event_based_actor* self) -> caf::behavior {
      self->monitor(svc);
      // Demonitors before quitting: the service keeps a monitor's record
      // (and with it this actor's memory) until it is removed.
      self->set_exit_handler([self, svc](caf::exit_msg&) {
        self->demonitor(svc.address());
        self->quit();
      });
      self->set_down_handler([self, sink](caf::down_msg&) {
        sink->deliver([&] { sink->on_lost("the orchestrator stopped"); });
        self->quit();
      });
      self
        ->request(svc, caf::infinite, atom::watch_v, id,
                  caf::actor_cast<progress_watcher>(self))
        .then([](bool) {},
              [self, sink, svc](caf::error& e) {
                sink->deliver([&] { sink->on_lost(to_weft_error(e).what()); });
                self->demonitor(svc.address());
                self->quit();
              });
      return {
        [sink](atom::progress, progress_update& u) {
          sink->deliver([&] { sink->on_update(std::move(u)); });
        },
      };
    });
}

template <class Stream>
class session : public std::enable_shared_from_this<session<Stream>> {
public:
  session(http_listener::impl* owner, Stream&& stream)
      : owner_(owner), stream_(std::move(stream)),
        timer_(stream_.get_executor()), keepalive_(stream_.get_executor()) {
    over_limit_ = ++owner_->connections > owner_->opts.max_connections;
  }

  ~session() {
    --owner_->connections;
    end_stream_count(); // one whose job was still being looked up
    if (sink_)
      sink_->close();
    if (watcher_) {
      --owner_->streams;
      caf::anon_send_exit(watcher_, caf::exit_reason::user_shutdown);
    }
  }

  void start() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      read();
    } else {
      beast::get_lowest_layer(stream_).expires_after(owner_->opts.read_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](
                                beast::error_code ec) {
                                if (!ec)
                                  self->read();
                              });
    }
  }

private:
  auto& socket() {
    return beast::get_lowest_layer(stream_);
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(16u << 10);
    parser_->body_limit(owner_->opts.max_body_bytes);
    socket().expires_after(owner_->opts.read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec,
                                                        size_t) {
                        self->on_read(ec);
                      });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof
        || ec == beast::error::timeout || ec == asio::error::operation_aborted
        || ec == asio::ssl::error::stream_truncated)
      return close();
    if (ec == bhttp::error::body_limit)
      return respond(http::error_reply(413, "body_too_large",
                                       "the request body is above "
                                         + std::to_string(
                                           owner_->opts.max_body_bytes)
                                         + " bytes, the listener's limit"),
                     11, false);
    if (ec == bhttp::error::header_limit)
      return respond(http::error_reply(431, "headers_too_large",
                                       "the request headers are above 16 KiB"),
                     11, false);
    if (ec)
      return respond(http::error_reply(400, "bad_request",
                                       "malformed HTTP request: "
                                         + ec.message()),
                     11, false);
    auto& msg = parser_->get();
    unsigned version = msg.version();
    bool keep_alive = msg.keep_alive();
    if (over_limit_) {
      auto rep = http::error_reply(503, "too_many_connections",
                                   "the listener holds its most connections; "
                                   "try again shortly");
      rep.headers.emplace_back("Retry-After", "1");
      return respond(rep, version, false);
    }
    http::request req;
    req.method = std::string{msg.method_string()};
    try {
      http::split_target(std::string{msg.target()}, req.path, req.query);
    } catch (const error& e) {
      return respond(http::error_reply(e), version, keep_alive);
    }
    req.content_type = std::string{msg[bhttp::field::content_type]};
    req.body = std::move(msg.body());
    if (!owner_->authorized(req,
                            std::string{msg[bhttp::field::authorization]})) {
      auto rep = http::error_reply(
        401, "unauthorized",
        "this listener needs a bearer token: send Authorization: Bearer "
        "TOKEN with a token of its --http-token-file");
      rep.headers.emplace_back("WWW-Authenticate", "Bearer");
      return respond(rep, version, keep_alive);
    }
    if (auto id = http::stream_job(req.method, req.path); !id.empty())
      return open_stream(id, std::string{msg["Last-Event-ID"]}, version);
    asio::post(owner_->workers, [self = this->shared_from_this(),
                                 req = std::move(req), version, keep_alive] {
      auto rep = self->owner_->handlers.handle(req);
      asio::post(self->stream_.get_executor(),
                 [self, rep = std::move(rep), version, keep_alive] {
                   self->respond(rep, version, keep_alive);
                 });
    });
  }

  void respond(const http::reply& rep, unsigned version, bool keep_alive) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
      to_response(rep, version, keep_alive));
    socket().expires_after(owner_->opts.write_timeout);
    bhttp::async_write(stream_, *res,
                       [self = this->shared_from_this(), res,
                        keep_alive](beast::error_code ec, size_t) {
                         if (ec || !keep_alive || self->owner_->stopped)
                           return self->close();
                         self->read();
                       });
  }

  void close() {
    if (closed_)
      return;
    closed_ = true;
    timer_.cancel();
    keepalive_.cancel();
    beast::error_code ec;
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      // A TLS close_notify, bounded like any write.
      socket().expires_after(std::chrono::seconds{1});
      stream_.async_shutdown(
        [self = this->shared_from_this()](beast::error_code) {
          beast::error_code ignored;
          self->socket().socket().shutdown(tcp::socket::shutdown_both, ignored);
        });
    } else {
      socket().socket().shutdown(tcp::socket::shutdown_send, ec);
      socket().close();
    }
  }

  // -- the update stream -----------------------------------------------------

  void open_stream(const std::string& id, const std::string& last_event_id,
                   unsigned version) {
    if (++owner_->streams > owner_->opts.max_streams) {
      --owner_->streams;
      auto rep
        = http::error_reply(503, "too_many_streams",
                            "the listener holds its most update streams ("
                              + std::to_string(owner_->opts.max_streams)
                              + "); try again later");
      rep.headers.emplace_back("Retry-After", "5");
      return respond(rep, version, false);
    }
    counted_stream_ = true;
    job_id_ = id;
    events_.emplace(last_event_id, owner_->interval);
    // The job must exist before anything is promised.
    asio::post(owner_->workers, [self = this->shared_from_this(), id, version] {
      http::reply rep;
      bool known = false;
      try {
        self->owner_->handlers.client().find(id);
        known = true;
      } catch (const error& e) {
        rep = http::error_reply(e);
      }
      asio::post(self->stream_.get_executor(), [self, known, rep, version] {
        if (!known) {
          self->end_stream_count();
          return self->respond(rep, version, false);
        }
        self->begin_stream();
      });
    });
  }

  void end_stream_count() {
    if (counted_stream_) {
      counted_stream_ = false;
      --owner_->streams;
    }
  }

  void begin_stream() {
    if (closed_)
      return end_stream_count();
    std::string head = "HTTP/1.1 200 OK\r\n"
                       "Server: weft\r\n"
                       "Content-Type: text/event-stream; charset=utf-8\r\n"
                       "Cache-Control: no-cache\r\n"
                       "X-Accel-Buffering: no\r\n"
                       "Connection: keep-alive\r\n\r\n"
                       "retry: 2000\n\n";
    enqueue(std::move(head));
    // Reads nothing more from the client, but notices when it goes.
    watch_for_close();
    auto weak = std::weak_ptr<session>{this->shared_from_this()};
    auto exec = stream_.get_executor();
    auto sink = std::make_shared<update_sink>();
    sink->on_update = [weak, exec](progress_update u) {
      asio::post(exec, [weak, u = std::move(u)] {
        if (auto self = weak.lock())
          self->on_update(u);
      });
    };
    sink->on_lost = [weak, exec](std::string why) {
      asio::post(exec, [weak, why = std::move(why)] {
        if (auto self = weak.lock())
          self->on_lost(why);
      });
    };
    // From here the session counts as a stream until it is destroyed.
    counted_stream_ = false;
    owner_->add_sink(sink);
    sink_ = sink;
    watcher_ = spawn_watcher(*owner_->client, job_id_, std::move(sink));
    arm_keepalive();
  }

  void watch_for_close() {
    socket().expires_never();
    stream_.async_read_some(
      asio::buffer(scratch_),
      [self = this->shared_from_this()](beast::error_code ec, size_t) {
        if (ec)
          return self->close();
        self->watch_for_close(); // a client may send anything; ignore it
      });
  }

  void on_update(const progress_update& u) {
    if (closed_ || !events_)
      return;
    enqueue(events_->on_update(u, clock_type::now()));
    if (events_->finished()) {
      finish();
      return;
    }
    arm_flush();
  }

  void on_lost(const std::string& why) {
    if (closed_)
      return;
    std::string line = ": " + text::one_line(why, 200) + "\n\n";
    enqueue(std::move(line));
    close_after_writes_ = true;
    if (!writing_)
      close();
  }

  void finish() {
    asio::post(owner_->workers, [self = this->shared_from_this()] {
      std::optional<job_info> job;
      try {
        job = self->owner_->handlers.client().find(self->job_id_);
      } catch (const error&) {
      }
      asio::post(self->stream_.get_executor(), [self, job] {
        if (job)
          self->enqueue(self->events_->done(*job));
        self->close_after_writes_ = true;
        if (!self->writing_)
          self->close();
      });
    });
  }

  void arm_flush() {
    auto due = events_->due();
    if (!due || flush_armed_)
      return;
    flush_armed_ = true;
    timer_.expires_at(*due);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      self->flush_armed_ = false;
      if (ec || self->closed_)
        return;
      self->enqueue(self->events_->flush(clock_type::now()));
      self->arm_flush();
    });
  }

  void arm_keepalive() {
    keepalive_.expires_after(owner_->opts.keepalive);
    keepalive_.async_wait([self
                           = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_)
        return;
      if (clock_type::now() - self->last_write_ >= self->owner_->opts.keepalive
          && !self->writing_)
        self->enqueue(": keepalive\n\n");
      self->arm_keepalive();
    });
  }

  void enqueue(std::string bytes) {
    if (bytes.empty() || closed_)
      return;
    queued_bytes_ += bytes.size();
    queue_.push_back(std::move(bytes));
    // A client that takes nothing while events pile up is closed.
    if (queued_bytes_ > (4u << 20))
      return close();
    if (!writing_)
      write_next();
  }

  void write_next() {
    if (queue_.empty()) {
      writing_ = false;
      if (close_after_writes_)
        close();
      return;
    }
    writing_ = true;
    socket().expires_after(owner_->opts.write_timeout);
    asio::async_write(stream_, asio::buffer(queue_.front()),
                      [self = this->shared_from_this()](beast::error_code ec,
                                                        size_t) {
                        if (ec)
                          return self->close();
                        self->queued_bytes_ -= self->queue_.front().size();
                        self->queue_.pop_front();
                        self->last_write_ = clock_type::now();
                        if (self->queue_.empty() && !self->closed_)
                          self->socket().expires_never();
                        self->write_next();
                      });
  }

  http_listener::impl* owner_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool over_limit_ = false;
  bool closed_ = false;
  // The update stream.
  bool counted_stream_ = false;
  std::shared_ptr<update_sink> sink_;
  std::string job_id_;
  std::optional<http::event_stream> events_;
  caf::actor watcher_;
  asio::steady_timer timer_;
  asio::steady_timer keepalive_;
  bool flush_armed_ = false;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool close_after_writes_ = false;
  clock_type::time_point last_write_ = clock_type::now();
  std::array<char, 512> scratch_{};
};

} // namespace

void http_listener::impl::accept() {
  acceptor->async_accept(asio::make_strand(ioc), [self
                                                  = this](beast::error_code ec,
                                                          tcp::socket sock) {
    if (self->stopped)
      return;
    if (!ec) {
      sock.set_option(tcp::no_delay{true}, ec);
      beast::tcp_stream stream{std::move(sock)};
      if (self->ssl) {
        using tls_stream = beast::ssl_stream<beast::tcp_stream>;
        std::make_shared<session<tls_stream>>(self,
                                              tls_stream{std::move(stream),
                                                         *self->ssl})
          ->start();
      } else {
        std::make_shared<session<beast::tcp_stream>>(self, std::move(stream))
          ->start();
      }
    }
    self->accept();
  });
}

http_listener::http_listener(const http_options& opts, const tls_options& tls,
                             std::shared_ptr<job_client::impl> client,
                             std::function<std::string()> metrics,
                             const orchestrator_options& orchestrator) {
  if (!opts.listen)
    throw error(errc::invalid_argument, "the HTTP listener needs an address");
  const auto& host = opts.listen->host;
  bool loopback = is_loopback(host);
  if (!loopback && !tls.enabled())
    throw error(errc::invalid_argument,
                "refusing HTTP on " + host
                  + " without TLS: plain HTTP is for loopback only; give "
                    "--cert, --key and --ca or listen on 127.0.0.1");
  if (!loopback && opts.token_file.empty())
    throw error(errc::invalid_argument,
                "refusing HTTP on " + host
                  + " without tokens: give --http-token-file FILE (one "
                    "bearer token per line) or listen on 127.0.0.1");
  impl_ = std::make_unique<impl>(opts, std::move(client), std::move(metrics),
                                 orchestrator);
  auto& st = *impl_;
  if (!opts.token_file.empty())
    st.tokens = read_tokens(opts.token_file);
  if (tls.enabled()) {
    try {
      st.ssl.emplace(asio::ssl::context::tls_server);
      st.ssl->set_options(
        asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2
        | asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1
        | asio::ssl::context::no_tlsv1_1);
      st.ssl->use_certificate_chain_file(tls.certificate.string());
      st.ssl->use_private_key_file(tls.key.string(), asio::ssl::context::pem);
    } catch (const std::exception& e) {
      throw error(errc::invalid_argument,
                  "cannot use the certificate " + tls.certificate.string()
                    + " and key " + tls.key.string()
                    + " for HTTPS: " + text::one_line(e.what(), 200));
    }
  }
  try {
    auto addr = host == "localhost" ? asio::ip::make_address("127.0.0.1")
                                    : asio::ip::make_address(host);
    tcp::endpoint ep{addr, opts.listen->port};
    st.acceptor.emplace(st.ioc);
    st.acceptor->open(ep.protocol());
    st.acceptor->set_option(asio::socket_base::reuse_address(true));
    st.acceptor->bind(ep);
    st.acceptor->listen(asio::socket_base::max_listen_connections);
    st.port = st.acceptor->local_endpoint().port();
  } catch (const std::exception& e) {
    throw error(errc::invalid_argument,
                "cannot listen for HTTP on " + host + ":"
                  + std::to_string(opts.listen->port) + ": "
                  + text::one_line(e.what(), 200));
  }
  st.accept();
  for (size_t i = 0; i < std::max<size_t>(1, opts.io_threads); ++i)
    st.threads.emplace_back([&st] { st.ioc.run(); });
}

http_listener::~http_listener() {
  stop();
}

uint16_t http_listener::port() const noexcept {
  return impl_->port;
}

bool http_listener::tls() const noexcept {
  return impl_->ssl.has_value();
}

void http_listener::stop() {
  if (!impl_ || impl_->stopped.exchange(true))
    return;
  auto& st = *impl_;
  st.ioc.stop();
  for (auto& t : st.threads)
    t.join();
  st.threads.clear();
  beast::error_code ec;
  st.acceptor->close(ec);
  // Requests being answered finish; what they post back stays queued in
  // the stopped context and goes with it.
  st.workers.join();
  st.close_sinks();
}

} // namespace weft
