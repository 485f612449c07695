#include "core/marcher.h"

#include <chrono>
#include <utility>

#include "core/path_order.h"

namespace sms::core {
namespace {

// Returns the next entry of the current section, nullptr at its end.
Result<const Entry*> NextEntry(EntryStream& stream, const char* side) {
  SMS_ASSIGN_OR_RETURN(const Item* item, stream.Next());
  if (item == nullptr) {
    return Fail(DataLoss(std::string(side) + " stream ended inside a section"));
  }
  if (item->kind == ItemKind::kSectionEnd) return nullptr;
  if (item->kind != ItemKind::kEntry) {
    return Fail(DataLoss(std::string(side) + " stream: unexpected section"));
  }
  return &item->entry;
}

Status Drain(EntryStream& stream, const char* side, const Entry* current) {
  while (current != nullptr) {
    SMS_ASSIGN_OR_RETURN(current, NextEntry(stream, side));
  }
  return Ok();
}

Result<Section> SectionStart(EntryStream& stream, const char* side,
                             const std::string& dir_check) {
  SMS_ASSIGN_OR_RETURN(const Item* item, stream.Next());
  if (item == nullptr || item->kind != ItemKind::kSectionStart ||
      item->section.dir_check != dir_check) {
    return Fail(DataLoss(std::string(side) +
                         " stream out of step: expected directory " +
                         dir_check));
  }
  return item->section;
}

}  // namespace

bool DirResult::consistent() const {
  return error.empty() && different == 0 && target_miss == 0 &&
         target_more == 0 && changed == 0 && errors == 0 &&
         metadata_different == 0 && corrupt == 0 && dirs_target_miss == 0 &&
         dirs_target_more == 0;
}

Marcher::Marcher(EntryStream& source, EntryStream& target,
                 std::vector<std::string> dirs, CompareOptions options,
                 VerdictSink* sink)
    : source_(source),
      target_(target),
      dirs_(std::move(dirs)),
      options_(options),
      sink_(sink) {}

Result<std::vector<DirResult>> Marcher::Run() {
  std::vector<DirResult> results;
  for (const auto& dir : dirs_) {
    SMS_ASSIGN_OR_RETURN(DirResult r, RunSection(dir));
    results.push_back(std::move(r));
  }
  SMS_ASSIGN_OR_RETURN(const Item* s, source_.Next());
  SMS_ASSIGN_OR_RETURN(const Item* t, target_.Next());
  if (s != nullptr || t != nullptr) {
    return Fail(DataLoss("stream has more sections than requested"));
  }
  return results;
}

Result<DirResult> Marcher::RunSection(const std::string& dir_check) {
  // Elapsed time is reported, never decided on: no clock seam needed.
  const auto started = std::chrono::steady_clock::now();
  SMS_ASSIGN_OR_RETURN(DirResult r, MarchSection(dir_check));
  r.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count();
  return r;
}

Result<DirResult> Marcher::MarchSection(const std::string& dir_check) {
  SMS_ASSIGN_OR_RETURN(Section ss, SectionStart(source_, "source", dir_check));
  SMS_ASSIGN_OR_RETURN(Section ts, SectionStart(target_, "target", dir_check));
  DirResult r;
  r.dir_check = dir_check;
  if (ss.state == RootState::kMissing) {
    r.error = "source directory " + dir_check + " does not exist";
  } else if (ss.state == RootState::kError) {
    r.error = "source: " + ss.error;
  } else if (ts.state == RootState::kError) {
    r.error = "target: " + ts.error;
  }
  SMS_ASSIGN_OR_RETURN(const Entry* a, NextEntry(source_, "source"));
  SMS_ASSIGN_OR_RETURN(const Entry* b, NextEntry(target_, "target"));
  if (!r.error.empty()) {
    SMS_RETURN_IF_ERROR(Drain(source_, "source", a));
    SMS_RETURN_IF_ERROR(Drain(target_, "target", b));
    return r;
  }
  // A directory that one side cannot list hides what is under it: entries of
  // the other side below it are errors, never missing or extra.
  std::string source_hole, target_hole;
  auto in_hole = [](const std::string& hole, const std::string& path) {
    return !hole.empty() && IsUnder(path, hole);
  };
  auto note_hole = [](std::string& hole, const Entry& e) {
    if (e.is_dir() && e.state == EntryState::kError) hole = e.path;
  };
  while (a != nullptr || b != nullptr) {
    const int c = a == nullptr   ? 1
                  : b == nullptr ? -1
                                 : ComparePaths(a->path, b->path);
    if (c < 0) {
      if (in_hole(target_hole, a->path)) {
        Emit(r, a->path,
             {VerdictStatus::kError, Reason::kText,
              "target: cannot read directory " + target_hole},
             a, nullptr);
      } else if (a->state == EntryState::kError) {
        // Vanished or unreadable: in doubt, never "missing on the target".
        Emit(r, a->path,
             {VerdictStatus::kError, Reason::kText, "source: " + a->error}, a,
             nullptr);
      } else {
        Emit(r, a->path, {VerdictStatus::kTargetMiss, Reason::kNone, {}}, a,
             nullptr);
      }
      note_hole(source_hole, *a);
      SMS_ASSIGN_OR_RETURN(a, NextEntry(source_, "source"));
    } else if (c > 0) {
      if (in_hole(source_hole, b->path)) {
        Emit(r, b->path,
             {VerdictStatus::kError, Reason::kText,
              "source: cannot read directory " + source_hole},
             nullptr, b);
      } else if (b->state == EntryState::kError) {
        Emit(r, b->path,
             {VerdictStatus::kError, Reason::kText, "target: " + b->error},
             nullptr, b);
      } else {
        Emit(r, b->path, {VerdictStatus::kTargetMore, Reason::kNone, {}},
             nullptr, b);
      }
      note_hole(target_hole, *b);
      SMS_ASSIGN_OR_RETURN(b, NextEntry(target_, "target"));
    } else {
      Emit(r, a->path, Compare(*a, *b, options_), a, b);
      note_hole(source_hole, *a);
      note_hole(target_hole, *b);
      SMS_ASSIGN_OR_RETURN(a, NextEntry(source_, "source"));
      SMS_ASSIGN_OR_RETURN(b, NextEntry(target_, "target"));
    }
  }
  return r;
}

void Marcher::Emit(DirResult& r, std::string_view path, Verdict v,
                   const Entry* s, const Entry* t) {
  const bool source_file = s != nullptr && !s->is_dir();
  if (source_file) ++r.total;
  // Hash mode reads every regular file it has no cached digest for.
  auto count_read = [](const Entry* e, uint64_t& cached, uint64_t& bytes) {
    if (e == nullptr || e->type != FileType::kRegular || e->digest.empty()) {
      return;
    }
    if (e->cached) {
      ++cached;
    } else {
      bytes += e->size;
    }
  };
  count_read(s, r.cached, r.bytes_read);
  count_read(t, r.target_cached, r.target_bytes_read);
  if (options_.mode == CompareMode::kHash && s != nullptr && t != nullptr &&
      !s->digest.empty() && !t->digest.empty()) {
    r.bytes_verified += s->size;
  }
  switch (v.status) {
    case VerdictStatus::kSame:
      if (s->is_dir()) return;  // directories only matter when they differ
      break;
    case VerdictStatus::kDifferent:
      ++r.different;
      break;
    case VerdictStatus::kTargetMiss:
      ++(source_file ? r.target_miss : r.dirs_target_miss);
      break;
    case VerdictStatus::kTargetMore:
      ++(t->is_dir() ? r.dirs_target_more : r.target_more);
      break;
    case VerdictStatus::kChanged:
      ++r.changed;
      break;
    case VerdictStatus::kError:
      ++r.errors;
      break;
    case VerdictStatus::kMetadataDifferent:
      ++r.metadata_different;
      break;
    case VerdictStatus::kCorrupt:
      ++r.corrupt;
      break;
  }
  if (sink_ != nullptr) sink_->OnVerdict(r.dir_check, path, v, s, t);
}

}  // namespace sms::core
