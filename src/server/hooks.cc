#include "server/hooks.h"

#include <unistd.h>

#include <string>
#include <utility>

#include "auth/crypto.h"

namespace sms::server {

HooksSettings HooksSettings::FromConfig(const ServerConfig& config,
                                        const auth::SecretBox* secrets) {
  return HooksSettings{.webhook_allow = config.webhook_allow,
                       .retention_default = config.consistency_retention,
                       .test_fast = config.test_webhook_fast,
                       .secrets = secrets};
}

core::Result<std::unique_ptr<Hooks>> Hooks::Start(
    storage::Store& store, core::Clock& clock, TaskService& tasks,
    const HooksSettings& settings,
    std::function<void(const std::string&)> log) {
  SMS_ASSIGN_OR_RETURN(webhook::AllowList allow,
                       webhook::AllowList::Parse(settings.webhook_allow));
  SMS_ASSIGN_OR_RETURN(storage::RetentionPolicy policy,
                       ParseRetention(settings.retention_default));
  std::unique_ptr<Hooks> h(new Hooks());
  h->changes_ = std::make_unique<ChangesService>(store, tasks);
  h->webhooks_ =
      std::make_unique<WebhookService>(store, clock, allow, settings.secrets);
  h->poster_ = net::NewHttpPoster({.allow = allow});
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  DispatcherOptions d;
  d.secrets = settings.secrets;
  // Unique per process: a restarted server does not inherit its leases.
  d.owner = std::string(host) + ":" + std::to_string(getpid()) + ":" +
            auth::NewUuid().substr(0, 8);
  if (settings.test_fast) {
    d.lease_ms = 3000;
    d.poll_ms = 100;
    d.delay_divisor = 1000;
  }
  h->dispatcher_ =
      std::make_unique<WebhookDispatcher>(store, clock, *h->poster_, d, log);
  RetentionOptions r;
  r.default_policy = policy;
  if (settings.test_fast) r.interval_ms = 1000;
  h->retention_ =
      std::make_unique<RetentionWorker>(store, clock, r, std::move(log));
  h->dispatcher_->Start();
  h->retention_->Start();
  return h;
}

Hooks::~Hooks() {
  if (dispatcher_) dispatcher_->Stop();
  if (retention_) retention_->Stop();
}

}  // namespace sms::server
