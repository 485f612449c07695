// SourceService: the source servers agents register (spec/API.md §4,
// POST/GET /v3/sources). Registration is idempotent by (name, hostname):
// the same agent registering again gets the same id. Pure logic over a
// Store; no HTTP, no JSON.
// Thread-safety: safe for concurrent use.
#pragma once

#include <string>

#include "core/clock.h"
#include "server/api_error.h"
#include "server/codec/source_codec.h"
#include "server/heartbeats.h"
#include "server/identity.h"
#include "storage/store.h"

namespace sms::server {

class SourceService final {
 public:
  // `heartbeats`: polls this process noted and has not written yet, shown
  // as the sources' last_seen_at (null: none).
  SourceService(storage::Store& store, core::Clock& clock,
                Heartbeats* heartbeats = nullptr);
  SourceService(const SourceService&) = delete;
  SourceService& operator=(const SourceService&) = delete;

  // POST /v3/sources: the source as stored (an existing one of the same
  // name and hostname keeps its id). 403 when an agent would take over a
  // source another agent registered.
  [[nodiscard]] ApiResult<storage::Source> RegisterSource(
      const Identity& who, const RegisterSourceRequest& req);
  // GET /v3/sources
  [[nodiscard]] ApiResult<storage::Page<storage::Source>> ListSources(
      const Identity& who, const storage::SourceFilter& filter);
  // GET /v3/sources/{id}
  [[nodiscard]] ApiResult<storage::Source> ShowSource(const Identity& who,
                                                      const std::string& id);

 private:
  // The source with this process's unwritten heartbeat, if later.
  void WithPendingBeat(storage::Source& s) const;

  storage::Store& store_;
  core::Clock& clock_;
  Heartbeats* heartbeats_;
};

}  // namespace sms::server
