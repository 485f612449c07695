// Fuzzes the SDK-HMAC-SHA256 parsing of src/auth/sdk_signer.h: the
// Authorization header, X-Sdk-Date, and the canonical request and body-hash
// check built from a request whose parts come from the input.
//
// Input: the Authorization header, then "\n"-separated fields: method,
// path, query, one "name:value" header per line up to an empty line, then
// the body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/sdk_signer.h"

namespace {

std::string_view NextLine(std::string_view& in) {
  size_t nl = in.find('\n');
  std::string_view line = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string_view authorization = NextLine(in);
  auto parsed = sms::auth::ParseSdkAuthorization(authorization);

  sms::auth::SignableRequest req;
  req.method = std::string(NextLine(in));
  req.path = std::string(NextLine(in));
  req.query = std::string(NextLine(in));
  std::string sdk_date;
  for (std::string_view line = NextLine(in); !line.empty();
       line = NextLine(in)) {
    size_t colon = line.find(':');
    std::string name(line.substr(0, colon));
    std::string value(colon == std::string_view::npos ? ""
                                                      : line.substr(colon + 1));
    if (name == "X-Sdk-Date") sdk_date = value;
    req.headers.emplace_back(std::move(name), std::move(value));
  }
  req.body = std::string(in);

  (void)sms::auth::ParseSdkDate(sdk_date);
  (void)sms::auth::PercentDecode(req.query, true);
  (void)sms::auth::SdkUriEncode(req.path);
  if (parsed) {
    (void)sms::auth::SdkCanonicalRequest(req, parsed->signed_headers);
    (void)sms::auth::SdkSignature(req, parsed->signed_headers, sdk_date,
                                  "secret");
    (void)sms::auth::CheckSignedBodyHash(req, parsed->signed_headers);
  }
  return 0;
}
