// ResultService: consistency results (spec/API.md §3.1, §3.2) and file-level
// details (§3.4). Uploads are idempotent by run_id: the same content again
// is a no-op, other content a 409. Details are staged per (run_id, seq) and
// become visible atomically when the run is committed.
// Thread-safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <string>

#include "core/clock.h"
#include "server/api_error.h"
#include "server/identity.h"
#include "server/json_fields.h"
#include "server/task_service.h"
#include "storage/store.h"

namespace sms::server {

struct UploadOutcome {
  bool committed = false;  // false: an identical retry, nothing stored
  std::string run_id;
};

class ResultService final {
 public:
  ResultService(storage::Store& store, core::Clock& clock, TaskService& tasks);
  ResultService(const ResultService&) = delete;
  ResultService& operator=(const ResultService&) = delete;

  // POST /v3/tasks/{id}/consistency-result
  [[nodiscard]] ApiResult<UploadOutcome> Upload(const Identity& who,
                                                const std::string& task_id,
                                                const json::object& body);
  // GET /v3/tasks/{id}/consistency-result
  [[nodiscard]] ApiResult<json::value> Get(const Identity& who,
                                           const std::string& task_id,
                                           const QueryParams& q);
  // POST /v3/tasks/{id}/consistency-result/details
  [[nodiscard]] ApiResult<json::value> UploadDetails(const Identity& who,
                                                     const std::string& task_id,
                                                     const json::object& body);
  // GET /v3/tasks/{id}/consistency-result/details
  [[nodiscard]] ApiResult<json::value> ListDetails(const Identity& who,
                                                   const std::string& task_id,
                                                   const QueryParams& q);

  // Runs committed since start (for /metrics).
  int64_t runs_committed() const { return runs_committed_.load(); }

 private:
  storage::Store& store_;
  core::Clock& clock_;
  TaskService& tasks_;
  std::atomic<int64_t> runs_committed_{0};
};

// The JSON of one run in result_list.
json::value RunToJson(const storage::Run& run);

// Opaque, stable detail markers.
std::string EncodeMarker(int64_t seq, int64_t idx);
[[nodiscard]] ApiResult<std::pair<int64_t, int64_t>> DecodeMarker(
    std::string_view marker);

}  // namespace sms::server
