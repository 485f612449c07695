// Writing answers: an HttpResponse of the Api as a Beast response, the
// request id an answer carries, and the canned 503 for a client over the
// connection cap. The async writes themselves belong to the connection
// (connection.cc), which owns the stream.
// Thread-safety: free functions.
#pragma once

#include <boost/beast/http.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "server/api.h"

namespace sms::server::http {

using BeastResponse =
    boost::beast::http::response<boost::beast::http::string_body>;

// The answer to write for `r`: status, Server and Date, the Api's headers,
// the body with its Content-Length, and keep-alive as `keep`.
std::shared_ptr<BeastResponse> ToBeastResponse(HttpResponse r, bool keep);

// The head of a streamed answer (`r.stream`): as ToBeastResponse, with
// Transfer-Encoding: chunked in place of a Content-Length.
using StreamedHead =
    boost::beast::http::response<boost::beast::http::empty_body>;
std::shared_ptr<StreamedHead> ToStreamedHead(const HttpResponse& r, bool keep);

// True for a request id we echo (as api.cc does): 1..128 visible ASCII
// characters, no quote or backslash.
bool IsSafeRequestId(std::string_view s);

// The client's X-Request-Id among `headers` when safe, else a new one.
std::string RequestIdOf(const Headers& headers);

// The whole answer (head and body) to a client over max_connections.
std::string BusyResponse();

}  // namespace sms::server::http
