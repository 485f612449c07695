// Webhook codec: the JSON of /v3/webhooks (issue 13.4; docs/server.md
// "Webhooks"): a new webhook decoded into a typed request, webhooks and
// their delivery log encoded. A webhook's secret is encoded only in the
// answer that created it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/codec/query.h"
#include "server/json_fields.h"
#include "storage/store.h"

namespace sms::server {

// POST /v3/webhooks {"url", "events": [...], "secret"?}
struct CreateWebhookRequest {
  std::string url;                    // 1..2048 bytes; the service checks it
  std::vector<std::string> events;    // 1..16 known event names
  std::optional<std::string> secret;  // 16..256 bytes; absent: generated
};
[[nodiscard]] ApiResult<CreateWebhookRequest> DecodeCreateWebhook(
    const json::object& body);

// GET /v3/webhooks/{id}/deliveries?limit=N (1..500, default 50).
[[nodiscard]] ApiResult<int> DecodeDeliveriesQuery(const QueryParams& q);

// A webhook made by POST: the stored webhook and its secret in the clear.
struct CreatedWebhook {
  storage::Webhook webhook;  // its secret as stored (sealed, secret_box.h)
  std::string secret;
};

// -> {"id", "url", "events", "created_at"}: never the secret.
json::value EncodeWebhook(const storage::Webhook& w);
// EncodeWebhook plus "secret".
json::value EncodeCreatedWebhook(const CreatedWebhook& c);
// -> {"count", "webhooks"}
json::value EncodeWebhookList(const std::vector<storage::Webhook>& hooks);
// -> {"webhook_id", "count", "deliveries": [{"delivery_id", "event_id",
//     "type", "run_id", "state", "attempt", "time", "status", "latency_ms",
//     "error"?}]}
json::value EncodeDeliveries(const std::string& webhook_id,
                             const std::vector<storage::AttemptRow>& rows);

}  // namespace sms::server
