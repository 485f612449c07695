// sms-agent: the composition root of the agent binary. Parses the command
// line and hands over to the commands; nothing else lives here.
#include <signal.h>
#include <strings.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <string>
#include <thread>

#include "agent/adhoc_upload.h"
#include "agent/agent_config.h"
#include "agent/daemon.h"
#include "agent/http_client.h"
#include "agent/server_client.h"
#include "agent/verify_command.h"
#include "cli/cli_docs.h"
#include "cli/version.h"

extern char** environ;

namespace {

using sms::agent::kExitError;

// The hash cache's flags of verify and manifest.
struct CacheFlags {
  std::string rehash_fraction = "0.01";
  std::string max_age = "30d";
};

void AddCachePolicyOptions(CLI::App* cmd, CacheFlags& flags) {
  cmd->add_option("--rehash-fraction", flags.rehash_fraction,
                  "fraction of cached digests read again anyway, to find "
                  "silent corruption (0..1 or N%; default 0.01)")
      ->type_name("F");
  cmd->add_option("--cache-max-age", flags.max_age,
                  "cached digests older than this are read again (30d, 12h, "
                  "3600; 0: no limit; at most 36500d; default 30d)")
      ->type_name("AGE");
}

sms::core::Status ApplyCachePolicy(const CacheFlags& flags,
                                   sms::core::CachePolicy& policy) {
  SMS_ASSIGN_OR_RETURN(
      policy.rehash_fraction,
      sms::agent::ParseFraction(flags.rehash_fraction, "--rehash-fraction"));
  SMS_ASSIGN_OR_RETURN(int64_t seconds, sms::agent::ParseDurationSeconds(
                                            flags.max_age, "--cache-max-age"));
  policy.max_age_ns = seconds * 1'000'000'000;
  return sms::core::Ok();
}

// Adds the options both sides of a verification share.
void AddScanOptions(CLI::App* cmd, sms::core::ScanOptions& scan,
                    std::string& mode, std::string& hash) {
  cmd->add_option("--mode", mode,
                  "hash: compare content digests (default); quick: size + "
                  "mtime only, no reads")
      ->type_name("hash|quick")
      ->check(CLI::IsMember({"hash", "quick"}));
  cmd->add_option("--hash", hash, "digest: xxh128 (default) or sha256")
      ->type_name("xxh128|sha256")
      ->check(CLI::IsMember({"xxh128", "sha256"}));
  cmd->add_option("--exclude", scan.excludes,
                  "skip paths matching GLOB (a pattern without '/' matches "
                  "names at any depth); repeatable")
      ->type_name("GLOB");
  cmd->add_option("--threads", scan.threads,
                  "hash workers per side, 1..256 (default: one per core)")
      ->type_name("N")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--spill-dir", scan.spill_dir,
                  "where a directory of more entries than --spill-threshold "
                  "is sorted, through a temp file without a name (default: "
                  "$TMPDIR, else /tmp; an ssh:// target uses --remote-tmp)")
      ->type_name("DIR");
  cmd->add_option("--spill-threshold", scan.spill_threshold,
                  "entries of one directory sorted in memory; a larger "
                  "directory is sorted in runs of N spilled to --spill-dir "
                  "and merged (1..1000000000, default " +
                      std::to_string(sms::core::kDefaultSpillThreshold) + ")")
      ->type_name("N")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000'000}));
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

// The agent's configuration: file < environment < flags. A missing file is
// fine unless it was named explicitly.
sms::core::Result<sms::agent::AgentConfig> LoadAgentConfig(
    const std::string& config_path, bool config_given,
    const std::map<std::string, std::string>& flags) {
  sms::agent::AgentConfig config;
  if (auto text = sms::agent::ReadWholeFile(config_path); text) {
    SMS_ASSIGN_OR_RETURN(auto values,
                         sms::agent::ParseConfigText(*text, config_path));
    SMS_RETURN_IF_ERROR(sms::agent::ApplyConfig(values, config_path, config));
  } else if (config_given) {
    return sms::core::Fail(text.error());
  }
  SMS_RETURN_IF_ERROR(
      sms::agent::ApplyConfig(sms::agent::ConfigFromEnvironment(environ),
                              "environment (SMS_AGENT_*)", config));
  SMS_RETURN_IF_ERROR(sms::agent::ApplyConfig(flags, "command line", config));
  return config;
}

// `sms-agent run`: the daemon until SIGTERM or SIGINT.
int RunDaemon(const std::string& config_path, bool config_given,
              const std::map<std::string, std::string>& flags) {
  auto loaded = LoadAgentConfig(config_path, config_given, flags);
  if (!loaded) {
    fprintf(stderr, "sms-agent: %s\n", loaded.error().message.c_str());
    return kExitError;
  }
  const sms::agent::AgentConfig& config = *loaded;
  if (auto ok = sms::agent::ValidateConfig(config); !ok) {
    fprintf(stderr, "sms-agent: %s\n", ok.error().message.c_str());
    return kExitError;
  }
  // Signals are taken by one thread with sigwait; every other thread
  // inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto http = sms::agent::NewCurlHttpClient(config.ca_file, 120);
  sms::agent::ServerClient client(*http, sms::core::SystemClock(), config);
  sms::agent::Daemon daemon(config, client, sms::core::SystemClock());
  std::thread signal_thread([&daemon, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != 0) {
      sms::agent::LogEvent("info", std::string("received ") +
                                       (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                                       ", stopping");
      daemon.Stop();
    }
  });
  const int code = daemon.Run();
  // Wake the signal thread if the daemon ended on its own.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  return code;
}

// The manual's sections that the option definitions do not hold.
sms::cli::DocExtras ManualExtras() {
  return {{
      {"EXIT STATUS",
       "verify: 0 consistent, 1 differences found, 2 the check could not be "
       "done (bad arguments, an unreadable root, an ssh failure, a "
       "directory missing on the source), as diff(1) and `rclone check`. "
       "manifest: 0, or 2 on an error. run: 0 when stopped by SIGTERM or "
       "SIGINT, 2 on a bad configuration."},
      {"ENVIRONMENT",
       "SMS_AGENT_KEY (upper case, '-' as '_'): the settings of run, and "
       "the credentials of verify --server (SMS_AGENT_AK, SMS_AGENT_SK, "
       "SMS_AGENT_TOKEN); flags win over the environment, which wins over "
       "the configuration file.\n\n"
       "SMS_AGENT_IO_URING=0: read small files with plain system calls "
       "instead of io_uring (also off, false, no; 1, on, true, yes or unset: "
       "io_uring where the kernel has it; another word is refused).\n\n"
       "http_proxy, https_proxy, all_proxy, no_proxy: the proxies of the "
       "server's URL, as curl reads them. SSL_CERT_FILE, SSL_CERT_DIR: the "
       "CA store when ca-file is not set."},
      {"FILES",
       "/etc/sms-agent/agent.conf: the configuration of run (and of verify "
       "--server), one `key = value` a line.\n\n"
       "/var/lib/sms-agent: the state directory (source id, spool, hash "
       "caches).\n\n"
       "sms-agent-static beside the binary, or "
       "../libexec/sms-agent/sms-agent-static: the static agent that "
       "--push-agent copies."},
      {"EXAMPLES",
       "    sms-agent verify /srv/source /mnt/target\n"
       "    sms-agent verify / ssh://root@10.0.0.5/ --dir /etc --dir "
       "/var/www --json --list diffs.jsonl --list-format jsonl\n"
       "    sms-agent verify --push-agent /srv ssh://root@10.0.0.7/srv\n"
       "    sms-agent run --config /etc/sms-agent/agent.conf"},
      {"SEE ALSO", "sms-server(1), ssh(1), the README of sms-consistency."},
  }};
}

}  // namespace

// SMS_AGENT_IO_URING (docs: README) is read deep in the file system layer;
// a word it does not know must not silently leave io_uring on.
static bool IoUringVariableIsValid() {
  const char* v = getenv("SMS_AGENT_IO_URING");
  if (v == nullptr) return true;
  for (const char* word :
       {"0", "1", "off", "on", "false", "true", "no", "yes", ""}) {
    if (strcasecmp(v, word) == 0) return true;
  }
  fprintf(stderr,
          "sms-agent: SMS_AGENT_IO_URING: '%s': expected 0 (plain system "
          "calls) or 1 (io_uring where the kernel has it, the default)\n",
          v);
  return false;
}

int main(int argc, char** argv) {
  if (!IoUringVariableIsValid()) return kExitError;
  CLI::App app{
      "sms-agent: verifies that a migrated server's target holds the same "
      "data as its source",
      "sms-agent"};
  app.require_subcommand(1);
  app.set_version_flag("--version", sms::cli::VersionLine("sms-agent"),
                       "print the version and the commit it was built from");

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
      ->type_name("DIR")
      ->required();
  verify_cmd
      ->add_option("TARGET", verify.target,
                   "target root: a directory, file:///dir or "
                   "ssh://[user@]host[:port]/dir")
      ->type_name("DIR|URL")
      ->required();
  verify_cmd
      ->add_option("--dir", verify.dirs,
                   "absolute directory under both roots to verify, with "
                   "its own counters; repeatable (default: /)")
      ->type_name("DIR");
  AddScanOptions(verify_cmd, verify.scan, verify_mode, verify_hash);
  verify_cmd
      ->add_option("--io-limit", io_limit_mb,
                   "read cap per side in MB/s, 0..1000000 (0: none)")
      ->type_name("MB/s")
      ->check(CLI::Range(0.0, 1e6));
  verify_cmd->add_flag("--metadata", verify.metadata,
                       "also compare mode, owner and mtime "
                       "(metadata_different)");
  verify_cmd->add_flag("--json", verify.json,
                       "print the report as one JSON object");
  verify_cmd
      ->add_option("--list", verify.list_path,
                   "write the per-path list to FILE ('-': stdout)")
      ->type_name("FILE");
  verify_cmd
      ->add_option("--list-format", list_format,
                   "text (sigils = * - + ~ ! % #), jsonl or csv")
      ->type_name("text|jsonl|csv")
      ->check(CLI::IsMember({"text", "jsonl", "csv"}));
  verify_cmd
      ->add_option("--remote-agent", verify.ssh.remote_agent,
                   "path of sms-agent on an ssh:// target "
                   "(default: sms-agent on its PATH)")
      ->type_name("PATH");
  verify_cmd->add_flag("--push-agent", verify.ssh.push_agent,
                       "when the ssh:// target has no sms-agent of this "
                       "version, copy the static agent there for this check "
                       "and remove it afterwards");
  verify_cmd
      ->add_option("--static-agent", verify.ssh.static_agent,
                   "the agent --push-agent copies (default: "
                   "sms-agent-static next to this binary)")
      ->type_name("PATH")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  verify_cmd
      ->add_option("--remote-tmp", verify.ssh.remote_tmp,
                   "directory on the target for a pushed agent and for "
                   "the temp files of its huge directories (default: the "
                   "remote $TMPDIR, else /tmp)")
      ->type_name("DIR");
  verify_cmd
      ->add_option("--ssh-option", verify.ssh.ssh_options,
                   "extra argument for ssh (e.g. --ssh-option=-F "
                   "--ssh-option=cfg); repeatable")
      ->type_name("OPT")
      ->allow_extra_args(false);
  verify_cmd->add_flag("--no-progress", no_progress,
                       "no progress line on a terminal");
  CacheFlags verify_cache;
  bool no_cache = false;
  std::string remote_cache_dir;
  verify_cmd
      ->add_option("--cache-dir", verify.cache_dir,
                   "keep each local side's hash cache in DIR, so a "
                   "repeated check reads only what changed (default: "
                   "no cache)")
      ->type_name("DIR");
  verify_cmd->add_flag("--no-cache", no_cache,
                       "read every file; neither use nor update a cache");
  CLI::Option* remote_cache_opt =
      verify_cmd
          ->add_option("--remote-cache-dir", remote_cache_dir,
                       "hash cache directory on an ssh:// target (default "
                       "with --cache-dir: ~/.cache/sms-agent of the remote "
                       "user)")
          ->type_name("DIR");
  AddCachePolicyOptions(verify_cmd, verify_cache);
  CLI::Option* only_paths_opt =
      verify_cmd
          ->add_option("--only-paths", verify.only_paths_file,
                       "check only the paths listed in FILE (a list "
                       "written by --list: text or jsonl; or one path "
                       "relative to the root a line): a re-check, of scope "
                       "inconsistent")
          ->type_name("FILE");
  verify_cmd
      ->add_option("--base-run-id", verify.base_run_id,
                   "with --only-paths: the run whose differences the list "
                   "holds, uploaded as the re-check's base_run_id (default: "
                   "the run_id of a jsonl list's lines)")
      ->type_name("RUN_ID")
      ->needs(only_paths_opt);
  std::string upload_server, upload_task,
      upload_config = "/etc/sms-agent/agent.conf";
  std::string upload_state_dir;
  verify_cmd
      ->add_option("--server", upload_server,
                   "also upload the run to this sms-server (with --task; "
                   "credentials from the agent's configuration file or "
                   "SMS_AGENT_AK/SK/TOKEN)")
      ->type_name("URL");
  verify_cmd->add_option("--task", upload_task, "the task to upload the run to")
      ->type_name("ID");
  CLI::Option* upload_config_opt =
      verify_cmd
          ->add_option("--config", upload_config,
                       "agent configuration file for --server (default "
                       "/etc/sms-agent/agent.conf)")
          ->type_name("FILE");
  verify_cmd
      ->add_option("--state-dir", upload_state_dir,
                   "spool of --server uploads (default: the agent's)")
      ->type_name("DIR");

  // manifest
  sms::agent::ManifestOptions manifest;
  std::string manifest_mode = "hash", manifest_hash = "xxh128";
  uint64_t io_limit_bytes = 0;
  CLI::App* manifest_cmd = app.add_subcommand(
      "manifest",
      "walk and hash ROOT and write its manifest stream to stdout (what "
      "verify runs on an ssh:// target)");
  manifest_cmd->add_option("ROOT", manifest.root, "root directory")
      ->type_name("DIR")
      ->required();
  manifest_cmd->add_option("--dir", manifest.dirs, "directory to walk")
      ->type_name("DIR");
  AddScanOptions(manifest_cmd, manifest.scan, manifest_mode, manifest_hash);
  manifest_cmd
      ->add_option("--chunk-size", manifest.scan.chunk_size,
                   "bytes per hashed chunk of large files, 4096..2^40 "
                   "(default 67108864; verify sends its own)")
      ->type_name("BYTES")
      ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 40));
  manifest_cmd
      ->add_option("--io-limit-bytes", io_limit_bytes,
                   "read cap in bytes per second, 0..10^12 (0: none)")
      ->type_name("BYTES")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1'000'000'000'000}));
  CacheFlags manifest_cache;
  manifest_cmd
      ->add_option("--cache-dir", manifest.cache_dir,
                   "keep this side's hash cache in DIR ('~/' is $HOME)")
      ->type_name("DIR");
  AddCachePolicyOptions(manifest_cmd, manifest_cache);
  std::string manifest_only_paths;
  manifest_cmd
      ->add_option("--only-paths", manifest_only_paths,
                   "'-': walk only the paths sent on stdin (what verify "
                   "--only-paths sends)")
      ->type_name("-")
      ->check(CLI::IsMember({"-"}));

  // run
  std::map<std::string, std::string> run_flags;
  std::string config_path = "/etc/sms-agent/agent.conf";
  CLI::App* run_cmd = app.add_subcommand(
      "run",
      "the agent service: register this source, poll the server for "
      "commands, run checks and upload their results");
  CLI::Option* config_opt =
      run_cmd
          ->add_option("--config", config_path,
                       "configuration file of `key = value` lines (default "
                       "/etc/sms-agent/agent.conf; skipped when absent)")
          ->type_name("FILE");
  struct FlagSpec {
    const char* key;
    const char* value;  // the metavariable: cli_docs.h's conventions
    const char* help;
  };
  static const FlagSpec kRunFlags[] = {
      {"server", "URL", "server base URL (http:// or https://)"},
      {"ak", "AK", "access key for AK/SK signing"},
      {"sk", "SK",
       "secret key (prefer the file or SMS_AGENT_SK: flags show in ps)"},
      {"token", "TOKEN", "X-Auth-Token instead of AK/SK"},
      {"ca-file", "FILE", "CA bundle to verify the server's certificate"},
      {"state-dir", "DIR", "source id and spool (default /var/lib/sms-agent)"},
      {"name", "NAME", "the source's name (default: the hostname)"},
      {"poll-interval", "SECONDS",
       "seconds between polls, also the heartbeat, 0.1..3600 (default 5)"},
      {"source-root", "DIR", "where the task's directories live (default /)"},
      {"ssh-config", "FILE", "ssh_config file (ssh -F) for ssh:// targets"},
      {"remote-agent", "PATH",
       "sms-agent on ssh:// targets (default: on PATH)"},
      {"push-agent", "on|off",
       "copy the static agent to ssh:// targets that lack this "
       "version (default off; a task's CONSISTENCY_PUSH_AGENT overrides)"},
      {"static-agent", "PATH",
       "the agent push-agent copies (default: sms-agent-static next to "
       "this binary)"},
      {"remote-tmp", "DIR",
       "directory on ssh:// targets for a pushed agent and for the temp "
       "files of their huge directories (default: the remote $TMPDIR, else "
       "/tmp)"},
      {"spill-dir", "DIR",
       "where the local sides sort a directory of more than 100000 "
       "entries, through a temp file without a name (default: $TMPDIR, "
       "else /tmp; ssh:// targets use remote-tmp)"},
      {"cache", "on|off",
       "keep a hash cache per task and side under the state "
       "directory (default on)"},
      {"remote-cache-dir", "DIR",
       "hash cache directory on ssh:// targets (default ~/.cache/sms-agent)"},
      {"rehash-fraction", "F",
       "fraction of cached digests read again anyway, 0..1 or N% (default "
       "0.01)"},
      {"cache-max-age", "AGE",
       "cached digests older than this are read again (0: no limit; at most "
       "36500d; default 30d)"},
  };
  std::map<std::string, std::string> run_values;
  for (const auto& f : kRunFlags) {
    run_cmd->add_option(std::string("--") + f.key, run_values[f.key], f.help)
        ->type_name(f.value);
  }
  sms::cli::AddGenerateDocsOption(app, ManualExtras());

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
    if (auto ok = ApplyCachePolicy(verify_cache, verify.scan.cache_policy);
        !ok) {
      fprintf(stderr, "sms-agent: %s\n", ok.error().message.c_str());
      return kExitError;
    }
    if (no_cache) {
      verify.cache_dir.clear();
    } else if (!verify.cache_dir.empty() || remote_cache_opt->count() > 0) {
      verify.ssh.remote_cache_dir =
          remote_cache_dir.empty() ? "~/.cache/sms-agent" : remote_cache_dir;
    }
    if (upload_server.empty() != upload_task.empty()) {
      fprintf(stderr, "sms-agent: --server and --task go together\n");
      return kExitError;
    }
    if (upload_server.empty()) return sms::agent::RunVerify(verify);
    std::map<std::string, std::string> flags = {{"server", upload_server}};
    if (!upload_state_dir.empty()) flags["state-dir"] = upload_state_dir;
    auto config =
        LoadAgentConfig(upload_config, upload_config_opt->count() > 0, flags);
    if (!config) {
      fprintf(stderr, "sms-agent: %s\n", config.error().message.c_str());
      return kExitError;
    }
    auto upload = sms::agent::AdhocUpload::Begin(*config, upload_task);
    if (!upload) {
      fprintf(stderr, "sms-agent: %s\n", upload.error().message.c_str());
      return kExitError;
    }
    return sms::agent::RunVerify(verify, upload->get());
  }
  if (*manifest_cmd) {
    if (auto ok = ApplyScanOptions(manifest.scan, manifest_mode, manifest_hash);
        !ok) {
      fprintf(stderr, "sms-agent: %s\n", ok.error().message.c_str());
      return kExitError;
    }
    manifest.scan.io_limit = io_limit_bytes;
    manifest.only_paths_stdin = manifest_only_paths == "-";
    if (auto ok = ApplyCachePolicy(manifest_cache, manifest.scan.cache_policy);
        !ok) {
      fprintf(stderr, "sms-agent: %s\n", ok.error().message.c_str());
      return kExitError;
    }
    return sms::agent::RunManifest(manifest);
  }
  if (*run_cmd) {
    for (const auto& f : kRunFlags) {
      if (run_cmd->count(std::string("--") + f.key) > 0) {
        run_flags[f.key] = run_values[f.key];
      }
    }
    return RunDaemon(config_path, config_opt->count() > 0, run_flags);
  }
  return kExitError;
}
