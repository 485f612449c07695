#include "server/http/request_reader.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace sms::server::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = beast::http;

// True when a chunked body, still incomplete, has a line ended by a bare LF
// in its unparsed bytes. Beast's parser waits for a CRLF that never comes
// (until the body timeout); RFC 9112 §7.1 frames chunk lines with CRLF.
// The parser consumes chunk data as it arrives, so the unparsed bytes are
// framing only: the CRLF closing the last chunk, chunk lines, trailers.
bool HasBareLineFeed(std::string_view unparsed) {
  for (size_t lf = unparsed.find('\n'); lf != std::string_view::npos;
       lf = unparsed.find('\n', lf + 1)) {
    if (lf == 0 || unparsed[lf - 1] != '\r') return true;
  }
  return false;
}

}  // namespace

void ResetParser(std::optional<RequestParser>& parser,
                 const RequestLimits& limits) {
  parser.emplace();
  parser->header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  // The body limit is the route's, set once the target is known
  // (CheckHead); Beast's own check would answer a large Content-Length as
  // a malformed request.
  parser->body_limit(boost::none);
}

HeaderOutcome HeaderError(const beast::error_code& ec,
                          const RequestLimits& limits) {
  if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
      ec == beast::error::timeout || ec == asio::error::operation_aborted ||
      ec == asio::error::connection_reset) {
    return {true, std::nullopt};
  }
  if (ec == bhttp::error::header_limit) {
    return {false, TransportError{ApiCode::kHeadersTooLarge,
                                  "request headers: larger than " +
                                      std::to_string(limits.max_header_bytes) +
                                      " bytes"}};
  }
  return {false, TransportError{ApiCode::kMalformed, "malformed HTTP request"}};
}

std::optional<TransportError> CheckHead(RequestParser& parser,
                                        const RequestLimits& limits) {
  auto& req = parser.get();
  // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request
  // without Host, and to any request with more than one.
  const size_t hosts = req.count(bhttp::field::host);
  if (hosts > 1 || (hosts == 0 && req.version() >= 11)) {
    return TransportError{ApiCode::kMalformed,
                          hosts > 1
                              ? "Host header: given more than once"
                              : "Host header: missing (HTTP/1.1 requires it)"};
  }
  const std::string_view target(req.target().data(), req.target().size());
  if (auto too_long = CheckTargetLength(target, limits.max_target))
    return TransportError{too_long->code, too_long->message};
  const size_t limit = limits.body_limit_for(target);
  if (auto len = parser.content_length(); len && *len > limit) {
    return TransportError{
        ApiCode::kTooLarge,
        "request body: larger than " + std::to_string(limit) + " bytes"};
  }
  parser.body_limit(limit);
  return std::nullopt;
}

std::optional<TransportError> BodyError(const beast::error_code& ec) {
  if (ec == bhttp::error::body_limit)
    return TransportError{ApiCode::kTooLarge, "request body: too large"};
  // A framing error (a bad chunk size or extension): answered before the
  // close, as for a bad header.
  if (ec.category() ==
          bhttp::make_error_code(bhttp::error::bad_chunk).category() &&
      ec != bhttp::error::partial_message && ec != bhttp::error::end_of_stream)
    return TransportError{ApiCode::kMalformed,
                          "malformed request body: " + ec.message()};
  return std::nullopt;
}

HttpRequest TakeRequest(RequestParser& parser, const std::string& remote) {
  auto req = parser.release();
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  for (const auto& f : req)
    out.headers.emplace_back(std::string(f.name_string()),
                             std::string(f.value()));
  out.body = std::move(req.body());
  out.remote = remote;
  return out;
}

BodyOutcome FeedParser(RequestParser& parser, beast::flat_buffer& buffer,
                       const RequestLimits& limits) {
  while (!parser.is_done() && buffer.size() > 0) {
    beast::error_code ec;
    const size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == bhttp::error::need_more) break;
    if (ec) return {BodyStep::kFailed, ec, BodyError(ec)};
    if (used == 0) break;
  }
  if (parser.is_done()) return {BodyStep::kDone, {}, std::nullopt};
  if (parser.chunked()) {
    const std::string_view unparsed(
        static_cast<const char*>(buffer.data().data()), buffer.size());
    if (HasBareLineFeed(unparsed))
      return {BodyStep::kFailed,
              {},
              TransportError{ApiCode::kMalformed,
                             "chunked body: a line ends with a bare LF (CRLF "
                             "required)"}};
    if (unparsed.size() > limits.max_header_bytes)
      return {BodyStep::kFailed,
              {},
              TransportError{
                  ApiCode::kMalformed,
                  "chunked body: chunk line or trailer longer than " +
                      std::to_string(limits.max_header_bytes) + " bytes"}};
  }
  return {BodyStep::kNeedMore, {}, std::nullopt};
}

}  // namespace sms::server::http

namespace sms::server {

RequestReading ReadRequest(std::string_view bytes, const RequestLimits& limits,
                           size_t piece) {
  using Outcome = RequestReading::Outcome;
  using http::BodyOutcome;
  using http::BodyStep;
  using http::TransportError;
  namespace bhttp = boost::beast::http;
  piece = std::max<size_t>(piece, 1);
  std::optional<http::RequestParser> parser;
  http::ResetParser(parser, limits);
  boost::beast::flat_buffer buffer;
  size_t pos = 0;
  // The next piece "arrives"; false at the end of the bytes.
  auto receive = [&] {
    if (pos >= bytes.size()) return false;
    const size_t n = std::min(piece, bytes.size() - pos);
    auto out = buffer.prepare(n);
    std::memcpy(out.data(), bytes.data() + pos, n);
    buffer.commit(n);
    pos += n;
    return true;
  };
  auto refused = [](const TransportError& e) {
    RequestReading r;
    r.outcome = Outcome::kRefused;
    r.status = HttpStatus(e.code);
    r.message = e.message;
    return r;
  };
  while (!parser->is_header_done()) {
    if (buffer.size() == 0 && !receive())
      return {pos == 0 ? Outcome::kClosed : Outcome::kIncomplete};
    boost::beast::error_code ec;
    const size_t used = parser->put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == bhttp::error::need_more) {
      if (!receive()) return {Outcome::kIncomplete};
      continue;
    }
    if (ec) {
      http::HeaderOutcome o = http::HeaderError(ec, limits);
      if (o.close) return {Outcome::kClosed};
      return refused(*o.refusal);
    }
  }
  if (auto e = http::CheckHead(*parser, limits)) return refused(*e);
  for (;;) {
    BodyOutcome o = http::FeedParser(*parser, buffer, limits);
    if (o.step == BodyStep::kDone) {
      RequestReading r;
      r.outcome = Outcome::kRequest;
      r.request = http::TakeRequest(*parser, "");
      return r;
    }
    if (o.step == BodyStep::kFailed) {
      if (o.refusal) return refused(*o.refusal);
      return {Outcome::kClosed};
    }
    if (!receive()) return {Outcome::kIncomplete};
  }
}

}  // namespace sms::server
