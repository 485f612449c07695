// sms-server: the composition root. `serve` runs the HTTP API; `admin`
// manages domains, users and credentials on the same database.
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>

#include "auth/secret_box.h"
#include "cli/cli_docs.h"
#include "cli/version.h"
#include "core/clock.h"
#include "server/admin.h"
#include "server/api.h"
#include "server/auth_service.h"
#include "server/config.h"
#include "server/export_service.h"
#include "server/heartbeats.h"
#include "server/hooks.h"
#include "server/http_server.h"
#include "server/json_fields.h"
#include "server/log_sink.h"
#include "server/metrics.h"
#include "server/open_store.h"
#include "server/periodic_worker.h"
#include "server/result_service.h"
#include "server/scheduler.h"
#include "server/static_files.h"
#include "server/task_service.h"
#include "storage/caching_store.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace sms::server {
std::string_view OpenApiJson();  // generated from docs/openapi.json
}

namespace {

using namespace sms;  // NOLINT: file-local, in a .cc
using server::json::object;

using server::FailWith;
using server::ServerConfig;

int Serve(const ServerConfig& cfg) {
  // Large responses (a 700 KB page of 100 runs) come from the heap and
  // stay there for the next request: glibc's default gives every buffer
  // over 128 KiB its own mmap, and each request then paid for the page
  // faults of fresh memory (server CPU per such GET 3.8-4.3 -> 2.6-2.8 ms;
  // peak RSS 37 -> 44 MB).
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // Both keep the hot reads in memory (caching_store.h). SQLite: this
  // process alone serves the database. PostgreSQL: replicas write the same
  // database, and each hears the others' writes through a listener of its
  // own (LISTEN/NOTIFY, postgres_store.h ChangeListener).
  const bool sqlite = !storage::IsPostgresConnectionString(cfg.db);
  std::unique_ptr<storage::SqliteServerLock> lock;
  if (sqlite) {
    auto path = server::SqlitePath(cfg.db);
    if (!path) return FailWith(path.error().message);
    auto held = storage::SqliteServerLock::Acquire(*path);
    if (!held) return FailWith(held.error().message);
    lock = std::move(*held);
  }
  auto store = server::OpenStore(cfg.db, cfg.db_pool_size, /*serving=*/true);
  if (!store)
    return FailWith("opening " + storage::RedactConnectionString(cfg.db) +
                    ": " + store.error().ToString());
  storage::CachingStore* cache = nullptr;
  std::unique_ptr<storage::ChangeListener> listener;  // before the cache ends
  if (sqlite) {
    auto cached = storage::NewCachingStore(std::move(*store));
    cache = cached.get();
    *store = std::move(cached);
  } else {
    auto cached = storage::NewSharedCachingStore(
        std::move(*store),
        {.clock = &core::SystemClock(), .max_lag_ms = cfg.cache_max_lag_ms});
    cache = cached.get();
    *store = std::move(cached);
    listener = storage::StartChangeListener(
        cfg.db, storage::PostgresOptions{}, *cache, core::SystemClock(),
        {.fence_interval_ms = cfg.cache_fence_interval_ms});
  }
  core::Clock& clock = core::SystemClock();
  auto secrets = server::LoadSecrets(cfg);
  if (!secrets) return FailWith(secrets.error().message);
  server::AuthOptions auth_options;
  auth_options.token_ttl_ms = cfg.token_ttl_hours * 3600 * 1000;
  auth_options.pbkdf2_iterations = cfg.pbkdf2_iterations;
  if (*secrets) auth_options.secrets = &**secrets;
  auto proxies = server::TrustedProxies::Parse(cfg.trusted_proxies);
  if (!proxies) return FailWith(proxies.error().message);
  auth_options.trusted_proxies = std::move(*proxies);
  server::AuthService auth(**store, clock, auth_options);
  auto schedule_settings = server::ScheduleSettings::FromEnvironment();
  if (!schedule_settings) return FailWith(schedule_settings.error().message);
  server::TaskService tasks(
      **store, clock,
      {.min_schedule_interval_ms = schedule_settings->min_interval_ms});
  server::ResultService results(**store, clock, tasks);
  server::ExportService exports(**store, tasks);
  server::Metrics metrics;
  if (cache != nullptr)
    metrics.SetReadCacheSource([cache] { return cache->Stats(); }, !sqlite);
  server::LogSink log_sink(STDERR_FILENO);
  if (!*secrets) {
    log_sink.WriteNow(server::ToJson(
        object{{"level", "warn"},
               {"msg",
                "new AK/SK and webhook secrets are stored in the clear: give "
                "every replica the same --secret-key-file (openssl rand -hex "
                "32) to seal them"}}));
  }
  // Issue 13: changes, webhooks (delivery worker), retention (worker).
  auto hooks = server::Hooks::Start(
      **store, clock, tasks,
      server::HooksSettings::FromConfig(cfg, *secrets ? &**secrets : nullptr),
      [&log_sink](const std::string& line) { log_sink.Write(line); });
  if (!hooks) return FailWith(hooks.error().ToString());
  // Issue 13.1: CONSISTENCY_SCHEDULE's ticks (server/scheduler.h).
  server::Scheduler scheduler(
      **store, clock, tasks, schedule_settings->scheduler,
      [&log_sink](const std::string& line) { log_sink.Write(line); });
  scheduler.Start();
  // Agents' heartbeats, flushed once a second in one statement (each
  // source at most every 30 s: server/heartbeats.h); used
  // signatures dropped once they leave the X-Sdk-Date window.
  server::Heartbeats heartbeats(**store, clock, cfg.heartbeat_write_ms);
  server::PeriodicWorker poll_upkeep(std::chrono::seconds(1));
  poll_upkeep.Start([&] {
    auto flushed = heartbeats.Flush();
    if (!flushed)
      log_sink.Write(server::ToJson(
          object{{"level", "warn"},
                 {"msg", "agent heartbeats not written, kept for the next try"},
                 {"error", flushed.error().ToString()}}));
    constexpr int kPurgeBatch = 10000;
    auto purged =
        (*store)->PurgeSignatures(clock.NowEpochMillis(), kPurgeBatch);
    return purged && *purged == kPurgeBatch;
  });
  // SQLite: the WAL checkpointed here, twice a second, instead of by the
  // commit of whichever request took it past 1000 pages (docs/server.md
  // "SQLite checkpoints").
  std::unique_ptr<storage::SqliteCheckpointer> checkpointer;
  server::PeriodicWorker checkpoints(std::chrono::milliseconds(500));
  if (sqlite) {
    auto path = server::SqlitePath(cfg.db);
    if (!path) return FailWith(path.error().message);
    auto opened = storage::SqliteCheckpointer::Open(*path, {});
    if (!opened) return FailWith(opened.error().ToString());
    checkpointer = std::move(*opened);
    checkpoints.Start([&] {
      auto done = checkpointer->Run();
      if (!done)
        log_sink.Write(server::ToJson(
            object{{"level", "warn"},
                   {"msg", "WAL checkpoint failed, tried again in 0.5 s"},
                   {"error", done.error().ToString()}}));
      return false;
    });
  }
  server::ApiDeps deps{store->get(),
                       &clock,
                       &auth,
                       &tasks,
                       &results,
                       &exports,
                       &metrics,
                       [&log_sink](const std::string& line) {
                         log_sink.Write(line); }};
  deps.changes = (*hooks)->changes();
  deps.webhooks = (*hooks)->webhooks();
  deps.heartbeats = &heartbeats;
  server::ApiOptions api_options;
  api_options.public_metrics = cfg.public_metrics;
  api_options.openapi_json = std::string(server::OpenApiJson());
  if (cfg.console_dir != "none") {
    api_options.console_dir =
        cfg.console_dir.empty() ? server::DefaultConsoleDir() : cfg.console_dir;
    struct stat st {};
    const bool found =
        !api_options.console_dir.empty() &&
        stat((api_options.console_dir + "/index.html").c_str(), &st) == 0;
    log_sink.WriteNow(server::ToJson(
        found ? object{{"level", "info"},
                       {"msg", "console"},
                       {"path", "/console/"},
                       {"dir", api_options.console_dir}}
              : object{{"level", "warn"},
                       {"msg",
                        "console not found: /console/ answers 404; "
                        "set --console-dir DIR (the repository's "
                        "web/console)"},
                       {"dir", api_options.console_dir}}));
  }
  server::Api api(deps, api_options);

  server::HttpServerOptions http;
  auto listen = server::ParseListenAddress(cfg.listen);  // checked at load
  if (!listen) return FailWith(listen.error().message);
  http.host = listen->host;
  http.port = listen->port;
  http.io_threads = cfg.io_threads;
  // SQLite reads (WAL) never wait on the network or on a writer.
  http.inline_reads = sqlite;
  // PostgreSQL: every pooled connection may have a request waiting on it;
  // a GET that the read cache will likely answer runs inline all the same.
  if (!http.inline_reads) {
    http.worker_threads = cfg.db_pool_size;
    http.inline_reads_while = [cache] { return cache->LikelyServed(); };
  }
  http.tls_cert = cfg.tls_cert;
  http.tls_key = cfg.tls_key;
  server::HttpServer srv(api, metrics, http);
  if (auto s = srv.Start(); !s) return FailWith(s.error().ToString());
  log_sink.WriteNow(server::ToJson(
      object{{"level", "info"},
             {"msg", "listening"},
             {"address", http.host + ":" + std::to_string(srv.port())},
             {"tls", !cfg.tls_cert.empty()},
             {"db", storage::RedactConnectionString(cfg.db)}}));
  srv.Run();
  poll_upkeep.Stop();
  checkpoints.Stop();
  (void)heartbeats.FlushAll();  // the polls not written yet
  log_sink.WriteNow(
      server::ToJson(object{{"level", "info"}, {"msg", "stopped"}}));
  return 0;
}

// The manual's sections that the option definitions do not hold.
cli::DocExtras ManualExtras() {
  return {{
      {"CONFIGURATION",
       "Each setting comes from the first of: a flag, the environment, the "
       "JSON file of --config (serve and admin read the same file), the "
       "built-in default. The file's keys: listen, db, tls_cert, tls_key, "
       "io_threads (0..256, default 0: one per core), token_ttl_hours "
       "(1..8760, default 24), public_metrics, pbkdf2_iterations "
       "(1000..10000000, default 210000), console_dir, db_pool_size "
       "(1..1000, default 16), secret_key_file, trusted_proxies, "
       "webhook_allow, consistency_retention, cache_fence_interval_ms "
       "(10..2000, default 100), cache_max_lag_ms (50..3600000, default "
       "500), heartbeat_write_ms (0..50000, default 30000); unknown keys "
       "and values outside the limits are refused, naming the file and the "
       "key. Every setting with its default: docs/server.md. For example:\n\n"
       "    {\"listen\": \"127.0.0.1:8080\", \"db\": "
       "\"sqlite:/var/lib/sms-server/sms.db\"}"},
      {"ENVIRONMENT",
       "SMS_LISTEN, SMS_DB, SMS_CONSOLE_DIR, SMS_SECRET_KEY_FILE, "
       "SMS_PBKDF2_ITERATIONS, SMS_DB_POOL_SIZE (0 or empty: the default), "
       "SMS_TRUSTED_PROXIES (comma-separated), SMS_WEBHOOK_ALLOW "
       "(comma-separated), SMS_CONSISTENCY_RETENTION, "
       "SMS_CACHE_FENCE_INTERVAL_MS, SMS_CACHE_MAX_LAG_MS, "
       "SMS_HEARTBEAT_WRITE_MS: the settings of "
       "the same names, with the same limits; they win over the file, flags "
       "win over them; a bad value is refused, naming the variable. "
       "Keep a PostgreSQL password in SMS_DB or PGPASSFILE rather than in a "
       "flag, which ps shows."},
      {"EXIT STATUS",
       "0 on success (serve: stopped by SIGTERM or SIGINT); 2 with a message "
       "on stderr naming the problem (a bad setting, a database that cannot "
       "be opened, an unknown domain or user)."},
      {"FILES",
       "/etc/sms-server/config.json: the packaged configuration (serve "
       "--config, admin --config).\n\n"
       "/var/lib/sms-server/sms.db, sms.db.secret, sms.db.lock: the "
       "packaged SQLite database, the key sealing its SKs (back it up apart "
       "from the database), the lock of the one serve on it."},
      {"EXAMPLES",
       "    sms-server serve --config /etc/sms-server/config.json\n"
       "    sudo -u sms sms-server admin --config "
       "/etc/sms-server/config.json create-domain acme\n"
       "    sms-server admin --db sqlite:./var/sms.db create-credential "
       "--domain acme --user agent1"},
      {"SEE ALSO",
       "sms-agent(1); docs/server.md and docs/operations.md of "
       "sms-consistency."},
  }};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sms-server: the SMS consistency-verification control plane",
               "sms-server"};
  app.require_subcommand(1);
  app.set_version_flag("--version", cli::VersionLine("sms-server"),
                       "print the version and the commit it was built from");
  std::string config_file;

  CLI::App* serve = app.add_subcommand("serve", "Serve the HTTP API");
  serve
      ->add_option("--config", config_file,
                   "JSON config file (its keys: CONFIGURATION below)")
      ->type_name("FILE");
  std::string listen_flag, db_flag, cert_flag, key_flag, console_flag;
  int io_threads_flag = 0;
  serve
      ->add_option("--listen", listen_flag,
                   "HOST:PORT (default 127.0.0.1:8080, env SMS_LISTEN)")
      ->type_name("HOST:PORT");
  serve
      ->add_option("--db", db_flag,
                   "sqlite:PATH or postgresql://USER:PASS@HOST:PORT/DB "
                   "(default sqlite:./var/sms.db, env SMS_DB)")
      ->type_name("DB");
  serve->add_option("--tls-cert", cert_flag, "PEM certificate chain")
      ->type_name("FILE");
  serve->add_option("--tls-key", key_flag, "PEM private key")
      ->type_name("FILE");
  CLI::Option* io_threads_opt =
      serve
          ->add_option("--io-threads", io_threads_flag,
                       "I/O threads, 0..256 (default 0: one per core)")
          ->type_name("N");
  std::string secret_flag;
  serve
      ->add_option("--secret-key-file", secret_flag,
                   "the key sealing SKs at rest (default: PATH.secret "
                   "beside a SQLite database, made at first use; none for "
                   "PostgreSQL; env SMS_SECRET_KEY_FILE)")
      ->type_name("FILE");
  serve
      ->add_option("--console-dir", console_flag,
                   "the web console's files, served at /console/ (default: "
                   "web/console of the checkout the binary was built in, "
                   "or ../share/sms-server/console beside it; \"none\": "
                   "off; env SMS_CONSOLE_DIR)")
      ->type_name("DIR");

  CLI::App* admin = app.add_subcommand("admin", "Manage domains, users, keys");
  admin->require_subcommand(1);
  std::string admin_config;
  admin
      ->add_option("--config", admin_config,
                   "the JSON config file of serve: its db, secret_key_file, "
                   "pbkdf2_iterations and db_pool_size are used (default: "
                   "none)")
      ->type_name("FILE");
  std::string admin_db;
  admin
      ->add_option("--db", admin_db,
                   "sqlite:PATH or postgresql://... (default as serve)")
      ->type_name("DB");
  std::string admin_secret;
  admin
      ->add_option("--secret-key-file", admin_secret,
                   "the key sealing SKs (create-credential; default as "
                   "serve)")
      ->type_name("FILE");
  std::string domain_name;
  CLI::App* create_domain =
      admin->add_subcommand("create-domain", "Create a domain (tenant)");
  create_domain->add_option("NAME", domain_name, "Domain name")->required();
  std::string user_domain, user_name, user_role;
  CLI::App* create_user = admin->add_subcommand(
      "create-user",
      "Create a user; the password is read from stdin (one line), or "
      "generated and printed once when stdin is a terminal or empty");
  create_user->add_option("--domain", user_domain, "the user's domain")
      ->type_name("DOMAIN")
      ->required();
  create_user->add_option("--name", user_name, "the user's name")
      ->type_name("USER")
      ->required();
  create_user->add_option("--role", user_role, "what the user may do")
      ->type_name("admin|operator|viewer|agent")
      ->required();
  std::string cred_domain, cred_user;
  CLI::App* create_cred = admin->add_subcommand(
      "create-credential", "Create an AK/SK pair; prints \"AK SK\"");
  create_cred->add_option("--domain", cred_domain, "the user's domain")
      ->type_name("DOMAIN")
      ->required();
  create_cred->add_option("--user", cred_user, "the user the keys act as")
      ->type_name("USER")
      ->required();
  std::string revoke_ak;
  CLI::App* revoke_cred =
      admin->add_subcommand("revoke-credential", "Revoke an access key");
  revoke_cred->add_option("AK", revoke_ak, "Access key")->required();
  std::string unlock_domain, unlock_user, unlock_address;
  CLI::App* unlock_login = admin->add_subcommand(
      "unlock-login",
      "Clear the failed-login throttle of a user (every address, or one) "
      "or of an address; prints how many budgets were cleared");
  unlock_login->add_option("--domain", unlock_domain, "the user's domain")
      ->type_name("DOMAIN");
  unlock_login->add_option("--user", unlock_user, "the user locked out")
      ->type_name("USER");
  unlock_login
      ->add_option("--address", unlock_address,
                   "only this client address (with --user), or every "
                   "budget of it (alone)")
      ->type_name("IP");
  CLI::App* migrate =
      admin->add_subcommand("migrate", "Apply pending schema migrations");
  cli::AddGenerateDocsOption(app, ManualExtras());

  CLI11_PARSE(app, argc, argv);

  // The configuration: defaults < config file < environment < flags, in
  // LoadServerConfig.
  server::ConfigSources sources;
  auto flag = [](const std::string& v) {
    return v.empty() ? std::nullopt : std::optional<std::string>(v);
  };
  if (serve->parsed()) {
    sources.file = config_file;
    sources.flags = {.listen = flag(listen_flag),
                     .db = flag(db_flag),
                     .tls_cert = flag(cert_flag),
                     .tls_key = flag(key_flag),
                     .io_threads = io_threads_opt->count() > 0
                                       ? std::optional<int>(io_threads_flag)
                                       : std::nullopt,
                     .console_dir = flag(console_flag),
                     .secret_key_file = flag(secret_flag)};
  } else {
    sources.file = admin_config;
    sources.flags = {.db = flag(admin_db),
                     .secret_key_file = flag(admin_secret)};
  }
  auto cfg = server::LoadServerConfig(sources);
  if (!cfg) return FailWith(cfg.error().message);
  if (serve->parsed()) return Serve(*cfg);

  using Kind = server::AdminCommand::Kind;
  server::AdminCommand cmd;
  if (create_domain->parsed()) {
    cmd = {.kind = Kind::kCreateDomain, .name = domain_name};
  } else if (create_user->parsed()) {
    cmd = {.kind = Kind::kCreateUser,
           .domain = user_domain,
           .name = user_name,
           .role = user_role};
  } else if (create_cred->parsed()) {
    cmd = {.kind = Kind::kCreateCredential,
           .domain = cred_domain,
           .user = cred_user};
  } else if (revoke_cred->parsed()) {
    cmd = {.kind = Kind::kRevokeCredential, .access_key = revoke_ak};
  } else if (unlock_login->parsed()) {
    cmd = {.kind = Kind::kUnlockLogin,
           .domain = unlock_domain,
           .user = unlock_user,
           .address = unlock_address};
  } else if (migrate->parsed()) {
    cmd = {.kind = Kind::kMigrate};
  } else {
    return FailWith("no command");
  }
  return server::RunAdmin(cmd, *cfg);
}
