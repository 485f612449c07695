// Uploader: sends one spooled run to the server, in the order that makes the
// run appear atomically: every details chunk (idempotent per run_id and seq;
// each acknowledged chunk is marked done), then the brief result (which
// commits the run with its details), then the command result.
// Thread-safety: one thread at a time (as ServerClient).
#pragma once

#include <string>

#include "agent/server_client.h"
#include "agent/spool.h"

namespace sms::agent {

class Uploader final {
 public:
  Uploader(ServerClient& client, Spool& spool)
      : client_(client), spool_(spool) {}

  // Uploads ready run `run_id`. `source_id` (may be empty: no command
  // result is sent) is the source the command came from. Errors as
  // ServerClient's: kUnavailable means try again later.
  [[nodiscard]] core::Status UploadRun(const std::string& run_id,
                                       const std::string& source_id);
  // After the server refused a run for good: reports it as failed under the
  // same run_id, so its task does not wait for it, and moves it aside.
  void RejectRun(const std::string& run_id, const core::Error& why,
                 int64_t now_ms);

 private:
  ServerClient& client_;
  Spool& spool_;
};

}  // namespace sms::agent
