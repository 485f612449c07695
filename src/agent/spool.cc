#include "agent/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "core/json_writer.h"
#include "core/report.h"

namespace sms::agent {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

void SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

std::string ChunkName(size_t seq) {
  return fmt::format("details-{:06}.json", seq);
}

// `detail` as the JSON will hold it (bytes that are not UTF-8 as \xHH), cut
// on a character boundary to what the server takes, "..." saying so.
std::string CutReason(const std::string& detail) {
  std::string reason = core::EscapeInvalidUtf8(detail);
  if (reason.size() <= RunWriter::kMaxReasonBytes) return reason;
  size_t cut = RunWriter::kMaxReasonBytes - 3;
  while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80)
    --cut;
  reason.resize(cut);
  reason += "...";
  return reason;
}

}  // namespace

std::string CheckCommandResultJson(const std::string& task_id,
                                   const core::RunReport& report) {
  std::string detail = fmt::format("{{\"task_id\":\"{}\",\"run_id\":\"{}\"",
                                   task_id, report.run_id);
  if (!report.completed) {
    detail += ",\"error_msg\":";
    core::AppendJsonString(detail, core::EscapeInvalidUtf8(report.error_msg));
  }
  detail += '}';
  return fmt::format(
      "{{\"command_name\":\"CONSISTENCY_CHECK\",\"result\":\"{}\","
      "\"result_detail\":{}}}",
      report.completed ? "success" : "fail", detail);
}

core::Status WriteFileDurably(const std::string& path,
                              const std::string& content) {
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return core::Fail(core::ErrnoError("create " + tmp, errno));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return core::Fail(core::ErrnoError("write " + tmp, err));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    return core::Fail(core::ErrnoError("fsync " + tmp, err));
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return core::Fail(core::ErrnoError("rename " + tmp, errno));
  }
  SyncDir(std::filesystem::path(path).parent_path());
  return core::Ok();
}

core::Result<std::string> ReadWholeFile(const std::string& path) {
  FILE* f = fopen(path.c_str(), "rbe");
  if (f == nullptr) return core::Fail(core::ErrnoError(path, errno));
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  const bool failed = ferror(f) != 0;
  fclose(f);
  if (failed) return core::Fail(core::IoError("reading " + path));
  return out;
}

RunWriter::RunWriter(std::string dir, std::string run_id)
    : dir_(std::move(dir)), run_id_(std::move(run_id)) {}

void RunWriter::OnVerdict(const std::string& dir_check, std::string_view path,
                          const core::Verdict& verdict,
                          const core::Entry* source,
                          const core::Entry* target) {
  if (verdict.status == core::VerdictStatus::kSame) return;
  if (chunk_files_ > 0) chunk_ += ',';
  if (verdict.reason == core::Reason::kText &&
      verdict.detail.size() > kMaxReasonBytes - 3) {
    chunk_ += core::FileDiffJson(
        dir_check, path,
        {verdict.status, verdict.reason, CutReason(verdict.detail)}, source,
        target);
  } else {
    chunk_ += core::FileDiffJson(dir_check, path, verdict, source, target);
  }
  ++chunk_files_;
  if (chunk_files_ >= kChunkFiles || chunk_.size() >= kChunkBytes) {
    auto flushed = FlushChunk();
    if (!flushed && status_) status_ = flushed;
  }
}

core::Status RunWriter::FlushChunk() {
  if (chunk_files_ == 0) return core::Ok();
  std::string body =
      fmt::format("{{\"run_id\":\"{}\",\"seq\":{},\"files\":[", run_id_, seq_);
  body += chunk_;
  body += "]}";
  chunk_.clear();
  chunk_files_ = 0;
  auto written = WriteFileDurably(dir_ + "/" + ChunkName(seq_), body);
  ++seq_;
  return written;
}

core::Status RunWriter::Finish(const std::string& result_json,
                               const std::string& command_result_json) {
  SMS_RETURN_IF_ERROR(status_);
  SMS_RETURN_IF_ERROR(FlushChunk());
  SMS_RETURN_IF_ERROR(WriteFileDurably(dir_ + "/result.json", result_json));
  SMS_RETURN_IF_ERROR(
      WriteFileDurably(dir_ + "/command_result.json", command_result_json));
  return WriteFileDurably(dir_ + "/READY", "");
}

core::Status Spool::Init() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec)
    return core::Fail(core::IoError("create " + dir_ + ": " + ec.message()));
  return core::Ok();
}

core::Result<std::unique_ptr<RunWriter>> Spool::Begin(
    const std::string& run_id, const std::string& task_id) {
  const std::string dir = RunDir(run_id);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);  // a previous attempt of the same run
  if (mkdir(dir.c_str(), 0700) != 0) {
    return core::Fail(core::ErrnoError("mkdir " + dir, errno));
  }
  SMS_RETURN_IF_ERROR(WriteFileDurably(dir + "/task_id", task_id));
  return std::make_unique<RunWriter>(dir, run_id);
}

std::vector<std::string> Spool::ReadyRuns() const {
  std::vector<std::pair<int64_t, std::string>> runs;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = e.path().filename();
    if (name == "rejected" || !e.is_directory()) continue;
    struct stat st;
    if (stat((e.path() / "READY").c_str(), &st) != 0) continue;
    runs.emplace_back(
        int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec, name);
  }
  std::sort(runs.begin(), runs.end());
  std::vector<std::string> out;
  for (auto& r : runs) out.push_back(std::move(r.second));
  return out;
}

core::Status Spool::Recover(const std::string& reason, int64_t now_ms) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string run_id = e.path().filename();
    if (run_id == "rejected" || !e.is_directory()) continue;
    const std::string dir = e.path();
    if (Exists(dir + "/READY")) continue;
    auto task = ReadWholeFile(dir + "/task_id");
    if (!task) {
      std::filesystem::remove_all(dir, ec);  // never got past its start
      continue;
    }
    for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
      if (f.path().filename().string().rfind("details-", 0) == 0) {
        std::filesystem::remove(f.path(), ec);
      }
    }
    core::RunReport report;
    report.run_id = run_id;
    report.completed = false;
    report.error_msg = reason;
    report.started_ms = now_ms;
    report.finished_ms = now_ms;
    RunWriter writer(dir, run_id);
    SMS_RETURN_IF_ERROR(writer.Finish(core::RunReportJson(report),
                                      CheckCommandResultJson(*task, report)));
  }
  return core::Ok();
}

void Spool::Remove(const std::string& run_id) {
  std::error_code ec;
  std::filesystem::remove_all(RunDir(run_id), ec);
  SyncDir(dir_);
}

void Spool::Reject(const std::string& run_id) {
  std::error_code ec;
  const std::string rejected = dir_ + "/rejected/" + run_id;
  std::filesystem::create_directories(dir_ + "/rejected", ec);
  std::filesystem::remove_all(rejected, ec);  // an earlier copy
  std::filesystem::rename(RunDir(run_id), rejected, ec);
  if (ec) std::filesystem::remove_all(RunDir(run_id), ec);  // never retry it
  SyncDir(dir_);
}

}  // namespace sms::agent
