// Reports of a verification: the run's summary (human text and the JSON of
// API.md §3.1), and the per-path list sinks (text with sigils, JSON lines of
// FileDiff objects, CSV).
// Thread-safety: a sink is used by the marcher's thread only.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/hasher.h"
#include "core/marcher.h"

namespace sms::core {

struct RunReport {
  std::string run_id;      // set by the daemon (uploads are keyed by it)
  bool completed = false;  // check_result "success" when true, else "failed"
  CompareMode mode = CompareMode::kHash;
  HashAlgorithm hash = HashAlgorithm::kXxh128;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  std::vector<DirResult> dirs;
  std::string error_msg;  // why the run failed (completed == false)
  // "" for a check of the whole directories; "inconsistent" when only the
  // paths a previous run found not equal were checked again.
  std::string scope;
  // With scope "inconsistent" under the agent: the run whose differences
  // were checked again (uploaded as base_run_id; "" when not known).
  std::string base_run_id;
  // Things the user should know that did not stop the check (a hash cache
  // not used or not written), for stderr and the log; not uploaded.
  std::vector<std::string> warnings;

  // True when the run completed and every directory is consistent.
  bool consistent() const;
};

// `"hash"` / `"quick"`.
std::string_view CompareModeName(CompareMode mode);

// One JSON object: check_result, consistent, mode, hash_algorithm,
// started_time, finished_time, [error_msg], consistency_result[...].
std::string RunReportJson(const RunReport& report);
// A human summary, one block per directory.
std::string RunReportText(const RunReport& report);

// The FileDiff object of API.md §3.4 for one verdict.
std::string FileDiffJson(const std::string& dir_check, std::string_view path,
                         const Verdict& verdict, const Entry* source,
                         const Entry* target);

enum class ListFormat { kText, kJsonl, kCsv };

// Writes one line per verdict to `out` (not owned). Text lists every path
// with its sigil (`=` for same); JSON lines and CSV list only differences.
// Paths in text are relative to the verified root, directories end in '/'.
// With a `run_id` (the run is uploaded under that id), each JSON line also
// names it ("run_id"), so `verify --only-paths` of the list can name the run
// it re-checks.
class ListWriter final : public VerdictSink {
 public:
  ListWriter(FILE* out, ListFormat format, std::string run_id = "");
  ~ListWriter() override;
  ListWriter(const ListWriter&) = delete;
  ListWriter& operator=(const ListWriter&) = delete;

  void OnVerdict(const std::string& dir_check, std::string_view path,
                 const Verdict& verdict, const Entry* source,
                 const Entry* target) override;
  // Writes out what is buffered; false on a write error.
  bool Flush();

 private:
  FILE* const out_;
  const ListFormat format_;
  const std::string run_id_;
  std::string buffer_;
  bool failed_ = false;
};

// Fans verdicts out to several sinks.
class TeeSink final : public VerdictSink {
 public:
  explicit TeeSink(std::vector<VerdictSink*> sinks)
      : sinks_(std::move(sinks)) {}
  void OnVerdict(const std::string& dir_check, std::string_view path,
                 const Verdict& verdict, const Entry* source,
                 const Entry* target) override {
    for (auto* s : sinks_)
      s->OnVerdict(dir_check, path, verdict, source, target);
  }

 private:
  std::vector<VerdictSink*> sinks_;
};

}  // namespace sms::core
