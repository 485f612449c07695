// ResultService: consistency results (spec/API.md §3.1, §3.2) and file-level
// details (§3.4), typed (server/codec/result_codec.h decodes and encodes).
// Uploads are idempotent by run_id: the same content again is a no-op,
// other content a 409. Details are staged per (run_id, seq) and become
// visible atomically when the run is committed.
// Thread-safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "core/clock.h"
#include "server/api_error.h"
#include "server/codec/result_codec.h"
#include "server/identity.h"
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

  // POST /v3/tasks/{id}/consistency-result: commits the run (a new run id
  // when the upload names none) and returns the task to READY when it is
  // the task's current run. 409 for a run id already committed with other
  // content; an agent may upload only for its own source's tasks.
  [[nodiscard]] ApiResult<UploadOutcome> Upload(const Identity& who,
                                                const std::string& task_id,
                                                const ResultUpload& upload);
  // GET /v3/tasks/{id}/consistency-result: the newest `limit` runs, newest
  // first (404 for an unknown task, an empty list for an unchecked one).
  [[nodiscard]] ApiResult<std::vector<storage::Run>> Get(
      const Identity& who, const std::string& task_id, int limit);
  // GET .../consistency-result?run_id=: that run of the task, however old
  // (404 when the task has no such run).
  [[nodiscard]] ApiResult<storage::Run> GetOne(const Identity& who,
                                               const std::string& task_id,
                                               const std::string& run_id);
  // POST /v3/tasks/{id}/consistency-result/details: stages one chunk
  // (`chunk`'s run_id, seq, files and content_hash; the rest is filled in).
  // 409 for the same seq with other content, or once the run is committed.
  [[nodiscard]] ApiResult<StagedDetails> UploadDetails(
      const Identity& who, const std::string& task_id,
      storage::DetailChunk chunk);
  // GET /v3/tasks/{id}/consistency-result/details: one page of the named
  // (or latest) run's rows.
  [[nodiscard]] ApiResult<DetailListing> ListDetails(const Identity& who,
                                                     const std::string& task_id,
                                                     const DetailListQuery& q);

  // Runs committed since start (for /metrics).
  int64_t runs_committed() const { return runs_committed_.load(); }

 private:
  storage::Store& store_;
  core::Clock& clock_;
  TaskService& tasks_;
  std::atomic<int64_t> runs_committed_{0};
};

}  // namespace sms::server
