#include "server/webhook_service.h"

#include <arpa/inet.h>

#include <chrono>
#include <set>
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

json::object WebhookJson(const storage::Webhook& w) {
  json::array events;
  size_t start = 0;
  while (start <= w.events.size()) {
    size_t end = w.events.find(',', start);
    if (end == std::string::npos) end = w.events.size();
    if (end > start)
      events.push_back(json::string(w.events.substr(start, end - start)));
    start = end + 1;
  }
  return json::object{{"id", w.id},
                      {"url", w.url},
                      {"events", std::move(events)},
                      {"created_at", w.created_at}};
}

}  // namespace

ApiResult<json::value> WebhookService::Create(const Identity& who,
                                              const json::object& body) {
  SMS_RETURN_IF_ERROR(RequireAdmin(who));
  SMS_ASSIGN_OR_RETURN(std::string url, ReqString(body, "url", "url", 1, 2048));
  auto target = webhook::ParseTarget(url);
  if (!target) return Malformed("url", target.error().message);
  if (IsAddressLiteral(target->host) && !allow_.AllowsAddress(target->host))
    return Malformed("url", "the address " + target->host +
                                " is outside the server's webhook_allow list");
  // A host name outside the list by name may still resolve into an allowed
  // network: every delivery checks the addresses it resolves to
  // (net/http_post.h) and is refused there if they are not.
  SMS_ASSIGN_OR_RETURN(const json::array* events,
                       ReqArray(body, "events", "events", 1, 16));
  std::set<std::string> chosen;
  for (size_t i = 0; i < events->size(); ++i) {
    const std::string path = "events[" + std::to_string(i) + "]";
    if (!(*events)[i].is_string()) return Malformed(path, "expected a string");
    std::string e((*events)[i].as_string());
    if (!webhook::IsEvent(e))
      return Malformed(path,
                       "must be one of run.finished, run.inconsistent, "
                       "run.failed, task.ready, task.not_ready");
    chosen.insert(std::move(e));
  }
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> secret,
                       OptString(body, "secret", "secret", 16, 256));
  storage::Webhook w;
  w.id = auth::NewUuid();
  w.domain_id = who.domain_id;
  w.url = url;
  for (const std::string& e : chosen)
    w.events += (w.events.empty() ? "" : ",") + e;
  w.secret = secret ? *secret
                    : "whsec_" + auth::Base64UrlEncode(auth::RandomBytes(24));
  w.created_at = clock_.NowEpochMillis();
  if (auto s = store_.CreateWebhook(w); !s) return StoreFail(s.error(), "");
  json::object out = WebhookJson(w);
  out["secret"] = w.secret;
  return json::value(std::move(out));
}

ApiResult<json::value> WebhookService::List(const Identity& who) {
  SMS_RETURN_IF_ERROR(RequireAdmin(who));
  auto hooks = store_.ListWebhooks(who.domain_id);
  if (!hooks) return StoreFail(hooks.error(), "");
  json::array out;
  for (const auto& w : *hooks) out.push_back(WebhookJson(w));
  return json::value(json::object{{"count", static_cast<int64_t>(out.size())},
                                  {"webhooks", std::move(out)}});
}

ApiResult<json::value> WebhookService::Show(const Identity& who,
                                            const std::string& id) {
  SMS_RETURN_IF_ERROR(RequireAdmin(who));
  auto w = store_.GetWebhook(who.domain_id, id);
  if (!w) return StoreFail(w.error(), kWebhookNotFound);
  return json::value(WebhookJson(*w));
}

ApiResult<json::value> WebhookService::Delete(const Identity& who,
                                              const std::string& id) {
  SMS_RETURN_IF_ERROR(RequireAdmin(who));
  if (auto s = store_.DeleteWebhook(who.domain_id, id); !s)
    return StoreFail(s.error(), kWebhookNotFound);
  return json::value(json::object{{"id", id}});
}

ApiResult<json::value> WebhookService::Deliveries(const Identity& who,
                                                  const std::string& id,
                                                  const QueryParams& q) {
  SMS_RETURN_IF_ERROR(RequireAdmin(who));
  int limit = 50;
  if (auto it = q.find("limit"); it != q.end()) {
    SMS_ASSIGN_OR_RETURN(int64_t n, ParseQueryInt(it->second, "limit", 1, 500));
    limit = static_cast<int>(n);
  }
  auto w = store_.GetWebhook(who.domain_id, id);
  if (!w) return StoreFail(w.error(), kWebhookNotFound);
  auto rows = store_.ListAttempts(who.domain_id, id, limit);
  if (!rows) return StoreFail(rows.error(), kWebhookNotFound);
  json::array out;
  for (const auto& a : *rows) {
    json::object o{{"delivery_id", a.delivery_id},
                   {"event_id", a.event_id},
                   {"type", a.type},
                   {"run_id", a.run_id},
                   {"state", a.state},
                   {"attempt", a.attempt},
                   {"time", a.at},
                   {"status", a.status},
                   {"latency_ms", a.latency_ms}};
    if (!a.error.empty()) o["error"] = a.error;
    out.push_back(std::move(o));
  }
  return json::value(json::object{{"webhook_id", id},
                                  {"count", static_cast<int64_t>(out.size())},
                                  {"deliveries", std::move(out)}});
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
      rng_(std::random_device{}()) {}

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

void WebhookDispatcher::Attempt(const storage::Delivery& d) {
  const std::string body = DeliveryBody(d);
  const int64_t start = clock_.NowEpochMillis();
  std::vector<std::pair<std::string, std::string>> headers = {
      {"X-Sms-Signature", webhook::Sign(d.secret, start / 1000, body)},
      {"Idempotency-Key", d.event_id},
      {"X-Sms-Event", d.type},
      {"X-Sms-Delivery", std::to_string(d.id)}};
  auto posted = poster_.Post(d.url, headers, body);
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
  thread_ = std::jthread([this](std::stop_token st) {
    while (!st.stop_requested()) {
      const int n = RunOnce();
      if (n > 0) continue;  // more may be due
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms),
                   [this] { return stop_; });
      if (stop_) break;
    }
  });
}

void WebhookDispatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

}  // namespace sms::server
