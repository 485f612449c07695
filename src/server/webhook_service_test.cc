// Webhook delivery (issue 13.4) against a receiver on loopback: signatures
// verify, every event arrives once by its idempotency id across a replica
// that claimed deliveries and died, a receiver answering 500 for a while,
// and two replicas delivering side by side; a target that never answers is
// given up after 24 hours; the API keeps to the admin role and the
// allow-list.
#include "server/webhook_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "auth/secret_box.h"
#include "net/http_post.h"
#include "server/codec/webhook_codec.h"
#include "server/service_fixture.h"
#include "testing/matchers.h"
#include "webhook/webhook.h"

namespace sms::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using ::sms::testing::IsOk;

constexpr char kSecret[] = "whsec_test_secret_0123456789";

// A webhook receiver on 127.0.0.1: answers 500 to the first `fail_first`
// requests, then 200; checks every signature with the test's clock.
class Receiver {
 public:
  Receiver(core::Clock& clock, int fail_first)
      : clock_(clock), fail_first_(fail_first), acceptor_(io_) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~Receiver() {
    stop_ = true;
    beast::error_code ec;
    tcp::socket poke(io_);
    poke.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/hook";
  }
  // Idempotency id -> times answered 200.
  std::map<std::string, int> accepted() {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  int requests() { return requests_.load(); }
  int bad_signatures() { return bad_signatures_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      tcp::socket s(io_);
      beast::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stop_) continue;
      beast::flat_buffer buf;
      http::request<http::string_body> req;
      http::read(s, buf, req, ec);
      if (ec) continue;
      const int n = requests_.fetch_add(1);
      const std::string sig(req["X-Sms-Signature"]);
      if (!webhook::Verify(kSecret, sig, req.body(),
                           clock_.NowEpochMillis() / 1000))
        bad_signatures_++;
      const std::string id(req["Idempotency-Key"]);
      http::response<http::string_body> res;
      res.version(11);
      res.result(n < fail_first_ ? 500 : 200);
      res.body() = "ok";
      res.prepare_payload();
      if (n >= fail_first_) {
        std::lock_guard lock(mu_);
        accepted_[id]++;
      }
      http::write(s, res, ec);
      s.shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  core::Clock& clock_;
  const int fail_first_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> bad_signatures_{0};
  std::mutex mu_;
  std::map<std::string, int> accepted_;
  std::thread thread_;
};

// The services' SQLite store, fake clock, domain d1 and its source
// (service_fixture.h), and one task of that source.
class WebhookDeliveryTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    storage::Task t;
    t.id = "t1";
    t.domain_id = "d1";
    t.name = "task";
    t.source_id = kSourceId;
    ASSERT_THAT(store_->CreateTask(t), IsOk());
  }

  void AddWebhook(const std::string& url) {
    ASSERT_THAT(store_->CreateWebhook(
                    {"w1", "d1", url,
                     "run.failed,run.finished,run.inconsistent", kSecret, 1}),
                IsOk());
  }

  // Three runs: consistent, inconsistent, failed: five events.
  void CommitRuns() {
    for (int i = 0; i < 3; ++i) {
      storage::Run r;
      r.run_id = "run" + std::to_string(i);
      r.domain_id = "d1";
      r.task_id = "t1";
      r.check_result = i == 2 ? "failed" : "success";
      r.content_hash = "h" + std::to_string(i);
      r.committed_at = clock_.NowEpochMillis();
      if (i < 2) r.dirs = {{"/a", 10, i, 0, 0, 0, 0, 0, 1}};
      ASSERT_THAT(store_->CommitRun(r), IsOk());
    }
  }
  static std::set<std::string> Expected() {
    return {"run0/run.finished", "run1/run.finished", "run1/run.inconsistent",
            "run2/run.finished", "run2/run.failed"};
  }

  WebhookDispatcher Dispatcher(net::HttpPoster& poster, std::string owner) {
    return WebhookDispatcher(*store_, clock_, poster,
                             {.owner = std::move(owner), .batch = 2},
                             [](const std::string&) {});
  }
};

TEST_F(WebhookDeliveryTest, EveryEventOnceAcrossADeadReplicaAndA500Spell) {
  Receiver rx(clock_, /*fail_first=*/3);
  AddWebhook(rx.url());
  CommitRuns();
  // A replica claims two deliveries and dies before posting them.
  auto dead = store_->ClaimDeliveries("dead", clock_.NowEpochMillis(),
                                      clock_.NowEpochMillis() + 60000, 2);
  ASSERT_THAT(dead, IsOk());
  ASSERT_EQ(dead->size(), 2u);
  auto poster = net::NewHttpPoster({});
  WebhookDispatcher a = Dispatcher(*poster, "replica-a");
  WebhookDispatcher b = Dispatcher(*poster, "replica-b");
  for (int round = 0; round < 40; ++round) {
    // Two replicas at once.
    std::thread ta([&] { a.RunOnce(); });
    std::thread tb([&] { b.RunOnce(); });
    ta.join();
    tb.join();
    if (rx.accepted().size() == Expected().size()) break;
    clock_.Advance(std::chrono::minutes(7));
  }
  std::set<std::string> ids;
  for (const auto& [id, times] : rx.accepted()) {
    ids.insert(id);
    EXPECT_EQ(times, 1) << id;  // once: no two replicas held one delivery
  }
  EXPECT_EQ(ids, Expected());
  EXPECT_EQ(rx.bad_signatures(), 0);
  EXPECT_EQ(rx.requests(), 3 + 5);  // the 500s were retried
  auto deliveries = store_->ListRunDeliveries("d1", "run1");
  ASSERT_THAT(deliveries, IsOk());
  for (const auto& d : *deliveries) EXPECT_EQ(d.state, "delivered");
  auto log = store_->ListAttempts("d1", "w1", 100);
  ASSERT_THAT(log, IsOk());
  EXPECT_EQ(log->size(), 8u);
  int failures = 0;
  for (const auto& at : *log) failures += at.status == 500;
  EXPECT_EQ(failures, 3);
}

TEST_F(WebhookDeliveryTest, AReceiverThatNeverAnswersIsGivenUpAfter24Hours) {
  // A port with nothing listening: connection refused on every attempt.
  std::string url;
  {
    Receiver gone(clock_, 0);
    url = gone.url();
  }
  AddWebhook(url);
  CommitRuns();
  auto poster = net::NewHttpPoster({});
  WebhookDispatcher a = Dispatcher(*poster, "replica-a");
  int attempts = 0;
  for (int round = 0; round < 400; ++round) {
    attempts += a.RunOnce();
    clock_.Advance(std::chrono::minutes(30));
  }
  auto ds = store_->ListRunDeliveries("d1", "run0");
  ASSERT_THAT(ds, IsOk());
  ASSERT_EQ(ds->size(), 1u);
  EXPECT_EQ((*ds)[0].state, "failed");
  // Tried for more than 24 hours, with growing delays (not every round).
  EXPECT_GT((*ds)[0].attempts, 5);
  EXPECT_LT((*ds)[0].attempts, 40);
}

TEST_F(WebhookDeliveryTest, AnAllowListRefusesOtherAddressesAtDelivery) {
  Receiver rx(clock_, 0);
  AddWebhook(rx.url());
  CommitRuns();
  auto allow = webhook::AllowList::Parse({"10.0.0.0/8"});
  ASSERT_THAT(allow, IsOk());
  auto poster = net::NewHttpPoster({.allow = *allow});
  WebhookDispatcher a = Dispatcher(*poster, "replica-a");
  a.RunOnce();
  EXPECT_EQ(rx.requests(), 0);
  auto log = store_->ListAttempts("d1", "w1", 10);
  ASSERT_THAT(log, IsOk());
  ASSERT_FALSE(log->empty());
  EXPECT_THAT((*log)[0].error, ::testing::HasSubstr("webhook_allow"));
}

TEST_F(WebhookDeliveryTest, ServiceChecksRoleUrlEventsAndAllowList) {
  auto allow = webhook::AllowList::Parse({"127.0.0.0/8", "hooks.example"});
  ASSERT_THAT(allow, IsOk());
  WebhookService svc(*store_, clock_, *allow);
  const Identity admin = As(Role::kAdmin);
  const CreateWebhookRequest req{.url = "http://127.0.0.1:9/h",
                                 .events = {"run.finished", "task.ready"}};
  for (Role role : {Role::kViewer, Role::kOperator, Role::kAgent})
    EXPECT_THAT(svc.Create(As(role), req),
                ApiFails(ApiCode::kForbidden, "admin role"));
  auto made = svc.Create(admin, req);
  ASSERT_THAT(made, ApiOk());
  EXPECT_EQ(made->secret.substr(0, 6), "whsec_");
  EXPECT_EQ(made->webhook.events, "run.finished,task.ready");
  CreateWebhookRequest ftp = req;
  ftp.url = "ftp://127.0.0.1/h";
  EXPECT_THAT(svc.Create(admin, ftp), ApiFails(ApiCode::kMalformed, "url"));
  CreateWebhookRequest outside = req;
  outside.url = "http://192.0.2.1/h";
  EXPECT_THAT(svc.Create(admin, outside),
              ApiFails(ApiCode::kMalformed, "webhook_allow"));
  auto list = svc.List(admin);
  ASSERT_THAT(list, ApiOk());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_THAT(svc.Show(admin, (*list)[0].id), ApiOk());
  EXPECT_THAT(svc.List(As(Role::kAdmin, "d2")), ApiOk());  // none there
  EXPECT_THAT(svc.Show(As(Role::kAdmin, "d2"), (*list)[0].id),
              ApiFails(ApiCode::kNotFound, "webhook not found"));
  EXPECT_THAT(svc.Delete(admin, (*list)[0].id), ApiOk());
  EXPECT_THAT(svc.Delete(admin, (*list)[0].id),
              ApiFails(ApiCode::kNotFound, "webhook not found"));
}

TEST_F(WebhookDeliveryTest, SecretsAreSealedAtRestAndOpenedToSign) {
  const auth::SecretBox box(std::string(32, 'k'));
  Receiver rx(clock_, 0);
  WebhookService svc(*store_, clock_, webhook::AllowList(), &box);
  auto made = svc.Create(As(Role::kAdmin), {.url = rx.url(),
                                            .events = {"run.finished"},
                                            .secret = std::string(kSecret)});
  ASSERT_THAT(made, ApiOk());
  EXPECT_EQ(made->secret, kSecret);  // the caller sees it once, in the clear
  auto stored = store_->GetWebhook("d1", made->webhook.id);
  ASSERT_THAT(stored, IsOk());
  EXPECT_TRUE(auth::SecretBox::IsSealed(stored->secret));
  EXPECT_EQ(stored->secret.find(kSecret), std::string::npos);
  CommitRuns();  // three run.finished events

  // Without the key nothing is sent, and the log says why.
  auto poster = net::NewHttpPoster({});
  WebhookDispatcher keyless(*store_, clock_, *poster,
                            {.owner = "keyless", .batch = 8},
                            [](const std::string&) {});
  EXPECT_EQ(keyless.RunOnce(), 3);
  EXPECT_EQ(rx.requests(), 0);
  auto log = store_->ListAttempts("d1", made->webhook.id, 10);
  ASSERT_THAT(log, IsOk());
  ASSERT_EQ(log->size(), 3u);
  EXPECT_THAT((*log)[0].error, ::testing::HasSubstr("--secret-key-file"));
  EXPECT_EQ((*log)[0].state, "pending");

  // With it, each delivery is signed with the secret in the clear.
  WebhookDispatcher keyed(*store_, clock_, *poster,
                          {.owner = "keyed", .batch = 8, .secrets = &box},
                          [](const std::string&) {});
  for (int round = 0; round < 20 && rx.accepted().size() < 3; ++round) {
    clock_.Advance(std::chrono::minutes(7));
    keyed.RunOnce();
  }
  EXPECT_EQ(rx.accepted().size(), 3u);
  EXPECT_EQ(rx.bad_signatures(), 0);
}

TEST_F(WebhookDeliveryTest, ASecretStoredInTheClearStillSigns) {
  // A webhook made before secrets were sealed (or without a key).
  const auth::SecretBox box(std::string(32, 'k'));
  Receiver rx(clock_, 0);
  AddWebhook(rx.url());
  CommitRuns();
  auto poster = net::NewHttpPoster({});
  WebhookDispatcher keyed(*store_, clock_, *poster,
                          {.owner = "keyed", .batch = 8, .secrets = &box},
                          [](const std::string&) {});
  EXPECT_EQ(keyed.RunOnce(), 5);
  EXPECT_EQ(rx.accepted().size(), Expected().size());
  EXPECT_EQ(rx.bad_signatures(), 0);
}

TEST(WebhookCodecTest, DecodesACreateRequestNamingEachBadField) {
  auto ok = DecodeCreateWebhook(json::object{
      {"url", "https://hooks.example/x"},
      {"events", json::array{"run.failed", "run.finished", "run.failed"}},
      {"secret", "0123456789abcdef"}});
  ASSERT_THAT(ok, ApiOk());
  EXPECT_EQ(ok->events,
            (std::vector<std::string>{"run.failed", "run.finished"}));
  EXPECT_EQ(ok->secret, "0123456789abcdef");
  json::object body{{"url", "https://hooks.example/x"},
                    {"events", json::array{"run.finished"}}};
  EXPECT_THAT(DecodeCreateWebhook(body), ApiOk());
  json::object bad = body;
  bad["events"] = json::array{"run.finished", "run.exploded"};
  EXPECT_THAT(DecodeCreateWebhook(bad),
              ApiFails(ApiCode::kMalformed, "events[1]"));
  bad["events"] = json::array{};
  EXPECT_THAT(DecodeCreateWebhook(bad),
              ApiFails(ApiCode::kMalformed, "events"));
  bad = body;
  bad["secret"] = "short";
  EXPECT_THAT(DecodeCreateWebhook(bad),
              ApiFails(ApiCode::kMalformed, "secret"));
  bad = body;
  bad.erase("url");
  EXPECT_THAT(DecodeCreateWebhook(bad), ApiFails(ApiCode::kMissing, "url"));
  EXPECT_THAT(DecodeDeliveriesQuery({{"limit", "501"}}),
              ApiFails(ApiCode::kMalformed, "limit"));
  EXPECT_EQ(*DecodeDeliveriesQuery({}), 50);
}

TEST(WebhookCodecTest, TheSecretIsEncodedOnlyWhenMade) {
  const storage::Webhook w{.id = "w1",
                           .domain_id = "d1",
                           .url = "https://hooks.example/x",
                           .events = "run.failed,run.finished",
                           .secret = "sealed:v1:xyz",
                           .created_at = 5};
  const json::value shown = EncodeWebhook(w);
  EXPECT_FALSE(shown.as_object().contains("secret"));
  EXPECT_EQ(shown.at("events").as_array().size(), 2u);
  EXPECT_FALSE(EncodeWebhookList({w})
                   .at("webhooks")
                   .as_array()[0]
                   .as_object()
                   .contains("secret"));
  const json::value made = EncodeCreatedWebhook({w, "whsec_plain"});
  EXPECT_EQ(made.at("secret").as_string(), "whsec_plain");
}

}  // namespace
}  // namespace sms::server
