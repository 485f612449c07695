// The transport's reading of requests from bytes (ReadRequest): the same
// parser, limits and checks as a connection, fed whole and byte by byte.
// The socket-level behaviour is tested against the real binary in
// tests/security/http_transport_test.py and fd_limit_test.py.
#include "server/http_server.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace sms::server {
namespace {

using Outcome = RequestReading::Outcome;

RequestLimits Limits() {
  RequestLimits l;
  l.body_limit_for = [](std::string_view target) -> size_t {
    return target.find("/details") != std::string_view::npos ? 16 << 20
                                                             : 1 << 20;
  };
  return l;
}

struct Case {
  const char* name;
  std::string bytes;
  Outcome outcome;
  int status;  // kRefused
};

class ReadRequestTest : public ::testing::TestWithParam<Case> {};

TEST_P(ReadRequestTest, SameAnswerWholeAndByteByByte) {
  const Case& c = GetParam();
  for (size_t piece : {size_t{1}, size_t{7}, c.bytes.size()}) {
    RequestReading r = ReadRequest(c.bytes, Limits(), piece);
    EXPECT_EQ(r.outcome, c.outcome) << c.name << " piece " << piece;
    if (c.outcome == Outcome::kRefused) {
      EXPECT_EQ(r.status, c.status)
          << c.name << " piece " << piece << ": " << r.message;
    }
  }
}

const std::string kChunked =
    "POST /v3/tasks HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";

INSTANTIATE_TEST_SUITE_P(
    Table, ReadRequestTest,
    ::testing::Values(
        Case{"get", "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n",
             Outcome::kRequest, 0},
        Case{"http10 without host", "GET /healthz HTTP/1.0\r\n\r\n",
             Outcome::kRequest, 0},
        Case{"http11 without host", "GET /healthz HTTP/1.1\r\n\r\n",
             Outcome::kRefused, 400},
        Case{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
             Outcome::kRefused, 400},
        Case{"content-length over 16 MiB",
             "POST /v3/tasks/x/consistency-result/details HTTP/1.1\r\nHost: "
             "h\r\nContent-Length: 20000000\r\n\r\n",
             Outcome::kRefused, 413},
        Case{"content-length over the route's 1 MiB",
             "POST /v3/tasks HTTP/1.1\r\nHost: h\r\nContent-Length: "
             "2000000\r\n\r\n",
             Outcome::kRefused, 413},
        Case{"url over 8 KiB",
             "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n",
             Outcome::kRefused, 414},
        Case{"headers over 32 KiB",
             "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(40000, 'a') +
                 "\r\n\r\n",
             Outcome::kRefused, 431},
        Case{"garbage", "\x01\x02 nonsense\r\n\r\n", Outcome::kRefused, 400},
        Case{"body",
             "POST /v3/tasks HTTP/1.1\r\nHost: h\r\nContent-Length: "
             "2\r\n\r\n{}",
             Outcome::kRequest, 0},
        Case{"short body",
             "POST /v3/tasks HTTP/1.1\r\nHost: h\r\n"
             "Content-Length: 5\r\n\r\n{}",
             Outcome::kIncomplete, 0},
        Case{"chunked", kChunked + "2\r\n{}\r\n0\r\n\r\n", Outcome::kRequest,
             0},
        Case{"chunked, LF inside the data", kChunked + "3\r\n{\n}\r\n0\r\n\r\n",
             Outcome::kRequest, 0},
        Case{"bad chunk size", kChunked + "zz\r\n{}\r\n0\r\n\r\n",
             Outcome::kRefused, 400},
        Case{"bare LF chunk line", kChunked + "2\n{}\n0\n\n", Outcome::kRefused,
             400},
        Case{"bare LF after the last chunk", kChunked + "2\r\n{}\r\n0\n\n",
             Outcome::kRefused, 400},
        Case{"chunk line over 32 KiB", kChunked + std::string(40000, 'f'),
             Outcome::kRefused, 400},
        Case{"chunked over 1 MiB",
             kChunked + "200000\r\n" + std::string(0x200000, 'x') +
                 "\r\n0\r\n\r\n",
             Outcome::kRefused, 413},
        Case{"nothing", "", Outcome::kClosed, 0}),
    [](const auto& info) {
      std::string name;
      for (char c : std::string(info.param.name))
        name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST(ReadRequestTest, HandsTheRequestToTheApi) {
  RequestReading r = ReadRequest(
      "POST /v3/tasks?x=1 HTTP/1.1\r\nHost: h\r\nX-Request-Id: r1\r\n"
      "Content-Length: 2\r\n\r\n{}",
      Limits(), 3);
  ASSERT_EQ(r.outcome, Outcome::kRequest);
  EXPECT_EQ(r.request.method, "POST");
  EXPECT_EQ(r.request.target, "/v3/tasks?x=1");
  EXPECT_EQ(r.request.body, "{}");
  ASSERT_EQ(r.request.headers.size(), 3u);
  EXPECT_EQ(r.request.headers[1].second, "r1");
}

}  // namespace
}  // namespace sms::server
