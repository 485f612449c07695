#include "server/codec/webhook_codec.h"

#include <set>
#include <utility>

#include "webhook/webhook.h"

namespace sms::server {

ApiResult<CreateWebhookRequest> DecodeCreateWebhook(const json::object& body) {
  CreateWebhookRequest r;
  SMS_ASSIGN_OR_RETURN(r.url, ReqString(body, "url", "url", 1, 2048));
  SMS_ASSIGN_OR_RETURN(const json::array* events,
                       ReqArray(body, "events", "events", 1, 16));
  std::set<std::string> chosen;  // sorted, each once
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
  r.events.assign(chosen.begin(), chosen.end());
  SMS_ASSIGN_OR_RETURN(r.secret, OptString(body, "secret", "secret", 16, 256));
  return r;
}

ApiResult<int> DecodeDeliveriesQuery(const QueryParams& q) {
  SMS_ASSIGN_OR_RETURN(int64_t limit, QueryInt(q, "limit", 50, 1, 500));
  return static_cast<int>(limit);
}

json::value EncodeWebhook(const storage::Webhook& w) {
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

json::value EncodeCreatedWebhook(const CreatedWebhook& c) {
  json::value v = EncodeWebhook(c.webhook);
  v.as_object()["secret"] = c.secret;
  return v;
}

json::value EncodeWebhookList(const std::vector<storage::Webhook>& hooks) {
  json::array out;
  for (const auto& w : hooks) out.push_back(EncodeWebhook(w));
  return json::object{{"count", static_cast<int64_t>(out.size())},
                      {"webhooks", std::move(out)}};
}

json::value EncodeDeliveries(const std::string& webhook_id,
                             const std::vector<storage::AttemptRow>& rows) {
  json::array out;
  for (const auto& a : rows) {
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
  return json::object{{"webhook_id", webhook_id},
                      {"count", static_cast<int64_t>(out.size())},
                      {"deliveries", std::move(out)}};
}

}  // namespace sms::server
