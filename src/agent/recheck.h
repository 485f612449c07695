// Re-checking only what a previous run found not equal (the SMS console's
// "Verify Inconsistencies"; the service's command param `scope:
// "inconsistent"`): the paths come from the server's details API.
// Thread-safety: as ServerClient (one thread at a time).
#pragma once

#include <string>
#include <vector>

#include "agent/path_list.h"
#include "agent/server_client.h"

namespace sms::agent {

struct InconsistentPaths {
  std::string base_run_id;  // the run whose differences they are
  PathSets paths;           // sorted into the sections of `dirs`
  size_t files = 0;         // FileDiffs read
};

// Reads every FileDiff of run `base_run_id` of task `task_id` (paged: GET
// /v3/tasks/{id}/consistency-result/details?run_id=&limit=1000&marker=).
// With no `base_run_id`, the task's newest run with check_result "success"
// is used (GET /v3/tasks/{id}/consistency-result). `dirs` are the check's
// normalised directories; paths outside them are dropped.
[[nodiscard]] core::Result<InconsistentPaths> FetchInconsistentPaths(
    ServerClient& client, const std::string& task_id, std::string base_run_id,
    const std::vector<std::string>& dirs);

// Percent-encodes a query value (keeps A-Z a-z 0-9 - _ . ~).
std::string QueryEscape(std::string_view value);

}  // namespace sms::agent
