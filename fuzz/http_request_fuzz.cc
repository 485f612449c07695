// Fuzzes the transport's request reading (src/server/http_server.h,
// ReadRequest): Boost.Beast's parser with the limits and checks a
// connection adds (Host, URL and body limits, chunk framing), on bytes that
// arrive in pieces of 1, 2, 4 .. 4096 bytes (the first input byte picks
// the size).
// Checked: a request handed on is within its limits; a refusal is one of
// the transport's statuses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = size_t{1} << (data[0] % 13);
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  sms::server::RequestLimits limits;
  limits.max_header_bytes = 4096;  // small, so the fuzzer reaches it
  limits.max_target = 512;
  limits.body_limit_for = [](std::string_view target) -> size_t {
    return target.find("details") != std::string_view::npos ? 2048 : 1024;
  };
  using Outcome = sms::server::RequestReading::Outcome;
  auto r = sms::server::ReadRequest(bytes, limits, piece);
  if (r.outcome == Outcome::kRequest) {
    if (r.request.target.size() > limits.max_target) abort();
    if (r.request.body.size() > limits.body_limit_for(r.request.target))
      abort();
  }
  if (r.outcome == Outcome::kRefused) {
    if (r.status != 400 && r.status != 413 && r.status != 414 &&
        r.status != 431)
      abort();
  }
  return 0;
}
