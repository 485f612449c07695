// Marcher: merges the source's and the target's entry streams in walk order
// (rclone's march) and turns each path into one verdict, counting them per
// directory to verify (the SMS counters and our extensions).
// Thread-safety: Run() on one thread; sinks are called on that thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/entry_stream.h"
#include "core/verdict.h"

namespace sms::core {

// The result of one directory to verify: API.md §3.1's ConsistencyResult.
struct DirResult {
  std::string dir_check;
  uint64_t total = 0;  // non-directory entries on the source
  uint64_t different = 0;
  uint64_t target_miss = 0;
  uint64_t target_more = 0;
  uint64_t changed = 0;
  uint64_t errors = 0;
  uint64_t metadata_different = 0;
  uint64_t corrupt = 0;         // content moved under unchanged metadata
  uint64_t bytes_verified = 0;  // source bytes whose digests were compared
  // What the hash caches saved: regular files whose digest was reused
  // without reading, and the bytes read to digest the others, per side.
  uint64_t cached = 0;
  uint64_t bytes_read = 0;
  uint64_t target_cached = 0;
  uint64_t target_bytes_read = 0;
  uint64_t dirs_target_miss = 0;  // directories on the source only
  uint64_t dirs_target_more = 0;  // directories on the target only
  int64_t elapsed_ms = 0;         // time spent verifying this directory
  // Non-empty when this directory could not be verified at all (for example
  // missing on the source): its counters are then not meaningful.
  std::string error;

  // True when nothing differs, is missing, extra, changed or unreadable.
  bool consistent() const;
};

// Receives every verdict except kSame for directories.
class VerdictSink {
 public:
  virtual ~VerdictSink() = default;
  // `path` is relative to `dir_check`; `source`/`target` is null for a side
  // where the path does not exist.
  virtual void OnVerdict(const std::string& dir_check, std::string_view path,
                         const Verdict& verdict, const Entry* source,
                         const Entry* target) = 0;
};

class Marcher final {
 public:
  // `dirs` are the sections both streams carry, in order.
  Marcher(EntryStream& source, EntryStream& target,
          std::vector<std::string> dirs, CompareOptions options,
          VerdictSink* sink);
  Marcher(const Marcher&) = delete;
  Marcher& operator=(const Marcher&) = delete;

  // Runs the whole comparison. An error means a stream failed (cancelled,
  // truncated manifest): the results are then incomplete.
  [[nodiscard]] Result<std::vector<DirResult>> Run();

 private:
  Result<DirResult> RunSection(const std::string& dir_check);
  Result<DirResult> MarchSection(const std::string& dir_check);
  void Emit(DirResult& r, std::string_view path, Verdict v, const Entry* source,
            const Entry* target);

  EntryStream& source_;
  EntryStream& target_;
  const std::vector<std::string> dirs_;
  const CompareOptions options_;
  VerdictSink* const sink_;
};

}  // namespace sms::core
