#include "auth/sdk_signer.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "auth/crypto.h"
#include "core/strings.h"

namespace sms::auth {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (plus_is_space && s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(
          static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string SdkUriEncode(std::string_view raw) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : raw) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

core::Result<SdkAuthorization> ParseSdkAuthorization(std::string_view header) {
  constexpr std::string_view kScheme = "SDK-HMAC-SHA256 ";
  if (header.substr(0, kScheme.size()) != kScheme)
    return core::Fail(core::InvalidArgument(
        "Authorization: expected the SDK-HMAC-SHA256 scheme"));
  SdkAuthorization out;
  for (std::string_view part :
       core::Split(header.substr(kScheme.size()), ',')) {
    part = Trim(part);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = part.substr(0, eq);
    std::string_view value = part.substr(eq + 1);
    if (key == "Access") {
      out.access_key = std::string(value);
    } else if (key == "SignedHeaders") {
      for (std::string_view h : core::Split(value, ';'))
        if (!h.empty()) out.signed_headers.push_back(Lower(h));
    } else if (key == "Signature") {
      out.signature = Lower(value);
    }
  }
  if (out.access_key.empty() || out.signed_headers.empty() ||
      out.signature.empty()) {
    return core::Fail(core::InvalidArgument(
        "Authorization: Access, SignedHeaders and Signature are required"));
  }
  return out;
}

std::string SdkCanonicalRequest(
    const SignableRequest& req,
    const std::vector<std::string>& signed_headers) {
  std::string out = req.method + "\n";
  // URI: every segment decoded then re-encoded, with a trailing '/'.
  std::string uri;
  std::string_view path = req.path;
  if (path.empty()) path = "/";
  auto segments = core::Split(path, '/');
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) uri.push_back('/');
    uri += SdkUriEncode(PercentDecode(segments[i]));
  }
  if (uri.empty() || uri.back() != '/') uri.push_back('/');
  out += uri + "\n";
  // Query: decoded, re-encoded, sorted by key then value.
  std::vector<std::pair<std::string, std::string>> params;
  if (!req.query.empty()) {
    for (std::string_view kv : core::Split(req.query, '&')) {
      if (kv.empty()) continue;
      size_t eq = kv.find('=');
      std::string k = SdkUriEncode(PercentDecode(kv.substr(0, eq)));
      std::string v = eq == std::string_view::npos
                          ? ""
                          : SdkUriEncode(PercentDecode(kv.substr(eq + 1)));
      params.emplace_back(std::move(k), std::move(v));
    }
  }
  std::sort(params.begin(), params.end());
  for (size_t i = 0; i < params.size(); ++i) {
    if (i > 0) out.push_back('&');
    out += params[i].first + "=" + params[i].second;
  }
  out += "\n";
  // Headers: each signed header, sorted, "name:value\n".
  std::vector<std::string> names = signed_headers;
  std::sort(names.begin(), names.end());
  std::string body_hash;
  for (const std::string& name : names) {
    std::string value;
    bool first = true;
    for (const auto& [k, v] : req.headers) {
      if (Lower(k) != name) continue;
      if (!first) value += ",";
      value += std::string(Trim(v));
      first = false;
    }
    out += name + ":" + value + "\n";
  }
  out += "\n";  // each header line ends in \n, then the block ends
  // X-Sdk-Content-Sha256 stands for the body only when it is signed: an
  // unsigned one could be swapped with the body
  // (docs/server.md#security-notes).
  if (std::find(names.begin(), names.end(), kContentSha256Header) !=
      names.end()) {
    for (const auto& [k, v] : req.headers) {
      if (Lower(k) == kContentSha256Header) body_hash = std::string(Trim(v));
    }
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(';');
    out += names[i];
  }
  out += "\n";
  out += body_hash.empty() ? Sha256Hex(req.body) : body_hash;
  return out;
}

std::string SdkSignature(const SignableRequest& req,
                         const std::vector<std::string>& signed_headers,
                         std::string_view sdk_date,
                         std::string_view secret_key) {
  std::string to_sign = "SDK-HMAC-SHA256\n" + std::string(sdk_date) + "\n" +
                        Sha256Hex(SdkCanonicalRequest(req, signed_headers));
  return HexEncode(HmacSha256(secret_key, to_sign));
}

core::Status CheckSignedBodyHash(
    const SignableRequest& req,
    const std::vector<std::string>& signed_headers) {
  if (std::find(signed_headers.begin(), signed_headers.end(),
                kContentSha256Header) == signed_headers.end())
    return {};
  std::string claimed;
  for (const auto& [k, v] : req.headers) {
    if (Lower(k) == kContentSha256Header) claimed = std::string(Trim(v));
  }
  if (claimed == kUnsignedPayload) {
    if (req.body.empty()) return {};
    return core::Fail(core::InvalidArgument(
        "X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD is accepted only for a "
        "request without a body"));
  }
  if (Lower(claimed) != Sha256Hex(req.body))
    return core::Fail(core::InvalidArgument(
        "X-Sdk-Content-Sha256: does not match the body received"));
  return {};
}

core::Result<int64_t> ParseSdkDate(std::string_view d) {
  if (d.size() != 16 || d[8] != 'T' || d[15] != 'Z')
    return core::Fail(
        core::InvalidArgument("X-Sdk-Date: expected YYYYMMDDTHHMMSSZ"));
  for (size_t i = 0; i < 15; ++i) {
    if (i == 8) continue;
    if (!std::isdigit(static_cast<unsigned char>(d[i])))
      return core::Fail(
          core::InvalidArgument("X-Sdk-Date: expected YYYYMMDDTHHMMSSZ"));
  }
  auto num = [&](size_t pos, size_t len) {
    return std::stoi(std::string(d.substr(pos, len)));
  };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
      tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return core::Fail(core::InvalidArgument("X-Sdk-Date: out of range"));
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string FormatSdkDate(int64_t epoch_ms) {
  std::time_t t = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace sms::auth
