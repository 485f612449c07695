#include "server/codec/tenant_settings_codec.h"

namespace sms::server {

ApiResult<TenantSettings> DecodeTenantSettings(const json::object& body) {
  TenantSettings s;
  SMS_ASSIGN_OR_RETURN(s.retention,
                       ReqString(body, "retention", "retention", 0, 256));
  return s;
}

json::value EncodeTenantSettings(const TenantSettings& s) {
  return json::object{{"retention", s.retention}};
}

}  // namespace sms::server
