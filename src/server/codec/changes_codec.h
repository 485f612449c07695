// Changes codec: GET /v3/tasks/{id}/consistency-result/changes (issue 13.2;
// docs/server.md "What changed since the last run") decoded into a typed
// request and its page encoded. Decoding checks each parameter and names it
// in errors ("change: must be one of new, resolved, persisting"); the
// service never sees JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api_error.h"
#include "server/codec/query.h"
#include "server/json_fields.h"
#include "storage/store.h"

namespace sms::server {

struct ChangesRequest {
  // The two runs (lower-case UUIDs); absent: chosen by the service.
  std::optional<std::string> from_run_id;
  std::optional<std::string> to_run_id;
  // dir_check, change, limit (1..1000, default 100) and the marker's
  // position; the service fills in the two runs.
  storage::ChangeQuery query;
};
[[nodiscard]] ApiResult<ChangesRequest> DecodeChangesQuery(
    const QueryParams& q);

// One page of changes between two runs of a task.
struct ChangesPage {
  std::string task_id;
  storage::Run from;
  storage::Run to;
  std::optional<std::string> dir_check;  // the directories shown: one or all
  std::vector<storage::ChangeRow> rows;
  bool more = false;  // a next page exists; its marker is the last row's
};
// -> {"task_id", "from_run_id", "to_run_id", "from_time", "to_time",
//     "files": [...], "directories": [...], "next_marker"?}
json::value EncodeChangesPage(const ChangesPage& page);

// The opaque marker of a change row: its (dir_check, path, path_b64).
std::string EncodeChangeMarker(const storage::FileDetail& f);
// `q` positioned after the row `marker` names.
[[nodiscard]] ApiResult<storage::ChangeQuery> DecodeChangeMarker(
    std::string_view marker, storage::ChangeQuery q);

}  // namespace sms::server
