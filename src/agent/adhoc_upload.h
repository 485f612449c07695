// AdhocUpload: `sms-agent verify ... --server URL --task ID`. The run of the
// command line is spooled exactly like the daemon's (same state directory)
// and uploaded to the task when it ends; a run the server could not take
// stays in the spool, and a running `sms-agent run` with the same state
// directory uploads it later.
// Thread-safety: one thread.
#pragma once

#include <memory>
#include <string>

#include "agent/agent_config.h"
#include "agent/http_client.h"
#include "agent/server_client.h"
#include "agent/spool.h"
#include "agent/uploader.h"
#include "core/report.h"

namespace sms::agent {

class AdhocUpload final {
 public:
  // Checks the configuration and starts the run's spool entry.
  [[nodiscard]] static core::Result<std::unique_ptr<AdhocUpload>> Begin(
      AgentConfig config, std::string task_id);

  // Receives the run's verdicts (the details).
  core::VerdictSink* sink() { return writer_.get(); }
  // The id the run is uploaded under.
  const std::string& run_id() const { return run_id_; }
  // Spools the result and uploads the run, retrying a few times while the
  // server is unavailable. Returns the run's id.
  [[nodiscard]] core::Result<std::string> Finish(core::RunReport report);

 private:
  AdhocUpload() = default;

  AgentConfig config_;
  std::string task_id_;
  std::string run_id_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<ServerClient> client_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<RunWriter> writer_;
};

}  // namespace sms::agent
