#include "server/webhook_service.h"

#include <arpa/inet.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "auth/crypto.h"

namespace sms::server {
namespace {

constexpr char kWebhookNotFound[] = "webhook not found";

ApiStatus RequireAdmin(const Identity& who) {
  if (who.role != Role::kAdmin)
    return ApiFail(ApiCode::kForbidden,
                   "webhooks need the admin role (sms:webhook:manage)");
  return {};
}

bool IsAddressLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

ApiResult<CreatedWebhook> WebhookService::Create(
    const Identity& who, const CreateWebhookRequest& req) {
  SMS_RETURN_IF_ERROR(RequireAdmin(who));
  auto target = webhook::ParseTarget(req.url);
  if (!target) return Malformed("url", target.error().message);
  if (IsAddressLiteral(target->host) && !allow_.AllowsAddress(target->host))
    return Malformed("url", "the address " + target->host +
                                " is outside the server's webhook_allow list");
  // A host name outside the list by name may still resolve into an allowed
  // network: every delivery checks the addresses it resolves to
  // (net/http_post.h) and is refused there if they are not.
  CreatedWebhook out;
  storage::Webhook& w = out.webhook;
  w.id = auth::NewUuid();
  w.domain_id = who.domain_id;
  w.url = req.url;
  for (const std::string& e : req.events)
    w.events += (w.events.empty() ? "" : ",") + e;
  out.secret = req.secret
                   ? *req.secret
                   : "whsec_" + auth::Base64UrlEncode(auth::RandomBytes(24));
  w.secret = secrets_ != nullptr
                 ? secrets_->Seal(WebhookSecretContext(w.id), out.secret)
                 : out.secret;
  w.created_at = clock_.NowEpochMillis();
  if (auto s = store_.CreateWebhook(w); !s) return StoreFail(s.error(), "");
  return out;
}

ApiResult<std::vector<storage::Webhook>> WebhookService::List(
    const Identity& who) {
  SMS_RETURN_IF_ERROR(RequireAdmin(who));
  auto hooks = store_.ListWebhooks(who.domain_id);
  if (!hooks) return StoreFail(hooks.error(), "");
  return std::move(*hooks);
}

ApiResult<storage::Webhook> WebhookService::Show(const Identity& who,
                                                 const std::string& id) {
  SMS_RETURN_IF_ERROR(RequireAdmin(who));
  auto w = store_.GetWebhook(who.domain_id, id);
  if (!w) return StoreFail(w.error(), kWebhookNotFound);
  return std::move(*w);
}

ApiStatus WebhookService::Delete(const Identity& who, const std::string& id) {
  SMS_RETURN_IF_ERROR(RequireAdmin(who));
  if (auto s = store_.DeleteWebhook(who.domain_id, id); !s)
    return StoreFail(s.error(), kWebhookNotFound);
  return {};
}

ApiResult<std::vector<storage::AttemptRow>> WebhookService::Deliveries(
    const Identity& who, const std::string& id, int limit) {
  SMS_RETURN_IF_ERROR(RequireAdmin(who));
  auto w = store_.GetWebhook(who.domain_id, id);
  if (!w) return StoreFail(w.error(), kWebhookNotFound);
  auto rows = store_.ListAttempts(who.domain_id, id, limit);
  if (!rows) return StoreFail(rows.error(), kWebhookNotFound);
  return std::move(*rows);
}

std::string WebhookSecretContext(const std::string& webhook_id) {
  return "webhook " + webhook_id;
}

std::string DeliveryBody(const storage::Delivery& d) {
  return ToJson(json::object{{"type", d.type},
                             {"id", d.event_id},
                             {"time", d.occurred_at},
                             {"task_id", d.task_id},
                             {"run_id", d.run_id},
                             {"check_result", d.check_result}});
}

WebhookDispatcher::WebhookDispatcher(
    storage::Store& store, core::Clock& clock, net::HttpPoster& poster,
    DispatcherOptions options, std::function<void(const std::string&)> log)
    : store_(store),
      clock_(clock),
      poster_(poster),
      options_(std::move(options)),
      log_(std::move(log)),
      rng_(std::random_device{}()),
      worker_(std::chrono::milliseconds(options_.poll_ms)) {}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

int WebhookDispatcher::RunOnce() {
  const int64_t now = clock_.NowEpochMillis();
  auto claimed = store_.ClaimDeliveries(
      options_.owner, now, now + options_.lease_ms, options_.batch);
  if (!claimed) {
    log_(ToJson(json::object{{"level", "warn"},
                             {"msg", "webhook outbox unavailable"},
                             {"error", claimed.error().ToString()}}));
    return 0;
  }
  for (const storage::Delivery& d : *claimed) Attempt(d);
  return static_cast<int>(claimed->size());
}

core::Result<std::string> WebhookDispatcher::OpenSecret(
    const storage::Delivery& d) const {
  if (!auth::SecretBox::IsSealed(d.secret)) return d.secret;
  const std::string fix =
      " (--secret-key-file must name the key it was sealed with)";
  if (options_.secrets == nullptr)
    return core::Fail(core::FailedPrecondition(
        "the webhook's secret is sealed and no secret key file is given" +
        fix));
  auto opened =
      options_.secrets->Open(WebhookSecretContext(d.webhook_id), d.secret);
  if (!opened)
    return core::Fail(core::FailedPrecondition(
        "the webhook's secret is sealed and " + opened.error().message + fix));
  return opened;
}

void WebhookDispatcher::Attempt(const storage::Delivery& d) {
  const std::string body = DeliveryBody(d);
  const int64_t start = clock_.NowEpochMillis();
  // A secret that cannot be opened is the server's misconfiguration: the
  // delivery is not sent unsigned; it is retried like a failed post.
  auto secret = OpenSecret(d);
  core::Result<net::PostResult> posted =
      secret ? core::Result<net::PostResult>() : core::Fail(secret.error());
  if (secret) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"X-Sms-Signature", webhook::Sign(*secret, start / 1000, body)},
        {"Idempotency-Key", d.event_id},
        {"X-Sms-Event", d.type},
        {"X-Sms-Delivery", std::to_string(d.id)}};
    posted = poster_.Post(d.url, headers, body);
  }
  const int64_t end = clock_.NowEpochMillis();
  storage::DeliveryAttempt a;
  a.delivery_id = d.id;
  a.lease_owner = options_.owner;
  a.at = start;
  a.latency_ms = end - start;
  if (posted) {
    a.status = posted->status;
    if (a.status < 200 || a.status > 299)
      a.error = "HTTP " + std::to_string(a.status);
  } else {
    a.error = posted.error().message;
  }
  if (a.error.empty()) {
    a.next_state = "delivered";
  } else if (end - d.occurred_at > webhook::kGiveUpMs) {
    a.next_state = "failed";
  } else {
    double unit;
    {
      std::lock_guard lock(mu_);
      unit = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    }
    a.next_state = "pending";
    a.next_attempt_at = end + webhook::RetryDelayMs(d.attempts + 1, unit) /
                                  std::max<int64_t>(1, options_.delay_divisor);
  }
  if (!a.error.empty()) {
    log_(ToJson(json::object{{"level", "warn"},
                             {"msg", "webhook delivery failed"},
                             {"webhook_id", d.webhook_id},
                             {"event_id", d.event_id},
                             {"attempt", d.attempts + 1},
                             {"error", a.error},
                             {"next", a.next_state}}));
  }
  if (auto s = store_.RecordAttempt(a); !s) {
    log_(ToJson(json::object{{"level", "warn"},
                             {"msg", "webhook attempt not recorded"},
                             {"event_id", d.event_id},
                             {"error", s.error().ToString()}}));
  }
}

void WebhookDispatcher::Start() {
  worker_.Start([this] { return RunOnce() > 0; });  // more may be due
}

void WebhookDispatcher::Stop() { worker_.Stop(); }

}  // namespace sms::server
