#include "core/report.h"

#include <fmt/format.h>

#include "core/json_writer.h"

namespace sms::core {
namespace {

void AppendSide(std::string& out, const char* key, const Entry& e) {
  out += ",\"";
  out += key;
  out += "\":{\"type\":\"";
  out += FileTypeName(e.type);
  out += '"';
  if (e.type != FileType::kDirectory) {
    out += fmt::format(",\"size\":{}", e.size);
  }
  // "mtime" in milliseconds (API.md), rounded down before 1970 too; and
  // "mtime_ns", exact, for a difference below a millisecond.
  int64_t mtime_ms = e.mtime_ns / 1000000;
  if (e.mtime_ns % 1000000 < 0) --mtime_ms;
  out += fmt::format(
      ",\"mtime\":{},\"mtime_ns\":{},\"mode\":{},\"uid\":{},\"gid\":{}",
      mtime_ms, e.mtime_ns, e.mode, e.uid, e.gid);
  if (!e.digest.empty()) {
    out += ",\"hash\":\"";
    out += e.digest.Hex();
    out += '"';
  }
  if (e.type == FileType::kSymlink) {
    out += ",\"link_target\":";
    AppendJsonString(out, EscapeInvalidUtf8(e.link_target));
  }
  out += '}';
}

// The path relative to the verified root ("etc/passwd" for /etc + passwd).
std::string RootRelative(const std::string& dir_check, std::string_view path) {
  std::string out;
  if (dir_check.size() > 1) {
    out.append(dir_check, 1);
    if (!path.empty()) out += '/';
  }
  out.append(path);
  return out;
}

void AppendCsvSide(std::string& out, const Entry* e) {
  if (e == nullptr) {
    out += ",,,";
    return;
  }
  out += ',';
  out += FileTypeName(e->type);
  out += fmt::format(",{},", e->size);
  out += e->digest.Hex();
}

}  // namespace

bool RunReport::consistent() const {
  if (!completed) return false;
  for (const auto& d : dirs) {
    if (!d.consistent()) return false;
  }
  return true;
}

std::string_view CompareModeName(CompareMode mode) {
  return mode == CompareMode::kQuick ? "quick" : "hash";
}

std::string RunReportJson(const RunReport& r) {
  std::string out = "{";
  if (!r.run_id.empty()) out += "\"run_id\":\"" + r.run_id + "\",";
  out += "\"check_result\":";
  out += r.completed ? "\"success\"" : "\"failed\"";
  out += fmt::format(
      ",\"consistent\":{},\"mode\":\"{}\",\"hash_algorithm\":\"{}\","
      "\"started_time\":{},\"finished_time\":{}",
      r.consistent() ? "true" : "false", CompareModeName(r.mode),
      HashAlgorithmName(r.hash), r.started_ms, r.finished_ms);
  if (!r.error_msg.empty()) {
    out += ",\"error_msg\":";
    AppendJsonString(out, EscapeInvalidUtf8(r.error_msg));
  }
  if (!r.scope.empty()) {
    out += ",\"scope\":";
    AppendJsonString(out, r.scope);
  }
  if (!r.base_run_id.empty()) {
    out += ",\"base_run_id\":";
    AppendJsonString(out, r.base_run_id);
  }
  out += ",\"consistency_result\":[";
  bool first = true;
  for (const auto& d : r.dirs) {
    if (!first) out += ',';
    first = false;
    out += "{\"dir_check\":";
    AppendJsonString(out, EscapeInvalidUtf8(d.dir_check));
    out += fmt::format(
        ",\"num_total_files\":{},\"num_different_files\":{},"
        "\"num_target_miss_files\":{},\"num_target_more_files\":{},"
        "\"num_changed_files\":{},\"num_error_files\":{},"
        "\"num_metadata_different_files\":{},\"num_corrupt_files\":{},"
        "\"num_bytes_verified\":{},\"num_bytes_read\":{},"
        "\"num_cached_files\":{},\"num_target_bytes_read\":{},"
        "\"num_target_cached_files\":{},"
        "\"num_target_miss_dirs\":{},\"num_target_more_dirs\":{},"
        "\"elapsed_ms\":{}",
        d.total, d.different, d.target_miss, d.target_more, d.changed, d.errors,
        d.metadata_different, d.corrupt, d.bytes_verified, d.bytes_read,
        d.cached, d.target_bytes_read, d.target_cached, d.dirs_target_miss,
        d.dirs_target_more, d.elapsed_ms);
    if (!d.error.empty()) {
      out += ",\"error_msg\":";
      AppendJsonString(out, EscapeInvalidUtf8(d.error));
    }
    out += '}';
  }
  out += "]}";
  return out;
}

std::string RunReportText(const RunReport& r) {
  std::string out;
  const double secs = (r.finished_ms - r.started_ms) / 1000.0;
  uint64_t bytes = 0;
  for (const auto& d : r.dirs) {
    bytes += d.bytes_verified;
    out += fmt::format("{}\n", d.dir_check);
    if (!d.error.empty()) {
      out += fmt::format("  could not be verified: {}\n", d.error);
      continue;
    }
    out += fmt::format(
        "  files {:>10}   different {:>8}   missing on target {:>8}   "
        "extra on target {:>8}\n",
        d.total, d.different, d.target_miss, d.target_more);
    out += fmt::format(
        "  changed {:>8}   errors {:>11}   metadata differs {:>9}   "
        "dirs missing/extra {}/{}\n",
        d.changed, d.errors, d.metadata_different, d.dirs_target_miss,
        d.dirs_target_more);
    if (d.corrupt > 0) {
      out += fmt::format(
          "  CORRUPT {:>8}   (content changed, metadata did not: see the "
          "list, '#')\n",
          d.corrupt);
    }
    if (d.cached + d.target_cached > 0) {
      out += fmt::format(
          "  hash cache: source {} reused, {:.1f} MiB read; target {} "
          "reused, {:.1f} MiB read\n",
          d.cached, d.bytes_read / 1048576.0, d.target_cached,
          d.target_bytes_read / 1048576.0);
    }
    const double dir_mib = d.bytes_verified / 1048576.0;
    const double dir_secs = d.elapsed_ms / 1000.0;
    out +=
        fmt::format("  verified {:.1f} MiB in {:.2f} s ({:.1f} MiB/s)\n",
                    dir_mib, dir_secs, dir_secs > 0 ? dir_mib / dir_secs : 0.0);
  }
  const double mib = bytes / 1048576.0;
  if (r.scope == "inconsistent") {
    // A user reading "files 17" must know they are the listed ones.
    out += fmt::format(
        "re-check of the listed paths only (scope inconsistent{}): the "
        "counters cover them; a listed path now on neither side is not "
        "counted\n",
        r.base_run_id.empty() ? "" : ", base run " + r.base_run_id);
  }
  out += fmt::format(
      "{} mode ({}): {:.1f} MiB verified in {:.2f} s ({:.1f} MiB/s)\n",
      CompareModeName(r.mode),
      // Quick mode reads no file: no digest is taken.
      r.mode == CompareMode::kQuick ? "size + mtime"
                                    : HashAlgorithmName(r.hash),
      mib, secs, secs > 0 ? mib / secs : 0.0);
  size_t unverified = 0;
  for (const auto& d : r.dirs) unverified += d.error.empty() ? 0 : 1;
  if (!r.completed) {
    out += fmt::format("FAILED: {}\n", r.error_msg);
  } else if (unverified > 0) {
    // Exit status 2: no verdict on those directories, not a difference.
    out += fmt::format("NOT VERIFIED: {} of {} directories could not be read\n",
                       unverified, r.dirs.size());
  } else {
    out += r.consistent() ? "CONSISTENT\n" : "DIFFERENCES FOUND\n";
  }
  return out;
}

std::string FileDiffJson(const std::string& dir_check, std::string_view path,
                         const Verdict& v, const Entry* s, const Entry* t) {
  std::string out = "{\"dir_check\":";
  AppendJsonString(out, EscapeInvalidUtf8(dir_check));
  out += ",\"path\":";
  const bool valid = IsValidUtf8(path);
  AppendJsonString(out, valid ? std::string(path) : EscapeInvalidUtf8(path));
  if (!valid) {
    out += ",\"path_b64\":\"";
    out += Base64(path);
    out += '"';
  }
  out += ",\"status\":\"";
  out += StatusName(v.status);
  out += '"';
  const std::string reason = ReasonText(v);
  if (!reason.empty()) {
    out += ",\"reason\":";
    AppendJsonString(out, EscapeInvalidUtf8(reason));
  }
  if (s != nullptr) AppendSide(out, "source", *s);
  if (t != nullptr) AppendSide(out, "target", *t);
  out += '}';
  return out;
}

ListWriter::ListWriter(FILE* out, ListFormat format, std::string run_id)
    : out_(out), format_(format), run_id_(std::move(run_id)) {
  if (format_ == ListFormat::kCsv) {
    buffer_ =
        "dir_check,path,status,reason,source_type,source_size,source_hash,"
        "target_type,target_size,target_hash\n";
  }
}

ListWriter::~ListWriter() { Flush(); }

void ListWriter::OnVerdict(const std::string& dir_check, std::string_view path,
                           const Verdict& v, const Entry* s, const Entry* t) {
  const bool is_dir = (s != nullptr ? s : t)->is_dir();
  switch (format_) {
    case ListFormat::kText:
      buffer_ += StatusSigil(v.status);
      buffer_ += ' ';
      buffer_ += EscapeListPath(RootRelative(dir_check, path));
      if (is_dir) buffer_ += '/';
      buffer_ += '\n';
      break;
    case ListFormat::kJsonl:
      if (v.status == VerdictStatus::kSame) return;
      if (run_id_.empty()) {
        buffer_ += FileDiffJson(dir_check, path, v, s, t);
      } else {
        // The FileDiff object with "run_id" first.
        buffer_ += "{\"run_id\":";
        AppendJsonString(buffer_, run_id_);
        buffer_ += ',';
        buffer_ +=
            std::string_view(FileDiffJson(dir_check, path, v, s, t)).substr(1);
      }
      buffer_ += '\n';
      break;
    case ListFormat::kCsv:
      if (v.status == VerdictStatus::kSame) return;
      AppendCsvField(buffer_, EscapeInvalidUtf8(dir_check));
      buffer_ += ',';
      AppendCsvField(buffer_, EscapeInvalidUtf8(path));
      buffer_ += ',';
      buffer_ += StatusName(v.status);
      buffer_ += ',';
      AppendCsvField(buffer_, EscapeInvalidUtf8(ReasonText(v)));
      AppendCsvSide(buffer_, s);
      AppendCsvSide(buffer_, t);
      buffer_ += '\n';
      break;
  }
  if (buffer_.size() >= (64 << 10)) Flush();
}

bool ListWriter::Flush() {
  if (!buffer_.empty()) {
    if (fwrite(buffer_.data(), 1, buffer_.size(), out_) != buffer_.size()) {
      failed_ = true;
    }
    buffer_.clear();
  }
  if (fflush(out_) != 0) failed_ = true;
  return !failed_;
}

}  // namespace sms::core
