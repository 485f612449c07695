// Spool: finished runs kept on disk until the server acknowledged them, so
// that neither a server outage nor a crash of the agent loses or doubles a
// run (uploads are idempotent by run_id and chunk seq).
//
// Layout: DIR/<run_id>/task_id, details-NNNNNN.json (request bodies of the
// details upload), result.json (the brief result), command_result.json,
// and READY, written last: a run without READY was interrupted.
// Every file is written to a temporary name, fsync'ed and renamed.
// Thread-safety: one RunWriter per run; Spool's methods from one thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/marcher.h"
#include "core/report.h"
#include "core/result.h"

namespace sms::agent {

// The command_result body of a CONSISTENCY_CHECK whose run is `report`.
std::string CheckCommandResultJson(const std::string& task_id,
                                   const core::RunReport& report);

// Writes `content` to `path` atomically and durably.
[[nodiscard]] core::Status WriteFileDurably(const std::string& path,
                                            const std::string& content);
[[nodiscard]] core::Result<std::string> ReadWholeFile(const std::string& path);

// Collects the differences of one run into details chunks on disk.
class RunWriter final : public core::VerdictSink {
 public:
  // At most this many files, or about this many bytes, per chunk (the
  // server takes at most 10,000 files and 16 MiB per request).
  static constexpr size_t kChunkFiles = 10000;
  static constexpr size_t kChunkBytes = 8 << 20;
  // The longest FileDiff reason the server takes (its details upload is
  // refused past it): a longer one is cut, ending "...".
  static constexpr size_t kMaxReasonBytes = 256;

  RunWriter(std::string dir, std::string run_id);
  void OnVerdict(const std::string& dir_check, std::string_view path,
                 const core::Verdict& verdict, const core::Entry* source,
                 const core::Entry* target) override;
  // Writes the last chunk, then result.json, command_result.json and READY.
  [[nodiscard]] core::Status Finish(const std::string& result_json,
                                    const std::string& command_result_json);
  // The first write error, if any (reported by Finish()).
  size_t chunks() const { return seq_; }

 private:
  core::Status FlushChunk();

  const std::string dir_;
  const std::string run_id_;
  std::string chunk_;  // the files of the current chunk, comma-separated
  size_t chunk_files_ = 0;
  size_t seq_ = 0;
  core::Status status_ = core::Ok();
};

class Spool final {
 public:
  explicit Spool(std::string dir) : dir_(std::move(dir)) {}

  // Creates the spool directory.
  [[nodiscard]] core::Status Init();
  // Starts a run: creates its directory and records its task.
  [[nodiscard]] core::Result<std::unique_ptr<RunWriter>> Begin(
      const std::string& run_id, const std::string& task_id);
  // Runs ready to upload, oldest first.
  std::vector<std::string> ReadyRuns() const;
  // Turns every interrupted run (no READY) into a failed run without
  // details, with `reason` as its error_msg; `now_ms` is its finish time.
  [[nodiscard]] core::Status Recover(const std::string& reason, int64_t now_ms);
  // Removes a run once the server has it.
  void Remove(const std::string& run_id);
  // Moves a run the server refused for good aside (DIR/rejected/).
  void Reject(const std::string& run_id);

  std::string RunDir(const std::string& run_id) const {
    return dir_ + "/" + run_id;
  }

 private:
  const std::string dir_;
};

}  // namespace sms::agent
