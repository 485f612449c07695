#include "server/tenant_settings_service.h"

#include "core/strings.h"
#include "server/retention.h"

namespace sms::server {

ApiResult<TenantSettings> TenantSettingsService::Get(const Identity& who) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kTaskRead));
  auto value = store_.GetDomainSetting(who.domain_id, kRetentionSetting);
  if (!value) return StoreFail(value.error(), "");
  return TenantSettings{value->value_or("")};
}

ApiResult<TenantSettings> TenantSettingsService::Put(const Identity& who,
                                                     const TenantSettings& s) {
  if (who.role != Role::kAdmin)
    return ApiFail(ApiCode::kForbidden,
                   "consistency settings need the admin role"
                   " (sms:settings:manage)");
  const std::string retention(core::TrimSpace(s.retention));
  if (auto p = ParseRetention(retention); !p)
    return Malformed("retention", p.error().message);
  if (auto st =
          store_.PutDomainSetting(who.domain_id, kRetentionSetting, retention);
      !st)
    return StoreFail(st.error(), "");
  return TenantSettings{retention};
}

}  // namespace sms::server
