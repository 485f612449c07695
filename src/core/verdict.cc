#include "core/verdict.h"

namespace sms::core {
namespace {

Verdict Make(VerdictStatus status, Reason reason, std::string detail = {}) {
  return {status, reason, std::move(detail)};
}

}  // namespace

Verdict Compare(const Entry& s, const Entry& t, const CompareOptions& o) {
  if (s.state == EntryState::kError || t.state == EntryState::kError) {
    std::string detail = s.state == EntryState::kError ? "source: " + s.error
                                                       : "target: " + t.error;
    return Make(VerdictStatus::kError, Reason::kText, std::move(detail));
  }
  if (s.type != t.type) return Make(VerdictStatus::kDifferent, Reason::kType);
  if (s.state == EntryState::kChanged || t.state == EntryState::kChanged) {
    return Make(VerdictStatus::kChanged, Reason::kText,
                s.state == EntryState::kChanged
                    ? "source changed while being read"
                    : "target changed while being read");
  }
  if (s.corrupt || t.corrupt) {
    return Make(VerdictStatus::kCorrupt, Reason::kText,
                std::string(s.corrupt && t.corrupt ? "source and target"
                            : s.corrupt            ? "source"
                                                   : "target") +
                    ": content changed, size, mtime, ctime and inode did not");
  }
  switch (s.type) {
    case FileType::kRegular:
      if (s.size != t.size) {
        return Make(VerdictStatus::kDifferent, Reason::kSize);
      }
      if (o.mode == CompareMode::kHash) {
        if (!(s.digest == t.digest)) {
          return Make(VerdictStatus::kDifferent, Reason::kContent);
        }
      } else if (s.mtime_ns != t.mtime_ns) {
        return Make(VerdictStatus::kDifferent, Reason::kMtime);
      }
      break;
    case FileType::kSymlink:
      if (s.link_target != t.link_target) {
        return Make(VerdictStatus::kDifferent, Reason::kSymlink);
      }
      break;
    case FileType::kCharDevice:
    case FileType::kBlockDevice:
      if (s.rdev != t.rdev) {
        return Make(VerdictStatus::kDifferent, Reason::kContent);
      }
      break;
    default:
      break;
  }
  if (o.metadata) {
    // Symlink permissions are meaningless on Linux; directory mtimes move
    // with their contents, symlink mtimes are rarely preserved.
    if (s.type != FileType::kSymlink && s.mode != t.mode) {
      return Make(VerdictStatus::kMetadataDifferent, Reason::kMode);
    }
    if (s.uid != t.uid || s.gid != t.gid) {
      return Make(VerdictStatus::kMetadataDifferent, Reason::kOwner);
    }
    if (s.type == FileType::kRegular && s.mtime_ns != t.mtime_ns) {
      return Make(VerdictStatus::kMetadataDifferent, Reason::kMtime);
    }
  }
  return Make(VerdictStatus::kSame, Reason::kNone);
}

std::string_view StatusName(VerdictStatus status) {
  switch (status) {
    case VerdictStatus::kSame:
      return "same";
    case VerdictStatus::kDifferent:
      return "different";
    case VerdictStatus::kTargetMiss:
      return "target_miss";
    case VerdictStatus::kTargetMore:
      return "target_more";
    case VerdictStatus::kChanged:
      return "changed";
    case VerdictStatus::kError:
      return "error";
    case VerdictStatus::kMetadataDifferent:
      return "metadata_different";
    case VerdictStatus::kCorrupt:
      return "corrupt";
  }
  return "error";
}

char StatusSigil(VerdictStatus status) {
  switch (status) {
    case VerdictStatus::kSame:
      return '=';
    case VerdictStatus::kDifferent:
      return '*';
    case VerdictStatus::kTargetMiss:
      return '-';
    case VerdictStatus::kTargetMore:
      return '+';
    case VerdictStatus::kChanged:
      return '~';
    case VerdictStatus::kError:
      return '!';
    case VerdictStatus::kMetadataDifferent:
      return '%';
    case VerdictStatus::kCorrupt:
      return '#';
  }
  return '!';
}

std::string ReasonText(const Verdict& v) {
  switch (v.reason) {
    case Reason::kNone:
      return "";
    case Reason::kContent:
      return "content";
    case Reason::kSize:
      return "size";
    case Reason::kType:
      return "type";
    case Reason::kSymlink:
      return "symlink";
    case Reason::kMtime:
      return "mtime";
    case Reason::kMode:
      return "mode";
    case Reason::kOwner:
      return "owner";
    case Reason::kText:
      return v.detail;
  }
  return "";
}

}  // namespace sms::core
