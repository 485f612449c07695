// BodyStream: an answer's body sent as it is produced, for bodies too large
// to build in memory (the export, issue 11.2). The transport calls it on a
// worker thread, one call at a time, and sends each piece as a chunk
// (Transfer-Encoding: chunked) before asking for the next, so a slow client
// holds one piece, not the whole body.
#pragma once

#include <functional>
#include <string>

#include "core/result.h"

namespace sms::server {

// HttpResponse::body holds the first piece of a streamed body, if any.
// Appends the next piece of the body to `out` (a few tens of KiB) and
// returns true while more follows, false with the last piece. An error ends
// the body early: the transport closes the connection without the final
// chunk, so the client sees an incomplete answer, never a short complete
// one.
using BodyStream = std::function<core::Result<bool>(std::string& out)>;

// The size of the piece a BodyStream should aim for.
inline constexpr size_t kBodyStreamPiece = 64 * 1024;

}  // namespace sms::server
