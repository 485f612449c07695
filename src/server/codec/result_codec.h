// Result codec: the JSON of the result routes (spec/API.md §3.1, §3.2,
// §3.4) decoded into typed uploads and queries, and runs and detail pages
// encoded. Decoding checks each field and names it in errors
// ("consistency_result[3].dir_check: must be an absolute path"), and
// computes the content hash that makes a repeated upload a no-op.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/api_error.h"
#include "server/codec/query.h"
#include "server/json_fields.h"
#include "storage/store.h"

namespace sms::server {

// POST /v3/tasks/{id}/consistency-result. Absent fields stay nullopt; the
// service gives them their defaults.
struct ResultUpload {
  std::optional<std::string> run_id;        // a lower-case UUID
  std::optional<std::string> check_result;  // success | failed
  std::optional<std::string> mode;          // hash | quick
  std::optional<std::string> hash_algorithm;
  std::optional<std::string> error_msg;
  std::optional<int64_t> started_time, finished_time;  // epoch ms
  std::optional<std::string> scope;                    // "" | inconsistent
  // With scope "inconsistent": the run whose differences were re-checked.
  std::optional<std::string> base_run_id;
  std::vector<storage::DirResult> dirs;  // at most 30
  // SHA-256 of the upload's canonical form (every field but run_id): the
  // same content uploaded again under the same run_id is a no-op.
  std::string content_hash;
};
[[nodiscard]] ApiResult<ResultUpload> DecodeResultUpload(
    const json::object& body);

// GET .../consistency-result?limit=N (1..100, default 100) or ?run_id=UUID
// (that run alone, however old).
struct ResultListQuery {
  int limit = 100;
  std::optional<std::string> run_id;  // a lower-case UUID
};
[[nodiscard]] ApiResult<ResultListQuery> DecodeResultListQuery(
    const QueryParams& q);
// One run of result_list.
json::value EncodeRun(const storage::Run& run);
// -> {"task_id", "result_list"}
json::value EncodeRunList(const std::string& task_id,
                          const std::vector<storage::Run>& runs);

// POST .../consistency-result/details: one chunk (run_id, seq, files); the
// service fills in its domain, task and time.
[[nodiscard]] ApiResult<storage::DetailChunk> DecodeDetailChunk(
    const json::object& body);

struct StagedDetails {
  std::string run_id;
  int64_t seq = 0;
  int64_t count = 0;
  bool staged = false;  // false: the same chunk again, nothing stored
};
json::value EncodeStagedDetails(const StagedDetails& s);

// GET .../consistency-result/details
struct DetailListQuery {
  int limit = 100;  // 1..1000
  std::optional<std::string> dir_check;
  std::optional<std::string> status;
  int64_t after_seq = -1;  // from `marker`
  int64_t after_idx = -1;
  std::optional<std::string> run_id;  // absent: the latest run (checked by
                                      // the service, after the task)
};
[[nodiscard]] ApiResult<DetailListQuery> DecodeDetailListQuery(
    const QueryParams& q);

struct DetailListing {
  std::string task_id;
  std::string run_id;
  int64_t total = 0;  // over all pages
  std::vector<storage::DetailRow> rows;
  bool more = false;  // a next page exists; its marker is the last row's
};
json::value EncodeDetailListing(const DetailListing& l);

// Opaque, stable detail markers.
std::string EncodeMarker(int64_t seq, int64_t idx);
[[nodiscard]] ApiResult<std::pair<int64_t, int64_t>> DecodeMarker(
    std::string_view marker);

}  // namespace sms::server
