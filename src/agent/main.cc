// sms-agent: the composition root of the agent binary. Parses the command
// line and hands over to the commands; nothing else lives here.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "agent/verify_command.h"

namespace {

constexpr const char* kVersion = "0.1.0";

using sms::agent::kExitError;

// Adds the options both sides of a verification share.
void AddScanOptions(CLI::App* cmd, sms::core::ScanOptions& scan,
                    std::string& mode, std::string& hash) {
  cmd->add_option("--mode", mode,
                  "hash: compare content digests (default); quick: size + "
                  "mtime only, no reads")
      ->check(CLI::IsMember({"hash", "quick"}));
  cmd->add_option("--hash", hash, "digest: xxh128 (default) or sha256")
      ->check(CLI::IsMember({"xxh128", "sha256"}));
  cmd->add_option("--exclude", scan.excludes,
                  "skip paths matching GLOB (a pattern without '/' matches "
                  "names at any depth); repeatable");
  cmd->add_option("--threads", scan.threads,
                  "hash workers per side (default: one per core)")
      ->check(CLI::Range(1, 256));
}

sms::core::Status ApplyScanOptions(sms::core::ScanOptions& scan,
                                   const std::string& mode,
                                   const std::string& hash) {
  scan.mode = mode == "quick" ? sms::core::CompareMode::kQuick
                              : sms::core::CompareMode::kHash;
  auto algorithm = sms::core::ParseHashAlgorithm(hash);
  if (!algorithm) {
    return sms::core::Fail(
        sms::core::InvalidArgument("--hash must be xxh128 or sha256"));
  }
  scan.hash = *algorithm;
  return sms::core::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "sms-agent: verifies that a migrated server's target holds the same "
      "data as its source"};
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);

  // verify
  sms::agent::VerifyOptions verify;
  std::string verify_mode = "hash", verify_hash = "xxh128";
  double io_limit_mb = 0;
  std::string list_format = "text";
  bool no_progress = false;
  CLI::App* verify_cmd = app.add_subcommand(
      "verify",
      "compare SOURCE with TARGET (a directory, or ssh://[user@]host[:port]/"
      "path); exit 0 consistent, 1 differences, 2 error");
  verify_cmd->add_option("SOURCE", verify.source, "source root directory")
      ->required();
  verify_cmd
      ->add_option("TARGET", verify.target,
                   "target root: a directory, file:///dir or "
                   "ssh://[user@]host[:port]/dir")
      ->required();
  verify_cmd->add_option("--dir", verify.dirs,
                         "absolute directory under both roots to verify, with "
                         "its own counters; repeatable (default: /)");
  AddScanOptions(verify_cmd, verify.scan, verify_mode, verify_hash);
  verify_cmd
      ->add_option("--io-limit", io_limit_mb,
                   "read cap per side in MB/s (0: none)")
      ->check(CLI::Range(0.0, 1e6));
  verify_cmd->add_flag("--metadata", verify.metadata,
                       "also compare mode, owner and mtime "
                       "(metadata_different)");
  verify_cmd->add_flag("--json", verify.json,
                       "print the report as one JSON object");
  verify_cmd->add_option("--list", verify.list_path,
                         "write the per-path list to FILE ('-': stdout)");
  verify_cmd
      ->add_option("--list-format", list_format,
                   "text (sigils = * - + ~ ! %), jsonl or csv")
      ->check(CLI::IsMember({"text", "jsonl", "csv"}));
  verify_cmd->add_option("--remote-agent", verify.ssh.remote_agent,
                         "path of sms-agent on an ssh:// target "
                         "(default: sms-agent on its PATH)");
  verify_cmd
      ->add_option("--ssh-option", verify.ssh.ssh_options,
                   "extra argument for ssh (e.g. --ssh-option=-F "
                   "--ssh-option=cfg); repeatable")
      ->allow_extra_args(false);
  verify_cmd->add_flag("--no-progress", no_progress,
                       "no progress line on a terminal");

  // manifest
  sms::agent::ManifestOptions manifest;
  std::string manifest_mode = "hash", manifest_hash = "xxh128";
  uint64_t io_limit_bytes = 0;
  CLI::App* manifest_cmd = app.add_subcommand(
      "manifest",
      "walk and hash ROOT and write its manifest stream to stdout (what "
      "verify runs on an ssh:// target)");
  manifest_cmd->add_option("ROOT", manifest.root, "root directory")->required();
  manifest_cmd->add_option("--dir", manifest.dirs, "directory to walk");
  AddScanOptions(manifest_cmd, manifest.scan, manifest_mode, manifest_hash);
  manifest_cmd->add_option("--chunk-size", manifest.scan.chunk_size,
                           "bytes per hashed chunk of large files");
  manifest_cmd->add_option("--io-limit-bytes", io_limit_bytes,
                           "read cap in bytes per second (0: none)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitError;
  }

  if (*verify_cmd) {
    if (auto ok = ApplyScanOptions(verify.scan, verify_mode, verify_hash);
        !ok) {
      fprintf(stderr, "sms-agent: %s\n", ok.error().message.c_str());
      return kExitError;
    }
    verify.scan.io_limit = static_cast<uint64_t>(io_limit_mb * 1e6);
    verify.list_format = list_format == "jsonl" ? sms::core::ListFormat::kJsonl
                         : list_format == "csv" ? sms::core::ListFormat::kCsv
                                                : sms::core::ListFormat::kText;
    verify.progress = !no_progress && !verify.json;
    return sms::agent::RunVerify(verify);
  }
  if (*manifest_cmd) {
    if (auto ok = ApplyScanOptions(manifest.scan, manifest_mode, manifest_hash);
        !ok) {
      fprintf(stderr, "sms-agent: %s\n", ok.error().message.c_str());
      return kExitError;
    }
    manifest.scan.io_limit = io_limit_bytes;
    return sms::agent::RunManifest(manifest);
  }
  return kExitError;
}
