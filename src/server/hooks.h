// Hooks: what issue 13 runs beside the API in `sms-server serve`: the
// changes and webhook services the routes call, the webhook dispatcher
// (delivers the outbox) and the retention worker (deletes old details).
// One object, so the composition root (main.cc) wires them in a few lines.
//
// Settings: ServerConfig's webhook_allow, consistency_retention and
// test_webhook_fast (server/config.h: config file, environment, checked
// there with errors naming the key or variable).
// Thread-safety: the services are safe for concurrent use.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "auth/secret_box.h"
#include "core/clock.h"
#include "core/result.h"
#include "net/http_post.h"
#include "server/changes_service.h"
#include "server/config.h"
#include "server/retention.h"
#include "server/task_service.h"
#include "server/webhook_service.h"
#include "storage/store.h"

namespace sms::server {

struct HooksSettings {
  std::vector<std::string> webhook_allow;
  std::string retention_default;
  bool test_fast = false;
  // Seals new webhook secrets and opens sealed ones (null: kept in the
  // clear); not owned, outlives the Hooks.
  const auth::SecretBox* secrets = nullptr;
  // The settings of `config`, with the server's secret key.
  static HooksSettings FromConfig(const ServerConfig& config,
                                  const auth::SecretBox* secrets);
};

class Hooks final {
 public:
  // Builds the services and starts the two workers; they stop when the
  // object is destroyed.
  [[nodiscard]] static core::Result<std::unique_ptr<Hooks>> Start(
      storage::Store& store, core::Clock& clock, TaskService& tasks,
      const HooksSettings& settings,
      std::function<void(const std::string&)> log);
  ~Hooks();
  Hooks(const Hooks&) = delete;
  Hooks& operator=(const Hooks&) = delete;

  ChangesService* changes() { return changes_.get(); }
  WebhookService* webhooks() { return webhooks_.get(); }

 private:
  Hooks() = default;
  std::unique_ptr<ChangesService> changes_;
  std::unique_ptr<WebhookService> webhooks_;
  std::unique_ptr<net::HttpPoster> poster_;
  std::unique_ptr<WebhookDispatcher> dispatcher_;
  std::unique_ptr<RetentionWorker> retention_;
};

}  // namespace sms::server
