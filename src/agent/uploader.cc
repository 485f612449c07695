#include "agent/uploader.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/report.h"

namespace sms::agent {

core::Status Uploader::UploadRun(const std::string& run_id,
                                 const std::string& source_id) {
  const std::string dir = spool_.RunDir(run_id);
  SMS_ASSIGN_OR_RETURN(std::string task_id, ReadWholeFile(dir + "/task_id"));
  const std::string base = "/v3/tasks/" + task_id + "/consistency-result";
  std::vector<std::string> chunks;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename();
    if (name.rfind("details-", 0) == 0 && name.size() > 5 &&
        name.compare(name.size() - 5, 5, ".json") == 0) {
      chunks.push_back(name);
    }
  }
  std::sort(chunks.begin(), chunks.end());
  for (const auto& chunk : chunks) {
    const std::string done = dir + "/" + chunk + ".done";
    if (access(done.c_str(), F_OK) == 0) continue;
    SMS_ASSIGN_OR_RETURN(std::string body, ReadWholeFile(dir + "/" + chunk));
    SMS_RETURN_IF_ERROR(client_.PostJson(base + "/details", body));
    SMS_RETURN_IF_ERROR(WriteFileDurably(done, ""));
  }
  SMS_ASSIGN_OR_RETURN(std::string result, ReadWholeFile(dir + "/result.json"));
  SMS_RETURN_IF_ERROR(client_.PostJson(base, result));
  // The run is committed; the command result only moves the task's state,
  // so the server refusing it does not keep the run in the spool.
  if (source_id.empty()) return core::Ok();
  if (auto cr = ReadWholeFile(dir + "/command_result.json"); cr) {
    auto posted =
        client_.PostJson("/v3/sources/" + source_id + "/command_result", *cr);
    if (!posted && posted.error().code == core::ErrorCode::kUnavailable) {
      return posted;
    }
  }
  return core::Ok();
}

void Uploader::RejectRun(const std::string& run_id, const core::Error& why,
                         int64_t now_ms) {
  if (auto task = ReadWholeFile(spool_.RunDir(run_id) + "/task_id"); task) {
    core::RunReport failed;
    failed.run_id = run_id;
    failed.started_ms = failed.finished_ms = now_ms;
    failed.error_msg = "the server refused the run's upload: " + why.message;
    // Best effort: when this is refused too, the run stays aside.
    (void)client_.PostJson("/v3/tasks/" + *task + "/consistency-result",
                           core::RunReportJson(failed));
  }
  spool_.Reject(run_id);
}

}  // namespace sms::agent
