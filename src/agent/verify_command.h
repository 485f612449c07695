// `sms-agent verify` and `sms-agent manifest`: the command-line faces of the
// verification engine.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "agent/path_list.h"
#include "agent/ssh_target.h"
#include "core/report.h"
#include "core/scanner.h"

namespace sms::agent {

// Exit codes, as diff(1) and `rclone check`.
inline constexpr int kExitConsistent = 0;
inline constexpr int kExitDifferent = 1;
inline constexpr int kExitError = 2;

struct VerifyOptions {
  std::string source;
  std::string target;  // a local path or ssh://...
  std::vector<std::string> dirs;
  core::ScanOptions scan;
  bool metadata = false;
  bool json = false;
  std::string list_path;  // "" none, "-" stdout
  core::ListFormat list_format = core::ListFormat::kText;
  SshOptions ssh;
  bool progress = true;  // shown only when stderr is a terminal
  // The hash caches of the local sides live in `cache_dir` ("" = no cache;
  // scan.cache_policy says how they are used). An ssh:// target keeps its
  // own when ssh.remote_cache_dir is set.
  std::string cache_dir;
  // Check only the paths of this list file (path_list.h), or of
  // `only_paths` (already sorted into this check's sections).
  std::string only_paths_file;
  std::shared_ptr<const PathSets> only_paths;
  std::string scope;  // RunReport::scope
  // With only_paths_file: the run whose differences the list holds
  // (RunReport::base_run_id). "" takes the run the list's JSON lines name.
  std::string base_run_id;
};

class AdhocUpload;

// Runs a verification and prints its report; with `upload`, also uploads the
// run to a task. Returns an exit code.
int RunVerify(const VerifyOptions& options, AdhocUpload* upload = nullptr);

// Canceller: lets another thread stop a running Verify() promptly (the
// daemon's STOP command, SIGTERM).
// Thread-safety: Cancel() from any thread.
class Canceller final {
 public:
  void Cancel();
  bool cancelled();

  // Used by Verify() to register what must be stopped.
  void Attach(core::Scanner* scanner);
  void Attach(SshTarget* target);
  void DetachAll();

 private:
  std::mutex mu_;
  bool cancelled_ = false;                // Guarded by mu_.
  std::vector<core::Scanner*> scanners_;  // Guarded by mu_.
  SshTarget* ssh_ = nullptr;              // Guarded by mu_.
};

// The engine behind RunVerify, for callers that want the report itself
// (the daemon): runs the check and returns the report; `sink` (optional)
// receives every verdict; `canceller` (optional) can stop it. A run that
// could not complete has completed == false and error_msg set.
core::RunReport Verify(const VerifyOptions& options, core::VerdictSink* sink,
                       Canceller* canceller = nullptr);

struct ManifestOptions {
  std::string root;
  std::vector<std::string> dirs;
  core::ScanOptions scan;
  std::string cache_dir;          // "" none; a leading "~/" is $HOME
  bool only_paths_stdin = false;  // read EncodePathSets() bytes from stdin
};

// Walks and hashes `root` and writes the manifest stream to stdout.
int RunManifest(const ManifestOptions& options);

}  // namespace sms::agent
