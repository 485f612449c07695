// WebhookService: a tenant's webhooks (issue 13.4), POST/GET/DELETE
// /v3/webhooks and GET /v3/webhooks/{id}/deliveries, admin role only, with
// typed requests and answers (server/codec/webhook_codec.h writes the
// JSON).
// WebhookDispatcher: the background delivery of the outbox the store fills
// when a run is committed (Store::ClaimDeliveries), signed, retried with
// back-off and jitter for more than 24 hours, by one replica at a time per
// delivery. Secrets are kept sealed at rest when the server has a secret
// key (auth/secret_box.h, as SKs are; context "webhook " + id); one stored
// in the clear by an older version keeps working. docs/server.md
// "Webhooks" is the user's description.
// Thread-safety: both are safe for concurrent use.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "auth/secret_box.h"
#include "core/clock.h"
#include "net/http_post.h"
#include "server/api_error.h"
#include "server/codec/webhook_codec.h"
#include "server/identity.h"
#include "server/json_fields.h"
#include "server/periodic_worker.h"
#include "storage/store.h"
#include "webhook/webhook.h"

namespace sms::server {

class WebhookService final {
 public:
  // `allow`: the server's webhook_allow list (empty: any target).
  // `secrets`: seals new secrets (null: stored in the clear); not owned,
  // outlives this object.
  WebhookService(storage::Store& store, core::Clock& clock,
                 webhook::AllowList allow,
                 const auth::SecretBox* secrets = nullptr)
      : store_(store),
        clock_(clock),
        allow_(std::move(allow)),
        secrets_(secrets) {}
  WebhookService(const WebhookService&) = delete;
  WebhookService& operator=(const WebhookService&) = delete;

  // Stores a new webhook: an http(s) URL (an address literal must be in
  // the allow-list), its events, its secret (generated when not given).
  // Returns it with the secret, which no other call returns.
  [[nodiscard]] ApiResult<CreatedWebhook> Create(
      const Identity& who, const CreateWebhookRequest& req);
  // The domain's webhooks, oldest first.
  [[nodiscard]] ApiResult<std::vector<storage::Webhook>> List(
      const Identity& who);
  [[nodiscard]] ApiResult<storage::Webhook> Show(const Identity& who,
                                                 const std::string& id);
  // Deletes the webhook with its pending deliveries and their log.
  [[nodiscard]] ApiStatus Delete(const Identity& who, const std::string& id);
  // The webhook's last `limit` delivery attempts, newest first.
  [[nodiscard]] ApiResult<std::vector<storage::AttemptRow>> Deliveries(
      const Identity& who, const std::string& id, int limit);

 private:
  storage::Store& store_;
  core::Clock& clock_;
  const webhook::AllowList allow_;
  const auth::SecretBox* const secrets_;
};

// The authenticated context a webhook's secret is sealed under: a sealed
// secret copied onto another webhook's row does not open.
std::string WebhookSecretContext(const std::string& webhook_id);

// The JSON body of a delivery: the same bytes on every attempt.
std::string DeliveryBody(const storage::Delivery& d);

struct DispatcherOptions {
  std::string owner;         // this replica's lease name (unique)
  int64_t lease_ms = 60000;  // > one request's timeout
  int64_t poll_ms = 1000;    // how often the outbox is read when idle
  int batch = 16;            // deliveries claimed at once
  // Retry delays are divided by this (tests only: SMS_TEST_WEBHOOK_FAST).
  int64_t delay_divisor = 1;
  // Opens sealed secrets (null: none can be opened; a secret in the clear
  // is used as it is). Not owned.
  const auth::SecretBox* secrets = nullptr;
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
  // The delivery's secret in the clear, or why it cannot be had.
  core::Result<std::string> OpenSecret(const storage::Delivery& d) const;

  storage::Store& store_;
  core::Clock& clock_;
  net::HttpPoster& poster_;
  const DispatcherOptions options_;
  const std::function<void(const std::string&)> log_;
  std::mutex mu_;
  std::mt19937_64 rng_;    // guarded by mu_
  PeriodicWorker worker_;  // polls every poll_ms
};

}  // namespace sms::server
