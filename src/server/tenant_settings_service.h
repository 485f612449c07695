// TenantSettingsService: a tenant's own defaults for its tasks (issue
// 13.5), GET and PUT /v3/consistency-settings. Today one: "retention", the
// CONSISTENCY_RETENTION of the tenant's tasks that set none (a task's own
// setting wins; without either, the server's default). Any reader of the
// tenant may read them; only its admin may change them. docs/server.md
// "Retention" is the user's description.
// Thread-safety: safe for concurrent use (the store is).
#pragma once

#include <string>

#include "server/api_error.h"
#include "server/identity.h"
#include "storage/store.h"

namespace sms::server {

struct TenantSettings {
  std::string retention;  // the CONSISTENCY_RETENTION syntax; empty: not set
};

class TenantSettingsService final {
 public:
  explicit TenantSettingsService(storage::Store& store) : store_(store) {}
  TenantSettingsService(const TenantSettingsService&) = delete;
  TenantSettingsService& operator=(const TenantSettingsService&) = delete;

  // The tenant's settings; any role that reads tasks.
  [[nodiscard]] ApiResult<TenantSettings> Get(const Identity& who);
  // Replaces them (an empty retention removes it), after checking each with
  // the parser of the task setting (400 naming the field); admin role only.
  // Returns them as stored.
  [[nodiscard]] ApiResult<TenantSettings> Put(const Identity& who,
                                              const TenantSettings& s);

 private:
  storage::Store& store_;
};

}  // namespace sms::server
