// Tenant settings codec: the JSON of /v3/consistency-settings (issue 13.5;
// docs/server.md "Retention").
#pragma once

#include "server/api_error.h"
#include "server/json_fields.h"
#include "server/tenant_settings_service.h"

namespace sms::server {

// PUT /v3/consistency-settings {"retention": "runs=10,days=30"}; the value
// (at most 256 bytes) is checked by the service.
[[nodiscard]] ApiResult<TenantSettings> DecodeTenantSettings(
    const json::object& body);
// -> {"retention"}
json::value EncodeTenantSettings(const TenantSettings& s);

}  // namespace sms::server
