#include "agent/adhoc_upload.h"

#include <chrono>
#include <thread>

#include "auth/crypto.h"
#include "core/clock.h"

namespace sms::agent {

core::Result<std::unique_ptr<AdhocUpload>> AdhocUpload::Begin(
    AgentConfig config, std::string task_id) {
  SMS_RETURN_IF_ERROR(ValidateConfig(config));
  if (!auth::IsUuid(task_id)) {
    return core::Fail(core::InvalidArgument(
        "--task: '" + task_id + "' is not a task id (a lower-case UUID)"));
  }
  std::unique_ptr<AdhocUpload> u(new AdhocUpload());
  u->config_ = std::move(config);
  u->task_id_ = std::move(task_id);
  u->run_id_ = auth::NewUuid();
  u->http_ = NewCurlHttpClient(u->config_.ca_file, 120);
  u->client_ = std::make_unique<ServerClient>(*u->http_, core::SystemClock(),
                                              u->config_);
  u->spool_ = std::make_unique<Spool>(u->config_.state_dir + "/spool");
  SMS_RETURN_IF_ERROR(u->spool_->Init());
  SMS_ASSIGN_OR_RETURN(u->writer_, u->spool_->Begin(u->run_id_, u->task_id_));
  return u;
}

core::Result<std::string> AdhocUpload::Finish(core::RunReport report) {
  report.run_id = run_id_;
  SMS_RETURN_IF_ERROR(writer_->Finish(core::RunReportJson(report), "{}"));
  Uploader uploader(*client_, *spool_);
  core::Status uploaded = core::Ok();
  for (int attempt = 0; attempt < 5; ++attempt) {
    uploaded = uploader.UploadRun(run_id_, /*source_id=*/"");
    if (uploaded) {
      spool_->Remove(run_id_);
      return run_id_;
    }
    if (uploaded.error().code != core::ErrorCode::kUnavailable) {
      uploader.RejectRun(run_id_, uploaded.error(),
                         core::SystemClock().NowEpochMillis());
      return core::Fail(uploaded.error());
    }
    const double wait = std::max(client_->retry_after(), 1.0 * (1 << attempt));
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
  }
  core::Error e = uploaded.error();
  e.message += " (the run stays in " + spool_->RunDir(run_id_) +
               "; `sms-agent run` with this state directory uploads it)";
  return core::Fail(std::move(e));
}

}  // namespace sms::agent
