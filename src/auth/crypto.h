// Crypto: the few primitives the server and the agent need, on OpenSSL.
// Thread-safety: every function is safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sms::auth {

// Lower-case hex of the bytes.
std::string HexEncode(std::string_view bytes);
// The value of one hex digit (either case), or -1.
int HexValue(char c);
// Bytes from hex text (either case); kInvalidArgument on an odd length or
// a non-hex character.
[[nodiscard]] core::Result<std::string> HexDecode(std::string_view hex);
// SHA-256 of `data`, lower-case hex.
std::string Sha256Hex(std::string_view data);
// Raw HMAC-SHA256 of `data` keyed with `key`.
std::string HmacSha256(std::string_view key, std::string_view data);
// `n` bytes from the OpenSSL CSPRNG.
std::string RandomBytes(size_t n);
// Equality in time independent of where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// Standard base64 (with padding) and its URL-safe variant (no padding).
std::string Base64Encode(std::string_view bytes);
std::string Base64UrlEncode(std::string_view bytes);
// Decodes either alphabet, padding optional; nullopt-like error on bad input.
core::Result<std::string> Base64Decode(std::string_view text);
// A time-ordered (version 7, RFC 9562) UUID, lower-case: 48 bits of Unix
// time in ms, then 74 random bits.
std::string NewUuid();
// 16 bytes in UUID text form (8-4-4-4-12 lower-case hex); the caller has set
// the version and variant bits.
std::string FormatUuid(std::string_view bytes16);
// True when `s` is a lower-case 36-character UUID.
bool IsUuid(std::string_view s);

// Password hashing: PBKDF2-HMAC-SHA256, 16-byte random salt, stored as
// "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>".
std::string HashPassword(std::string_view password, int iterations = 210000);
// True if `password` matches `stored` (constant-time comparison).
bool VerifyPassword(std::string_view password, std::string_view stored);

}  // namespace sms::auth
