#include "agent/verify_command.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/adhoc_upload.h"
#include "auth/crypto.h"
#include "core/dir_list.h"
#include "core/hash_cache.h"
#include "core/manifest.h"
#include "core/marcher.h"

namespace sms::agent {
namespace {

// Deep trees keep one directory handle open per level: lift the soft limit
// of open files to the hard one.
void RaiseFileLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

std::string StripTrailingSlashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p == "/" ? "" : p;
}

// Checks that a local root is a readable directory, naming it when not.
core::Status CheckRoot(const std::string& what, const std::string& path) {
  struct stat st;
  if (stat(path.empty() ? "/" : path.c_str(), &st) != 0) {
    return core::Fail(core::ErrnoError(what + " " + path, errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return core::Fail(
        core::InvalidArgument(what + " " + path + ": not a directory"));
  }
  return core::Ok();
}

// The number of inodes in use on the file system mounted at `root`, when
// `root` is a mount point (then a walk of it visits about that many entries);
// 0 when unknown. Feeds the progress line's ETA.
uint64_t EstimateEntries(const std::string& root) {
  const std::string path = root.empty() ? "/" : root;
  struct stat self, parent;
  if (stat(path.c_str(), &self) != 0) return 0;
  if (path != "/") {
    if (stat((path + "/..").c_str(), &parent) != 0) return 0;
    if (parent.st_dev == self.st_dev) return 0;  // not a mount point
  }
  struct statvfs vfs;
  if (statvfs(path.c_str(), &vfs) != 0 || vfs.f_files < vfs.f_ffree) return 0;
  return vfs.f_files - vfs.f_ffree;
}

// A one-line progress display on stderr, refreshed twice a second: entries,
// bytes, rate and, when the total can be estimated, an ETA.
class ProgressLine final {
 public:
  ProgressLine(const core::ScanProgress* source,
               const core::ScanProgress* target, uint64_t expected_entries)
      : source_(source), target_(target), expected_(expected_entries) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~ProgressLine() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
    fputs("\r\033[K", stderr);
  }

 private:
  void Loop() {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(500),
                         [&] { return done_; })) {
      const double secs = std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - start)
                              .count();
      uint64_t entries = source_->entries.load();
      uint64_t bytes = source_->bytes_read.load();
      uint64_t t_entries = target_ ? target_->entries.load() : 0;
      const double mib = bytes / 1048576.0;
      fmt::print(
          stderr,
          "\r\033[Ksource {} entries, {:.0f} MiB ({:.0f} MiB/s){}  {:.0f}s",
          entries, mib, secs > 0 ? mib / secs : 0.0,
          target_ ? fmt::format(" | target {} entries", t_entries)
                  : std::string(" | target remote"),
          secs);
      fflush(stderr);
    }
  }

  const core::ScanProgress* source_;
  const core::ScanProgress* target_;
  const uint64_t expected_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// The scanner's warnings, each prefixed with the side.
void TakeWarnings(core::Scanner& scanner, const char* side,
                  std::vector<std::string>& out) {
  for (auto& w : scanner.TakeWarnings()) out.push_back(side + (": " + w));
}

// "~" and "~/..." against $HOME, as a shell would (the remote side of an
// ssh target gets the default "~/.cache/sms-agent" quoted).
std::string ExpandHome(const std::string& path) {
  if (path != "~" && path.rfind("~/", 0) != 0) return path;
  const char* home = getenv("HOME");
  return std::string(home != nullptr ? home : "") + path.substr(1);
}

struct BaseRun {
  std::string run_id;
  std::string warning;
};

// The run a check of the list `file` re-checks: `explicit_id`
// (--base-run-id) when given, else the one run the list names, else none.
core::Result<BaseRun> BaseRunOfList(const std::string& file,
                                    const std::vector<std::string>& named,
                                    const std::string& explicit_id) {
  BaseRun out;
  if (!explicit_id.empty()) {
    out.run_id = explicit_id;
    if (!named.empty() && (named.size() > 1 || named[0] != explicit_id)) {
      out.warning =
          fmt::format("{}: the list names run {}; --base-run-id {} is used",
                      file, fmt::join(named, ", "), explicit_id);
    }
  } else if (named.size() == 1) {
    out.run_id = named[0];
  } else if (named.size() > 1) {
    return core::Fail(core::InvalidArgument(fmt::format(
        "--only-paths {}: the list names {} runs ({}); name the one it "
        "re-checks with --base-run-id",
        file, named.size(), fmt::join(named, ", "))));
  }
  if (!out.run_id.empty() && !auth::IsUuid(out.run_id)) {
    return core::Fail(core::InvalidArgument(
        (explicit_id.empty() ? "--only-paths " + file + ": run_id '"
                             : std::string("--base-run-id: '")) +
        out.run_id + "' is not a run id (a lower-case UUID)"));
  }
  return out;
}

}  // namespace

void Canceller::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  for (auto* s : scanners_) s->Cancel();
  if (ssh_ != nullptr) ssh_->Cancel();
}

bool Canceller::cancelled() {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

void Canceller::Attach(core::Scanner* scanner) {
  std::lock_guard<std::mutex> lock(mu_);
  scanners_.push_back(scanner);
  if (cancelled_) scanner->Cancel();
}

void Canceller::Attach(SshTarget* target) {
  std::lock_guard<std::mutex> lock(mu_);
  ssh_ = target;
  if (cancelled_) target->Cancel();
}

void Canceller::DetachAll() {
  std::lock_guard<std::mutex> lock(mu_);
  scanners_.clear();
  ssh_ = nullptr;
}

core::RunReport Verify(const VerifyOptions& o, core::VerdictSink* sink,
                       Canceller* canceller) {
  core::Clock& clock = core::SystemClock();
  core::RunReport report;
  report.mode = o.scan.mode;
  report.hash = o.scan.hash;
  report.started_ms = clock.NowEpochMillis();
  auto fail = [&](const core::Error& e) {
    if (canceller != nullptr) canceller->DetachAll();
    report.completed = false;
    report.error_msg = canceller != nullptr && canceller->cancelled()
                           ? "verification cancelled"
                           : e.message;
    report.finished_ms = clock.NowEpochMillis();
    return report;
  };
  RaiseFileLimit();

  auto dirs = core::NormalizeDirs(o.dirs);
  if (!dirs) return fail(dirs.error());
  const std::string source_root = StripTrailingSlashes(o.source);
  if (auto ok = CheckRoot("source", o.source); !ok) return fail(ok.error());

  core::ManifestParams params{o.scan.mode, o.scan.hash, o.scan.chunk_size,
                              *dirs};
  core::ScanOptions scan = o.scan;
  if (o.only_paths) {
    scan.only_paths = o.only_paths;
  } else if (!o.only_paths_file.empty()) {
    PathSetBuilder builder(*dirs);
    auto run_ids = ReadPathList(o.only_paths_file, builder);
    if (!run_ids) return fail(run_ids.error());
    auto base = BaseRunOfList(o.only_paths_file, *run_ids, o.base_run_id);
    if (!base) return fail(base.error());
    report.base_run_id = std::move(base->run_id);
    if (!base->warning.empty()) report.warnings.push_back(base->warning);
    if (builder.ignored() > 0) {
      report.warnings.push_back(
          fmt::format("{}: {} path(s) outside the verified directories ignored",
                      o.only_paths_file, builder.ignored()));
    }
    scan.only_paths = std::make_shared<const PathSets>(builder.Build());
  }
  // A check of a list's paths is a re-check: its counters cover them only.
  report.scope =
      o.scope.empty() && !o.only_paths_file.empty() ? "inconsistent" : o.scope;
  // Each local side has its own cache file, named after its tree.
  auto scan_for = [&](const char* role, const std::string& root) {
    core::ScanOptions side = scan;
    if (!o.cache_dir.empty() && !side.only_paths) {
      side.cache_path = core::CacheFilePath(o.cache_dir, role,
                                            core::CanonicalRoot(root), *dirs);
    }
    return side;
  };
  std::unique_ptr<core::Scanner> local_target;
  std::unique_ptr<SshTarget> ssh_target;
  core::EntryStream* target = nullptr;
  if (o.target.rfind("ssh://", 0) == 0) {
    auto url = ParseSshUrl(o.target);
    if (!url) return fail(url.error());
    auto started = SshTarget::Start(*url, o.ssh, params, scan);
    if (!started) return fail(started.error());
    ssh_target = std::move(*started);
    target = &ssh_target->stream();
  } else {
    std::string target_path = o.target;
    if (target_path.rfind("file://", 0) == 0)
      target_path = target_path.substr(7);
    if (auto ok = CheckRoot("target", target_path); !ok)
      return fail(ok.error());
    local_target = std::make_unique<core::Scanner>(
        core::PosixFileSystem(), clock, StripTrailingSlashes(target_path),
        *dirs, scan_for("target", target_path));
    target = local_target.get();
  }
  core::Scanner source(core::PosixFileSystem(), clock, source_root, *dirs,
                       scan_for("source", o.source));

  if (canceller != nullptr) {
    canceller->Attach(&source);
    if (local_target) canceller->Attach(local_target.get());
    if (ssh_target) canceller->Attach(ssh_target.get());
  }
  std::optional<ProgressLine> progress;
  if (o.progress && isatty(2)) {
    const uint64_t expected = *dirs == std::vector<std::string>{"/"}
                                  ? EstimateEntries(source_root)
                                  : 0;
    progress.emplace(&source.progress(),
                     local_target ? &local_target->progress() : nullptr,
                     expected);
  }
  core::Marcher marcher(source, *target, *dirs,
                        {.mode = o.scan.mode, .metadata = o.metadata}, sink);
  auto results = marcher.Run();
  // Nothing left to stop once the march is over (and ssh is reaped below).
  if (canceller != nullptr) canceller->DetachAll();
  progress.reset();
  TakeWarnings(source, "source", report.warnings);
  if (local_target) TakeWarnings(*local_target, "target", report.warnings);
  if (ssh_target) {
    auto finished = ssh_target->Finish(results ? nullptr : &results.error());
    if (!finished) return fail(finished.error());
    const RemoteAgent& agent = ssh_target->remote_agent();
    if (agent.path != o.ssh.remote_agent && !agent.installed_version.empty()) {
      // Never silently: the target's own agent was passed over.
      report.warnings.push_back("target: " + agent.note);
    }
    // The remote agent's warnings (its hash cache) come on its stderr.
    const std::string& text = ssh_target->stderr_text();
    size_t begin = 0;
    while (begin < text.size()) {
      size_t end = text.find('\n', begin);
      if (end == std::string::npos) end = text.size();
      const std::string line = text.substr(begin, end - begin);
      if (const size_t w = line.find("warning: "); w != std::string::npos) {
        report.warnings.push_back("target: " + line.substr(w + 9));
      }
      begin = end + 1;
    }
  }
  if (!results) return fail(results.error());
  report.dirs = std::move(*results);
  report.completed = true;
  report.finished_ms = clock.NowEpochMillis();
  return report;
}

int RunVerify(const VerifyOptions& o, AdhocUpload* upload) {
  FILE* list = nullptr;
  std::optional<core::ListWriter> writer;
  if (!o.list_path.empty()) {
    list = o.list_path == "-" ? stdout : fopen(o.list_path.c_str(), "we");
    if (list == nullptr) {
      fmt::print(stderr, "sms-agent: cannot write list {}: {}\n", o.list_path,
                 core::ErrnoText(errno));
      return kExitError;
    }
    writer.emplace(list, o.list_format,
                   upload != nullptr ? upload->run_id() : "");
  }
  std::vector<core::VerdictSink*> sinks;
  if (writer) sinks.push_back(&*writer);
  if (upload != nullptr) sinks.push_back(upload->sink());
  core::TeeSink tee(sinks);
  core::RunReport report = Verify(o, sinks.empty() ? nullptr : &tee);
  for (const auto& w : report.warnings) {
    fmt::print(stderr, "sms-agent: warning: {}\n", w);
  }
  bool list_ok = true;
  if (writer) {
    list_ok = writer->Flush();
    writer.reset();
    if (list != stdout) list_ok = fclose(list) == 0 && list_ok;
  }
  // A check that could not be done has no summary to show: its error is
  // printed once, below. --json still prints its object (with check_result
  // "failed" and error_msg), for the programs that read it.
  if (o.json) {
    fmt::print("{}\n", core::RunReportJson(report));
  } else if (o.list_path != "-" && report.completed) {
    fmt::print("{}", core::RunReportText(report));
  }
  fflush(stdout);
  if (upload != nullptr) {
    auto run_id = upload->Finish(report);
    if (!run_id) {
      fmt::print(stderr, "sms-agent: upload failed: {}\n",
                 run_id.error().message);
      return kExitError;
    }
    fmt::print(stderr, "sms-agent: uploaded run {}\n", *run_id);
  }
  if (!report.completed) {
    fmt::print(stderr, "sms-agent: {}\n", report.error_msg);
    return kExitError;
  }
  if (!list_ok) {
    fmt::print(stderr, "sms-agent: writing the list {} failed\n", o.list_path);
    return kExitError;
  }
  bool dir_error = false;
  for (const auto& d : report.dirs) {
    if (!d.error.empty()) {
      fmt::print(stderr, "sms-agent: {}: {}\n", d.dir_check, d.error);
      dir_error = true;
    }
  }
  if (dir_error) return kExitError;
  return report.consistent() ? kExitConsistent : kExitDifferent;
}

int RunManifest(const ManifestOptions& o) {
  RaiseFileLimit();
  auto dirs = core::NormalizeDirs(o.dirs);
  core::ManifestParams params{o.scan.mode, o.scan.hash, o.scan.chunk_size,
                              dirs ? *dirs : std::vector<std::string>{}};
  if (!dirs) {
    fmt::print(stderr, "sms-agent manifest: {}\n", dirs.error().message);
    return kExitError;
  }
  if (auto ok = CheckRoot("root", o.root); !ok) {
    fmt::print(stderr, "sms-agent manifest: {}\n", ok.error().message);
    return kExitError;
  }
  core::ScanOptions scan = o.scan;
  if (o.only_paths_stdin) {
    std::string bytes;
    char buf[65536];
    for (;;) {
      ssize_t n = read(0, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        fmt::print(stderr, "sms-agent manifest: reading --only-paths: {}\n",
                   core::ErrnoText(errno));
        return kExitError;
      }
      if (n == 0) break;
      bytes.append(buf, static_cast<size_t>(n));
    }
    auto sets = DecodePathSets(bytes);
    if (!sets) {
      fmt::print(stderr, "sms-agent manifest: {}\n", sets.error().message);
      return kExitError;
    }
    scan.only_paths = std::make_shared<const PathSets>(std::move(*sets));
  } else if (!o.cache_dir.empty()) {
    scan.cache_path = core::CacheFilePath(ExpandHome(o.cache_dir), "target",
                                          core::CanonicalRoot(o.root), *dirs);
  }
  core::Scanner scanner(core::PosixFileSystem(), core::SystemClock(),
                        StripTrailingSlashes(o.root), *dirs, scan);
  auto written = core::WriteManifest(scanner, params, 1);
  for (const auto& w : scanner.TakeWarnings()) {
    fmt::print(stderr, "sms-agent manifest: warning: {}\n", w);
  }
  if (!written) {
    fmt::print(stderr, "sms-agent manifest: {}\n", written.error().message);
    return kExitError;
  }
  return kExitConsistent;
}

}  // namespace sms::agent
