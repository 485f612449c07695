// SdkSigner: the SDK-HMAC-SHA256 request signature of the Huawei Cloud SDKs
// (spec/API.md §2), used to verify AK/SK requests (and by tests and clients
// to sign them).
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace sms::auth {

struct SignableRequest {
  std::string method;  // "GET"
  std::string path;    // as on the wire, percent-encoded: "/v3/tasks"
  std::string query;   // as on the wire, without '?': "limit=2&marker=x"
  // Header names in any case; values as received.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct SdkAuthorization {
  std::string access_key;
  std::vector<std::string> signed_headers;  // lower-case, as sent
  std::string signature;                    // lower-case hex
};

// The header that may carry the body's hash, and the value that leaves the
// body out of the signature (the vendor's SDKs send it for streamed bodies).
inline constexpr std::string_view kContentSha256Header = "x-sdk-content-sha256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// Parses "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex".
[[nodiscard]] core::Result<SdkAuthorization> ParseSdkAuthorization(
    std::string_view header);

// Decodes %XX escapes; anything else is kept as is. `plus_is_space`: a
// query string's form encoding ('+' for ' ', as curl --data-urlencode, HTML
// forms and Python's urlencode write it); a path keeps '+' literal.
std::string PercentDecode(std::string_view s, bool plus_is_space = false);

// Percent-encodes with the SDK's unreserved set (A-Z a-z 0-9 - _ . ~).
std::string SdkUriEncode(std::string_view raw);

// The canonical request of the SDK algorithm. Its last line is the body's
// hash: the X-Sdk-Content-Sha256 value when that header is among
// `signed_headers`, else the SHA-256 of `req.body` (an unsigned header is
// ignored, so it cannot stand in for a body it does not describe).
// A verifier must also check a signed hash against the body received:
// CheckSignedBodyHash.
std::string SdkCanonicalRequest(const SignableRequest& req,
                                const std::vector<std::string>& signed_headers);

// Lower-case hex signature of `req` with `secret_key`; `sdk_date` is the
// X-Sdk-Date value ("20191115T033655Z").
std::string SdkSignature(const SignableRequest& req,
                         const std::vector<std::string>& signed_headers,
                         std::string_view sdk_date,
                         std::string_view secret_key);

// For a request whose signature verified: OK when the body received is the
// body that was signed. A signed X-Sdk-Content-Sha256 must equal the SHA-256
// of `req.body` (hex, any case), or be UNSIGNED-PAYLOAD on a request without
// a body (as the vendor's SDKs sign a GET); without the header the signature
// covered the body's own hash already.
[[nodiscard]] core::Status CheckSignedBodyHash(
    const SignableRequest& req, const std::vector<std::string>& signed_headers);

// Parses an X-Sdk-Date ("YYYYMMDDTHHMMSSZ") into epoch milliseconds.
[[nodiscard]] core::Result<int64_t> ParseSdkDate(std::string_view date);

// Formats epoch milliseconds as an X-Sdk-Date.
std::string FormatSdkDate(int64_t epoch_ms);

}  // namespace sms::auth
