#include "server/codec/query.h"

#include "server/json_fields.h"

namespace sms::server {
namespace {

constexpr int64_t kMaxInt32 = 2147483647;

}  // namespace

ApiResult<std::optional<std::string>> QueryString(const QueryParams& q,
                                                  const std::string& key,
                                                  size_t max_len) {
  auto it = q.find(key);
  if (it == q.end()) return std::optional<std::string>();
  if (it->second.size() > max_len)
    return Malformed(key, "longer than " + std::to_string(max_len) + " bytes");
  return std::optional<std::string>(it->second);
}

ApiResult<int64_t> QueryInt(const QueryParams& q, const std::string& key,
                            int64_t def, int64_t min, int64_t max) {
  auto it = q.find(key);
  if (it == q.end()) return def;
  return ParseQueryInt(it->second, key, min, max);
}

ApiResult<Paging> DecodePaging(const QueryParams& q) {
  SMS_ASSIGN_OR_RETURN(int64_t limit, QueryInt(q, "limit", 100, 0, 200));
  SMS_ASSIGN_OR_RETURN(int64_t offset, QueryInt(q, "offset", 0, 0, kMaxInt32));
  return Paging{.limit = static_cast<int>(limit),
                .offset = static_cast<int>(offset)};
}

}  // namespace sms::server
