// ChangesService: what changed between two runs of a task (issue 13.2),
// GET /v3/tasks/{id}/consistency-result/changes. The store computes the
// page (Store::ListChanges); this class picks the two runs, checks the
// query and writes the JSON. docs/server.md "What changed since the last
// run" is the user's description.
// Thread-safety: safe for concurrent use.
#pragma once

#include <string>

#include "server/api_error.h"
#include "server/identity.h"
#include "server/json_fields.h"
#include "server/task_service.h"
#include "storage/store.h"

namespace sms::server {

class ChangesService final {
 public:
  ChangesService(storage::Store& store, TaskService& tasks)
      : store_(store), tasks_(tasks) {}
  ChangesService(const ChangesService&) = delete;
  ChangesService& operator=(const ChangesService&) = delete;

  // Query: from, to (run ids; default: the task's last two successful
  // runs of the same directories), change (new | resolved | persisting),
  // dir_check, limit (1..1000, default 100), marker.
  [[nodiscard]] ApiResult<json::value> List(const Identity& who,
                                            const std::string& task_id,
                                            const QueryParams& q);

 private:
  storage::Store& store_;
  TaskService& tasks_;
};

// The opaque marker of a change row: its (dir_check, path, path_b64).
std::string EncodeChangeMarker(const storage::FileDetail& f);
[[nodiscard]] ApiResult<storage::ChangeQuery> DecodeChangeMarker(
    std::string_view marker, storage::ChangeQuery q);

}  // namespace sms::server
