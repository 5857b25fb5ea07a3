#pragma once

// A small HTTP/1.1 client for the HTTP tests (Boost.Beast, blocking, with
// deadlines): requests over plain TCP or TLS, and a Server-Sent-Events
// reader.

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace weft::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

struct http_response {
  unsigned status = 0;
  std::map<std::string, std::string> headers; ///< names in lower case
  std::string body;

  std::string header(const std::string& name) const {
    auto i = headers.find(name);
    return i == headers.end() ? std::string{} : i->second;
  }
};

struct http_target {
  uint16_t port = 0;
  std::string ca;    ///< HTTPS, verifying the server against this CA
  std::string token; ///< sent as Authorization: Bearer
};

using header_list = std::vector<std::pair<std::string, std::string>>;

namespace detail {

inline std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

template <class Stream>
http_response exchange(Stream& stream, const http_target& to,
                       const std::string& method, const std::string& target,
                       const std::string& body, const header_list& headers) {
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target,
                                         11};
  req.set(bhttp::field::host, "127.0.0.1");
  if (!to.token.empty())
    req.set(bhttp::field::authorization, "Bearer " + to.token);
  for (const auto& [k, v] : headers)
    req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  req.keep_alive(false);
  bhttp::write(stream, req);
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64u << 20);
  if (method == "HEAD")
    parser.skip(true);
  bhttp::read(stream, buf, parser);
  auto& res = parser.get();
  http_response out;
  out.status = res.result_int();
  for (const auto& f : res)
    out.headers[lower(std::string{f.name_string()})] = std::string{f.value()};
  out.body = std::move(res.body());
  return out;
}

} // namespace detail

/// One request on a connection of its own; throws boost::system_error when
/// the connection fails or `timeout` passes.
inline http_response http_call(const http_target& to, const std::string& method,
                               const std::string& target,
                               const std::string& body = {},
                               const header_list& headers = {},
                               std::chrono::milliseconds timeout
                               = std::chrono::seconds{30}) {
  asio::io_context ioc;
  asio::ip::tcp::endpoint ep{asio::ip::make_address("127.0.0.1"), to.port};
  if (to.ca.empty()) {
    beast::tcp_stream stream{ioc};
    stream.expires_after(timeout);
    stream.connect(ep);
    return detail::exchange(stream, to, method, target, body, headers);
  }
  asio::ssl::context ctx{asio::ssl::context::tls_client};
  ctx.load_verify_file(to.ca);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream{ioc, ctx};
  beast::get_lowest_layer(stream).expires_after(timeout);
  beast::get_lowest_layer(stream).connect(ep);
  stream.handshake(asio::ssl::stream_base::client);
  return detail::exchange(stream, to, method, target, body, headers);
}

inline http_response http_get(const http_target& to, const std::string& target,
                              const header_list& headers = {}) {
  return http_call(to, "GET", target, {}, headers);
}

inline http_response http_post_json(const http_target& to,
                                    const std::string& target,
                                    const std::string& body) {
  return http_call(to, "POST", target, body,
                   {{"Content-Type", "application/json"}});
}

struct sse_event {
  std::string id;
  std::string name;
  std::string data;
};

/// Reads an update stream (plain TCP).
class sse_reader {
public:
  sse_reader(const http_target& to, const std::string& target,
             const header_list& headers = {})
      : stream_(ioc_) {
    stream_.expires_after(std::chrono::seconds{10});
    stream_.connect(
      asio::ip::tcp::endpoint{asio::ip::make_address("127.0.0.1"), to.port});
    std::string req = "GET " + target
                      + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: "
                        "text/event-stream\r\n";
    if (!to.token.empty())
      req += "Authorization: Bearer " + to.token + "\r\n";
    for (const auto& [k, v] : headers)
      req += k + ": " + v + "\r\n";
    req += "\r\n";
    asio::write(stream_, asio::buffer(req));
    auto head = read_until("\r\n\r\n", std::chrono::seconds{10});
    auto sp = head.find(' ');
    status_ = static_cast<unsigned>(std::stoul(head.substr(sp + 1, 3)));
    head_ = head;
  }

  unsigned status() const noexcept {
    return status_;
  }
  const std::string& head() const noexcept {
    return head_;
  }

  /// The next event (comments are counted, not returned); nothing when the
  /// server closed the stream or `timeout` passed.
  std::optional<sse_event> next(std::chrono::milliseconds timeout) {
    for (;;) {
      std::string block;
      try {
        block = read_until("\n\n", timeout);
      } catch (const boost::system::system_error&) {
        return std::nullopt;
      }
      sse_event ev;
      bool any = false;
      size_t i = 0;
      while (i < block.size()) {
        auto j = block.find('\n', i);
        auto line = block.substr(i, j - i);
        i = j + 1;
        if (line.empty())
          continue;
        if (line[0] == ':') {
          ++comments;
          continue;
        }
        auto colon = line.find(':');
        auto field = line.substr(0, colon);
        auto value = colon == std::string::npos ? "" : line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ')
          value.erase(0, 1);
        if (field == "id")
          ev.id = value, any = true;
        else if (field == "event")
          ev.name = value, any = true;
        else if (field == "data")
          ev.data += value, any = true;
      }
      if (any && !ev.name.empty())
        return ev;
    }
  }

  size_t comments = 0;

private:
  std::string read_until(const std::string& delim,
                         std::chrono::milliseconds timeout) {
    stream_.expires_after(timeout);
    auto n = asio::read_until(stream_, asio::dynamic_buffer(buffer_), delim);
    auto out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    return out;
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_;
  std::string buffer_;
  unsigned status_ = 0;
  std::string head_;
};

} // namespace weft::test
