#include "server/http/response_writer.h"

#include <boost/beast/core/string.hpp>
#include <ctime>

#include "auth/crypto.h"

namespace sms::server::http {
namespace {

namespace bhttp = boost::beast::http;

std::string HttpDate() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// Status, Server, Date and the Api's headers of `r` on `out`.
template <class Message>
void SetHead(const HttpResponse& r, bool keep, Message& out) {
  out.result(static_cast<unsigned>(r.status));
  out.version(11);
  out.set(bhttp::field::server, "sms-server");
  out.set(bhttp::field::date, HttpDate());
  for (const auto& [k, v] : r.headers) out.set(k, v);
  out.keep_alive(keep);
}

}  // namespace

std::shared_ptr<BeastResponse> ToBeastResponse(HttpResponse r, bool keep) {
  auto res = std::make_shared<BeastResponse>();
  SetHead(r, keep, *res);
  res->body() = std::move(r.body);
  res->prepare_payload();
  return res;
}

std::shared_ptr<StreamedHead> ToStreamedHead(const HttpResponse& r, bool keep) {
  auto res = std::make_shared<StreamedHead>();
  SetHead(r, keep, *res);
  res->chunked(true);
  return res;
}

bool IsSafeRequestId(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  return true;
}

std::string RequestIdOf(const Headers& headers) {
  for (const auto& [k, v] : headers)
    if (boost::beast::iequals(k, "x-request-id") && IsSafeRequestId(v))
      return v;
  return auth::NewUuid();
}

std::string BusyResponse() {
  HttpResponse r = Api::ErrorResponse(
      ApiError{ApiCode::kUnavailable,
               "server busy: too many open connections, retry later", "", 1},
      auth::NewUuid());
  std::string out = "HTTP/1.1 503 Service Unavailable\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  out +=
      "Connection: close\r\nContent-Length: " + std::to_string(r.body.size()) +
      "\r\n\r\n" + r.body;
  return out;
}

}  // namespace sms::server::http
