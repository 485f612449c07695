// Verdicts: what one path's comparison concluded, and the pure function that
// decides it from the two sides' entries (the table of DESIGN.md).
// Thread-safety: pure functions and value types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/entry.h"
#include "core/entry_stream.h"

namespace sms::core {

enum class VerdictStatus : uint8_t {
  kSame,
  kDifferent,
  kTargetMiss,  // on the source only
  kTargetMore,  // on the target only
  kChanged,     // moved while being read: no verdict on its content
  kError,       // could not be read on one side
  kMetadataDifferent,
  // Content changed on a side while its size, mtime, ctime and inode did
  // not: a re-read disagreed with that side's hash cache (core/hash_cache.h).
  kCorrupt,
};

enum class Reason : uint8_t {
  kNone,
  kContent,
  kSize,
  kType,
  kSymlink,
  kMtime,
  kMode,
  kOwner,
  kText,  // the verdict's detail says why (errno text, "changed ...")
};

struct Verdict {
  VerdictStatus status = VerdictStatus::kSame;
  Reason reason = Reason::kNone;
  std::string detail;  // reason == kText
};

struct CompareOptions {
  CompareMode mode = CompareMode::kHash;
  // Also compare mode, owner and (for files) mtime: metadata_different.
  bool metadata = false;
};

// Compare() decides the verdict for a path present on both sides.
Verdict Compare(const Entry& source, const Entry& target,
                const CompareOptions& options);

// API names: "different", "target_miss", ... ("same" for kSame).
std::string_view StatusName(VerdictStatus status);
// The combined list's sigil: = * - + ~ ! % (metadata) and # (corrupt).
char StatusSigil(VerdictStatus status);
// API reason text: "content", "size", ... or the detail for kText.
std::string ReasonText(const Verdict& verdict);

}  // namespace sms::core
