// WebhookService: a tenant's webhooks (issue 13.4), POST/GET/DELETE
// /v3/webhooks and GET /v3/webhooks/{id}/deliveries, admin role only.
// WebhookDispatcher: the background delivery of the outbox the store fills
// when a run is committed (Store::ClaimDeliveries), signed, retried with
// back-off and jitter for more than 24 hours, by one replica at a time per
// delivery. docs/server.md "Webhooks" is the user's description.
// Thread-safety: both are safe for concurrent use.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "core/clock.h"
#include "net/http_post.h"
#include "server/api_error.h"
#include "server/identity.h"
#include "server/json_fields.h"
#include "server/task_service.h"
#include "storage/store.h"
#include "webhook/webhook.h"

namespace sms::server {

class WebhookService final {
 public:
  // `allow`: the server's webhook_allow list (empty: any target).
  WebhookService(storage::Store& store, core::Clock& clock,
                 webhook::AllowList allow)
      : store_(store), clock_(clock), allow_(std::move(allow)) {}
  WebhookService(const WebhookService&) = delete;
  WebhookService& operator=(const WebhookService&) = delete;

  // POST /v3/webhooks {"url", "events": [...], "secret"?}: 201 with the
  // webhook and its secret (generated when not given; shown only here).
  [[nodiscard]] ApiResult<json::value> Create(const Identity& who,
                                              const json::object& body);
  [[nodiscard]] ApiResult<json::value> List(const Identity& who);
  [[nodiscard]] ApiResult<json::value> Show(const Identity& who,
                                            const std::string& id);
  [[nodiscard]] ApiResult<json::value> Delete(const Identity& who,
                                              const std::string& id);
  // GET /v3/webhooks/{id}/deliveries?limit=: the last attempts.
  [[nodiscard]] ApiResult<json::value> Deliveries(const Identity& who,
                                                  const std::string& id,
                                                  const QueryParams& q);

 private:
  storage::Store& store_;
  core::Clock& clock_;
  const webhook::AllowList allow_;
};

// The JSON body of a delivery: the same bytes on every attempt.
std::string DeliveryBody(const storage::Delivery& d);

struct DispatcherOptions {
  std::string owner;         // this replica's lease name (unique)
  int64_t lease_ms = 60000;  // > one request's timeout
  int64_t poll_ms = 1000;    // how often the outbox is read when idle
  int batch = 16;            // deliveries claimed at once
  // Retry delays are divided by this (tests only: SMS_TEST_WEBHOOK_FAST).
  int64_t delay_divisor = 1;
};

class WebhookDispatcher final {
 public:
  // Log receives one JSON line per failed attempt.
  WebhookDispatcher(storage::Store& store, core::Clock& clock,
                    net::HttpPoster& poster, DispatcherOptions options,
                    std::function<void(const std::string&)> log);
  ~WebhookDispatcher();
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  // Claims due deliveries and attempts each once; returns how many were
  // attempted.
  int RunOnce();
  // Starts / stops the background loop (RunOnce every poll_ms; at once
  // again while there is work).
  void Start();
  void Stop();

 private:
  void Attempt(const storage::Delivery& d);

  storage::Store& store_;
  core::Clock& clock_;
  net::HttpPoster& poster_;
  const DispatcherOptions options_;
  const std::function<void(const std::string&)> log_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  bool stop_ = false;
  std::mt19937_64 rng_;
  std::jthread thread_;
};

}  // namespace sms::server
