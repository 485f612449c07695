// ChangesService: what changed between two runs of a task (issue 13.2),
// GET /v3/tasks/{id}/consistency-result/changes. The store computes the
// page (Store::ListChanges); this class picks the two runs and checks that
// their details are still kept. The request and the page are typed
// (server/codec/changes_codec.h writes the JSON). docs/server.md "What
// changed since the last run" is the user's description.
// Thread-safety: safe for concurrent use.
#pragma once

#include <string>

#include "server/api_error.h"
#include "server/codec/changes_codec.h"
#include "server/identity.h"
#include "server/task_service.h"
#include "storage/store.h"

namespace sms::server {

class ChangesService final {
 public:
  ChangesService(storage::Store& store, TaskService& tasks)
      : store_(store), tasks_(tasks) {}
  ChangesService(const ChangesService&) = delete;
  ChangesService& operator=(const ChangesService&) = delete;

  // One page of the changes from run `req.from_run_id` to `req.to_run_id`
  // of the task. Without `to`: the task's newest successful run. Without
  // `from`: for a re-check (scope inconsistent), the newest successful run
  // before it (the one it re-checked); for a full check, the previous
  // successful full check of the same directories. kNotFound when a run is
  // missing or of another task, or there is no such run; kBadState when
  // retention deleted either run's details.
  [[nodiscard]] ApiResult<ChangesPage> List(const Identity& who,
                                            const std::string& task_id,
                                            ChangesRequest req);

 private:
  storage::Store& store_;
  TaskService& tasks_;
};

}  // namespace sms::server
