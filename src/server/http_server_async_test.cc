// An async route (Api::Async: the agent's command poll) through a real
// HttpServer and Api over SQLite, on a loopback socket: the answer comes
// back on its connection, which stays alive; a replay is refused; a server
// stopped while a poll's signature record is still waiting (another
// connection holds the database's write lock) answers it and closes, and
// goes away cleanly (the sanitizer build, `make asan`, runs this too).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "auth/crypto.h"
#include "auth/sdk_signer.h"
#include "server/api.h"
#include "server/http_server.h"
#include "storage/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace sms::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

constexpr char kSourceId[] = "5b6f1c9e-0d1a-4c2b-9f3e-7a8b9c0d1e2f";

class HttpAsyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::SqliteOptions so;
    so.busy_timeout_ms = 20000;  // the shutdown test holds the write lock
    auto s = storage::OpenSqliteStore(dir_.Join("sms.db"), so);
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
    AuthOptions ao;
    ao.pbkdf2_iterations = 1000;
    auth_ = std::make_unique<AuthService>(*store_, clock_, ao);
    tasks_ = std::make_unique<TaskService>(*store_, clock_);
    results_ = std::make_unique<ResultService>(*store_, clock_, *tasks_);
    exports_ = std::make_unique<ExportService>(*store_, *tasks_);
    api_ = std::make_unique<Api>(
        ApiDeps{store_.get(), &clock_, auth_.get(), tasks_.get(),
                results_.get(), exports_.get(), &metrics_, nullptr},
        ApiOptions{});
    ASSERT_TRUE(auth_->CreateDomain("acme"));
    auto agent = auth_->CreateUser("acme", "agent", "agent", "password-agent");
    ASSERT_TRUE(agent);
    auto cred = auth_->CreateCredential("acme", "agent");
    ASSERT_TRUE(cred);
    ak_ = cred->access_key;
    sk_ = cred->secret_key;
    storage::Source src;
    src.id = kSourceId;
    src.domain_id = agent->user.domain_id;
    src.owner_user_id = agent->user.id;
    src.name = "web01";
    src.hostname = "web01";
    src.os_type = "LINUX";
    ASSERT_TRUE(store_->UpsertSource(src));

    HttpServerOptions o;
    o.port = 0;
    o.io_threads = 1;
    o.worker_threads = 2;
    o.inline_reads = true;  // as over SQLite: the poll starts on I/O
    o.shutdown_grace_s = 10;
    server_ = std::make_unique<HttpServer>(*api_, metrics_, o);
    ASSERT_TRUE(server_->Start());
    runner_ = std::thread([this] { server_->Run(); });
  }

  void TearDown() override {
    if (server_) server_->Stop();
    if (runner_.joinable()) runner_.join();
    server_.reset();
  }

  // A poll of the source signed as sms-agent signs it (AK/SK).
  std::string SignedPoll() {
    const std::string path =
        std::string("/v3/sources/") + kSourceId + "/command";
    const std::string date = auth::FormatSdkDate(clock_.NowEpochMillis());
    const std::string rid = auth::NewUuid();
    Headers h = {{"content-type", "application/json"},
                 {"host", "127.0.0.1"},
                 {"x-request-id", rid},
                 {"x-sdk-date", date}};
    auth::SignableRequest s{"GET", path, "", h, ""};
    const std::string sig = auth::SdkSignature(
        s, {"content-type", "host", "x-request-id", "x-sdk-date"}, date, sk_);
    std::string out = "GET " + path + " HTTP/1.1\r\n";
    for (const auto& [k, v] : h) out += k + ": " + v + "\r\n";
    out += "authorization: SDK-HMAC-SHA256 Access=" + ak_ +
           ", SignedHeaders=content-type;host;x-request-id;x-sdk-date, "
           "Signature=" +
           sig + "\r\n\r\n";
    return out;
  }

  tcp::socket Connect() {
    tcp::socket s(client_io_);
    s.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    return s;
  }

  static bhttp::response<bhttp::string_body> Exchange(tcp::socket& s,
                                                      const std::string& req) {
    asio::write(s, asio::buffer(req));
    return Read(s);
  }

  static bhttp::response<bhttp::string_body> Read(tcp::socket& s) {
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(s, buf, res);
    return res;
  }

  ::sms::testing::TempDir dir_;
  core::Clock& clock_ = core::SystemClock();
  std::unique_ptr<storage::Store> store_;
  Metrics metrics_;
  std::unique_ptr<AuthService> auth_;
  std::unique_ptr<TaskService> tasks_;
  std::unique_ptr<ResultService> results_;
  std::unique_ptr<ExportService> exports_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> server_;
  std::thread runner_;
  asio::io_context client_io_;
  std::string ak_, sk_;
};

TEST_F(HttpAsyncTest, APollIsAnsweredOnItsConnectionWhichStaysAlive) {
  ASSERT_TRUE(
      api_->Async("GET", std::string("/v3/sources/") + kSourceId + "/command"));
  tcp::socket s = Connect();
  const std::string first = SignedPoll();
  for (const std::string& req : {first, SignedPoll(), SignedPoll()}) {
    auto res = Exchange(s, req);
    EXPECT_EQ(res.result_int(), 200) << res.body();
    EXPECT_NE(res.body().find("\"command_name\":\"NONE\""), std::string::npos)
        << res.body();
    EXPECT_TRUE(res.keep_alive());
  }
  // The same signed request again: a replay, refused on the same
  // connection, which stays open for the next.
  auto replay = Exchange(s, first);
  EXPECT_EQ(replay.result_int(), 403);
  EXPECT_NE(replay.body().find("SMS.9003"), std::string::npos) << replay.body();
  EXPECT_NE(replay.body().find("replay"), std::string::npos) << replay.body();
  EXPECT_EQ(Exchange(s, SignedPoll()).result_int(), 200);
  // Refused before the record (bad signature): answered at once.
  std::string forged = SignedPoll();
  forged.replace(forged.find("Signature=") + 10, 4, "0000");
  EXPECT_EQ(Exchange(s, forged).result_int(), 403);
  EXPECT_EQ(Exchange(s, SignedPoll()).result_int(), 200);
}

// Stop() while a poll waits for its signature's record: the poll is
// answered (its record is made once the lock goes) with Connection: close,
// a client that left meanwhile costs nothing, and Run() returns.
TEST_F(HttpAsyncTest, StoppingWhileARecordWaitsAnswersThePollAndCloses) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.Join("sms.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr),
            SQLITE_OK);
  const std::string polls[] = {SignedPoll(), SignedPoll()};
  tcp::socket waiting = Connect();
  asio::write(waiting, asio::buffer(polls[0]));
  {
    tcp::socket leaving = Connect();
    asio::write(leaving, asio::buffer(polls[1]));
  }  // closed before its answer
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server_->Stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto res = Read(waiting);
  EXPECT_EQ(res.result_int(), 200) << res.body();
  EXPECT_FALSE(res.keep_alive());
  runner_.join();
  // Both polls were accepted, so both signatures are on record.
  for (const std::string& poll : polls) {
    const size_t at = poll.find("Signature=") + 10;
    const std::string key =
        ak_ + ":" + poll.substr(at, poll.find('\r', at) - at);
    auto again = store_->RememberSignature(key, clock_.NowEpochMillis() + 60000,
                                           clock_.NowEpochMillis());
    ASSERT_FALSE(again) << key;
    EXPECT_EQ(again.error().code, core::ErrorCode::kAlreadyExists);
  }
}

}  // namespace
}  // namespace sms::server
