#include "server/source_service.h"

#include "auth/crypto.h"

namespace sms::server {
namespace {

constexpr char kSourceNotFound[] = "The source server does not exist.";

}  // namespace

SourceService::SourceService(storage::Store& store, core::Clock& clock,
                             Heartbeats* heartbeats)
    : store_(store), clock_(clock), heartbeats_(heartbeats) {}

void SourceService::WithPendingBeat(storage::Source& s) const {
  if (heartbeats_ == nullptr) return;
  const int64_t at = heartbeats_->Latest(s.domain_id, s.id);
  if (at > s.last_seen_at) s.last_seen_at = at;
}

ApiResult<storage::Source> SourceService::RegisterSource(
    const Identity& who, const RegisterSourceRequest& req) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kSourceRegister));
  const int64_t now = clock_.NowEpochMillis();
  const storage::Source src{.id = auth::NewUuid(),
                            .domain_id = who.domain_id,
                            .owner_user_id = who.user_id,
                            .name = req.name,
                            .hostname = req.hostname,
                            .ip = req.ip,
                            .os_type = req.os_type,
                            .os_version = req.os_version,
                            .agent_version = req.agent_version,
                            .created_at = now,
                            .last_seen_at = now};
  SMS_ASSIGN_OR_RETURN(storage::Source saved,
                       FromStore(store_.UpsertSource(src), ""));
  if (who.role == storage::Role::kAgent && saved.owner_user_id != who.user_id) {
    return ApiFail(ApiCode::kForbidden,
                   "You do not have permission to perform action "
                   "sms:server:register on a source registered by another "
                   "agent.");
  }
  return saved;
}

ApiResult<storage::Page<storage::Source>> SourceService::ListSources(
    const Identity& who, const storage::SourceFilter& filter) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kSourceRead));
  SMS_ASSIGN_OR_RETURN(
      storage::Page<storage::Source> page,
      FromStore(store_.ListSources(who.domain_id, filter), ""));
  for (storage::Source& s : page.items) WithPendingBeat(s);
  return page;
}

ApiResult<storage::Source> SourceService::ShowSource(const Identity& who,
                                                     const std::string& id) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kSourceRead));
  SMS_ASSIGN_OR_RETURN(
      storage::Source s,
      FromStore(store_.GetSource(who.domain_id, id), kSourceNotFound));
  WithPendingBeat(s);
  return s;
}

}  // namespace sms::server
