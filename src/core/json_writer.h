// Minimal JSON text building for the agent's reports and manifests of
// verdicts (no DOM: reports stream millions of lines). Also the path
// encodings of API.md §3.4: invalid UTF-8 bytes written as "\xHH" text, and
// base64 of the exact bytes.
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sms::core {

// True when `s` is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);
// Returns `s` with each byte that is not part of well-formed UTF-8 replaced
// by the four characters \xHH (upper-case hex).
std::string EscapeInvalidUtf8(std::string_view s);
// Standard base64 with padding.
std::string Base64(std::string_view bytes);
// Appends `s` as a JSON string literal (quotes included); `s` must be UTF-8.
void AppendJsonString(std::string& out, std::string_view s);
// For the text list: one line per path. Escapes '\\' as "\\\\", newline,
// CR and tab as \n \r \t, other control bytes (< 0x20, 0x7f) as \xHH; other
// bytes are kept exactly.
std::string EscapeListPath(std::string_view path);
// RFC 4180 field: quoted when it holds a comma, quote, CR or LF.
void AppendCsvField(std::string& out, std::string_view s);
// ISO-8601 UTC with milliseconds ("2026-11-29T10:00:00.000Z").
std::string IsoTimeMillis(int64_t epoch_millis);

}  // namespace sms::core
