// Reading one request off a connection: Beast's parser, plus the checks
// Beast does not make (Host count, target length, the route's body limit
// before the body is read, chunk lines ended by a bare LF). The connection
// (connection.cc) and ReadRequest (without a socket, for the fuzzer and
// tests) share these steps, so both refuse the same bytes the same way.
// Thread-safety: free functions over the caller's parser and buffer.
#pragma once

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <string>

#include "server/api.h"
#include "server/api_error.h"
#include "server/http_server.h"

namespace sms::server::http {

namespace beast = boost::beast;
using RequestParser = beast::http::request_parser<beast::http::string_body>;

// What the transport answers for a request it refuses before the Api; the
// status is HttpStatus(code), as for every answer.
struct TransportError {
  ApiCode code;
  std::string message;
};

// How a failed read of a request's headers ends: answered with `refusal`,
// or `close` when the client is gone (or idle too long) and gets no answer.
struct HeaderOutcome {
  bool close = false;
  std::optional<TransportError> refusal;
};

// Replaces `parser` with a fresh one for the next request on a connection.
void ResetParser(std::optional<RequestParser>& parser,
                 const RequestLimits& limits);

// The answer to an error reading the headers.
HeaderOutcome HeaderError(const beast::error_code& ec,
                          const RequestLimits& limits);

// The checks of a complete request head that Beast does not make; on
// success sets the route's body limit on the parser.
std::optional<TransportError> CheckHead(RequestParser& parser,
                                        const RequestLimits& limits);

// The answer to an error reading the body: a refusal, or nullopt when the
// client is gone and gets none.
std::optional<TransportError> BodyError(const beast::error_code& ec);

// Moves the parsed request out of `parser`, for the Api.
HttpRequest TakeRequest(RequestParser& parser, const std::string& remote);

enum class BodyStep { kDone, kNeedMore, kFailed };
struct BodyOutcome {
  BodyStep step;
  beast::error_code ec;                   // kFailed: Beast's error, if any
  std::optional<TransportError> refusal;  // kFailed: the answer
};

// Beast's read loop, by hand: the bytes in `buffer` go to the parser, and
// an incomplete chunked body is checked (Beast would keep reading while a
// chunk line lacks its CRLF).
BodyOutcome FeedParser(RequestParser& parser, beast::flat_buffer& buffer,
                       const RequestLimits& limits);

}  // namespace sms::server::http
