// sms-server: the composition root. `serve` runs the HTTP API; `admin`
// manages domains, users and credentials on the same database.
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>

#include "auth/secret_box.h"
#include "core/clock.h"
#include "server/api.h"
#include "server/auth_service.h"
#include "server/export_service.h"
#include "server/http_server.h"
#include "server/json_fields.h"
#include "server/log_sink.h"
#include "server/metrics.h"
#include "server/result_service.h"
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

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";
  std::string db = "sqlite:./var/sms.db";
  std::string tls_cert;
  std::string tls_key;
  int io_threads = 0;
  int64_t token_ttl_hours = 24;
  bool public_metrics = true;
  int pbkdf2_iterations = 210000;
  // PostgreSQL: the most connections this process opens (the handler
  // workers that may wait on storage); replicas x this <= max_connections.
  int db_pool_size = 16;
  // The web console's directory; "" finds it beside the binary
  // (DefaultConsoleDir), "none" turns the console off.
  std::string console_dir;
  // The key that seals SKs at rest (auth/secret_box.h); "": PATH.secret
  // beside a SQLite database (made at first use), none for PostgreSQL.
  std::string secret_key_file;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "sms-server: %s\n", message.c_str());
  return 2;
}

// Reads a JSON config file; unknown keys are rejected.
core::Status LoadConfigFile(const std::string& path, ServerConfig* c) {
  std::ifstream in(path);
  if (!in) return core::Fail(core::NotFound("config file " + path));
  std::stringstream ss;
  ss << in.rdbuf();
  auto obj = server::ParseJsonObject(ss.str());
  if (!obj)
    return core::Fail(core::InvalidArgument(path + ": " + obj.error().message));
  for (const auto& [key, value] : *obj) {
    std::string k(key);
    auto str = [&](std::string* out) -> core::Status {
      if (!value.is_string())
        return core::Fail(
            core::InvalidArgument(path + ": " + k + ": expected a string"));
      *out = std::string(value.get_string());
      return core::Ok();
    };
    auto integer = [&](int64_t* out) -> core::Status {
      if (!value.is_int64())
        return core::Fail(
            core::InvalidArgument(path + ": " + k + ": expected an integer"));
      *out = value.get_int64();
      return core::Ok();
    };
    core::Status s = core::Ok();
    int64_t n = 0;
    if (k == "listen") {
      s = str(&c->listen);
    } else if (k == "db") {
      s = str(&c->db);
    } else if (k == "tls_cert") {
      s = str(&c->tls_cert);
    } else if (k == "tls_key") {
      s = str(&c->tls_key);
    } else if (k == "console_dir") {
      s = str(&c->console_dir);
    } else if (k == "secret_key_file") {
      s = str(&c->secret_key_file);
    } else if (k == "io_threads") {
      s = integer(&n);
      c->io_threads = static_cast<int>(n);
    } else if (k == "token_ttl_hours") {
      s = integer(&c->token_ttl_hours);
    } else if (k == "pbkdf2_iterations") {
      s = integer(&n);
      c->pbkdf2_iterations = static_cast<int>(n);
    } else if (k == "db_pool_size") {
      s = integer(&n);
      if (s && (n < 1 || n > 1000))
        return core::Fail(
            core::InvalidArgument(path + ": db_pool_size: 1..1000"));
      c->db_pool_size = static_cast<int>(n);
    } else if (k == "public_metrics") {
      if (!value.is_bool())
        return core::Fail(core::InvalidArgument(
            path + ": public_metrics: expected true or false"));
      c->public_metrics = value.get_bool();
    } else {
      return core::Fail(
          core::InvalidArgument(path + ": unknown key \"" + k + "\""));
    }
    if (!s) return s;
  }
  return core::Ok();
}

// "sqlite:PATH" -> PATH, creating the parent directory.
core::Result<std::string> SqlitePath(const std::string& db) {
  const std::string prefix = "sqlite:";
  if (db.rfind(prefix, 0) != 0 || db.size() == prefix.size())
    return core::Fail(core::InvalidArgument(
        "--db: expected sqlite:PATH, postgresql://... or a libpq string"));
  std::string path = db.substr(prefix.size());
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::string dir = path.substr(0, slash);
    // mkdir -p
    for (size_t i = 1; i <= dir.size(); ++i) {
      if (i == dir.size() || dir[i] == '/')
        mkdir(dir.substr(0, i).c_str(), 0750);
    }
  }
  return path;
}

// The box that seals SKs, or none (SKs in the clear). A named file must
// exist, except beside a SQLite database, where the key is made at first
// use: replicas over PostgreSQL must all read one key, which one of them
// must not invent alone.
core::Result<std::optional<auth::SecretBox>> LoadSecrets(
    const ServerConfig& cfg) {
  const bool sqlite = !storage::IsPostgresConnectionString(cfg.db);
  std::string file = cfg.secret_key_file;
  if (file.empty()) {
    if (!sqlite) return std::optional<auth::SecretBox>();
    SMS_ASSIGN_OR_RETURN(std::string path, SqlitePath(cfg.db));
    file = path + ".secret";
  }
  SMS_ASSIGN_OR_RETURN(auth::SecretBox box,
                       auth::SecretBox::FromKeyFile(file, sqlite));
  return std::optional<auth::SecretBox>(std::move(box));
}

// sqlite:PATH, or PostgreSQL (issue 5): postgresql://user:pass@host:port/db
// or a libpq keyword string, with a pool of `pool_size` connections.
// `serve` opens the whole pool at start; `admin` only what it uses.
core::Result<std::unique_ptr<storage::Store>> OpenStore(const std::string& db,
                                                        int pool_size,
                                                        bool serving) {
  if (storage::IsPostgresConnectionString(db)) {
    storage::PostgresOptions o;
    o.connections = pool_size;
    if (serving) o.open_at_start = pool_size;
    return storage::OpenPostgresStore(db, o);
  }
  SMS_ASSIGN_OR_RETURN(std::string path, SqlitePath(db));
  return storage::OpenSqliteStore(path);
}

int Serve(const ServerConfig& cfg) {
  // Large responses (a 700 KB page of 100 runs) come from the heap and
  // stay there for the next request: glibc's default gives every buffer
  // over 128 KiB its own mmap, and each request then paid for the page
  // faults of fresh memory (server CPU per such GET 3.8-4.3 -> 2.6-2.8 ms;
  // peak RSS 37 -> 44 MB).
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // SQLite: this process alone serves the database, and keeps its hot
  // reads in memory (caching_store.h).
  const bool sqlite = !storage::IsPostgresConnectionString(cfg.db);
  std::unique_ptr<storage::SqliteServerLock> lock;
  if (sqlite) {
    auto path = SqlitePath(cfg.db);
    if (!path) return Fail(path.error().message);
    auto held = storage::SqliteServerLock::Acquire(*path);
    if (!held) return Fail(held.error().message);
    lock = std::move(*held);
  }
  auto store = OpenStore(cfg.db, cfg.db_pool_size, /*serving=*/true);
  if (!store)
    return Fail("opening " + storage::RedactConnectionString(cfg.db) + ": " +
                store.error().ToString());
  storage::CachingStore* cache = nullptr;
  if (sqlite) {
    auto cached = storage::NewCachingStore(std::move(*store));
    cache = cached.get();
    *store = std::move(cached);
  }
  core::Clock& clock = core::SystemClock();
  auto secrets = LoadSecrets(cfg);
  if (!secrets) return Fail(secrets.error().message);
  server::AuthOptions auth_options;
  auth_options.token_ttl_ms = cfg.token_ttl_hours * 3600 * 1000;
  auth_options.pbkdf2_iterations = cfg.pbkdf2_iterations;
  if (*secrets) auth_options.secrets = &**secrets;
  server::AuthService auth(**store, clock, auth_options);
  server::TaskService tasks(**store, clock);
  server::ResultService results(**store, clock, tasks);
  server::ExportService exports(**store, tasks);
  server::Metrics metrics;
  if (cache != nullptr)
    metrics.SetReadCacheSource([cache] { return cache->Stats(); });
  server::LogSink log_sink(STDERR_FILENO);
  if (!*secrets) {
    log_sink.WriteNow(server::ToJson(
        object{{"level", "warn"},
               {"msg",
                "new AK/SK secrets are stored in the clear: give every "
                "replica the same --secret-key-file (openssl rand -hex 32) "
                "to seal them"}}));
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
  size_t colon = cfg.listen.rfind(':');
  if (colon == std::string::npos) return Fail("--listen: expected HOST:PORT");
  http.host = cfg.listen.substr(0, colon);
  if (http.host.size() > 2 && http.host.front() == '[')
    http.host = http.host.substr(1, http.host.size() - 2);
  int port = std::atoi(cfg.listen.substr(colon + 1).c_str());
  if (port < 0 || port > 65535) return Fail("--listen: bad port");
  http.port = static_cast<uint16_t>(port);
  http.io_threads = cfg.io_threads;
  // SQLite reads (WAL) never wait on the network or on a writer.
  http.inline_reads = sqlite;
  // PostgreSQL: every pooled connection may have a request waiting on it.
  if (!http.inline_reads) http.worker_threads = cfg.db_pool_size;
  http.tls_cert = cfg.tls_cert;
  http.tls_key = cfg.tls_key;
  server::HttpServer srv(api, metrics, http);
  if (auto s = srv.Start(); !s) return Fail(s.error().ToString());
  log_sink.WriteNow(server::ToJson(
      object{{"level", "info"},
             {"msg", "listening"},
             {"address", http.host + ":" + std::to_string(srv.port())},
             {"tls", !cfg.tls_cert.empty()},
             {"db", storage::RedactConnectionString(cfg.db)}}));
  srv.Run();
  log_sink.WriteNow(
      server::ToJson(object{{"level", "info"}, {"msg", "stopped"}}));
  return 0;
}

std::string ReadPasswordFromStdin() {
  if (isatty(STDIN_FILENO)) return "";
  std::string line;
  std::getline(std::cin, line);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.pop_back();
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sms-server: the SMS consistency-verification control plane"};
  app.require_subcommand(1);
  ServerConfig cfg;
  if (const char* v = std::getenv("SMS_LISTEN")) cfg.listen = v;
  if (const char* v = std::getenv("SMS_DB")) cfg.db = v;
  if (const char* v = std::getenv("SMS_CONSOLE_DIR")) cfg.console_dir = v;
  if (const char* v = std::getenv("SMS_SECRET_KEY_FILE"))
    cfg.secret_key_file = v;
  std::string config_file;

  CLI::App* serve = app.add_subcommand("serve", "Serve the HTTP API");
  serve->add_option("--config", config_file,
                    "JSON config file (keys: listen, db, tls_cert, tls_key, "
                    "io_threads, token_ttl_hours, public_metrics, "
                    "pbkdf2_iterations, console_dir, db_pool_size, "
                    "secret_key_file)");
  std::string listen_flag, db_flag, cert_flag, key_flag, console_flag;
  int io_threads_flag = -1;
  serve->add_option("--listen", listen_flag,
                    "HOST:PORT (default 127.0.0.1:8080, env SMS_LISTEN)");
  serve->add_option("--db", db_flag,
                    "sqlite:PATH or postgresql://USER:PASS@HOST:PORT/DB "
                    "(default sqlite:./var/sms.db, env SMS_DB)");
  serve->add_option("--tls-cert", cert_flag, "PEM certificate chain");
  serve->add_option("--tls-key", key_flag, "PEM private key");
  serve->add_option("--io-threads", io_threads_flag,
                    "I/O threads (default: one per core)");
  std::string secret_flag;
  serve->add_option("--secret-key-file", secret_flag,
                    "the key sealing SKs at rest (default: PATH.secret "
                    "beside a SQLite database, made at first use; none for "
                    "PostgreSQL; env SMS_SECRET_KEY_FILE)");
  serve->add_option("--console-dir", console_flag,
                    "the web console's files, served at /console/ (default: "
                    "web/console of the checkout the binary was built in, "
                    "or ../share/sms-server/console beside it; \"none\": "
                    "off; env SMS_CONSOLE_DIR)");

  CLI::App* admin = app.add_subcommand("admin", "Manage domains, users, keys");
  admin->require_subcommand(1);
  std::string admin_db;
  admin->add_option("--db", admin_db,
                    "sqlite:PATH or postgresql://... (default as serve)");
  std::string admin_secret;
  admin->add_option("--secret-key-file", admin_secret,
                    "the key sealing SKs (create-credential; default as "
                    "serve)");
  std::string domain_name;
  CLI::App* create_domain =
      admin->add_subcommand("create-domain", "Create a domain (tenant)");
  create_domain->add_option("name", domain_name, "Domain name")->required();
  std::string user_domain, user_name, user_role;
  CLI::App* create_user = admin->add_subcommand(
      "create-user",
      "Create a user; the password is read from stdin (one line), or "
      "generated and printed once when stdin is a terminal or empty");
  create_user->add_option("--domain", user_domain)->required();
  create_user->add_option("--name", user_name)->required();
  create_user->add_option("--role", user_role, "admin|operator|viewer|agent")
      ->required();
  std::string cred_domain, cred_user;
  CLI::App* create_cred = admin->add_subcommand(
      "create-credential", "Create an AK/SK pair; prints \"AK SK\"");
  create_cred->add_option("--domain", cred_domain)->required();
  create_cred->add_option("--user", cred_user)->required();
  std::string revoke_ak;
  CLI::App* revoke_cred =
      admin->add_subcommand("revoke-credential", "Revoke an access key");
  revoke_cred->add_option("ak", revoke_ak, "Access key")->required();
  CLI::App* migrate =
      admin->add_subcommand("migrate", "Apply pending schema migrations");

  CLI11_PARSE(app, argc, argv);

  if (const char* v = std::getenv("SMS_PBKDF2_ITERATIONS"))
    cfg.pbkdf2_iterations = std::atoi(v);
  if (const char* v = std::getenv("SMS_DB_POOL_SIZE"); v && std::atoi(v) > 0)
    cfg.db_pool_size = std::atoi(v);
  if (serve->parsed()) {
    if (!config_file.empty()) {
      // Precedence: defaults < config file < environment < flags.
      ServerConfig file_cfg;
      if (auto s = LoadConfigFile(config_file, &file_cfg); !s)
        return Fail(s.error().message);
      if (!std::getenv("SMS_LISTEN")) cfg.listen = file_cfg.listen;
      if (!std::getenv("SMS_DB")) cfg.db = file_cfg.db;
      if (!std::getenv("SMS_CONSOLE_DIR"))
        cfg.console_dir = file_cfg.console_dir;
      if (!std::getenv("SMS_SECRET_KEY_FILE"))
        cfg.secret_key_file = file_cfg.secret_key_file;
      cfg.tls_cert = file_cfg.tls_cert;
      cfg.tls_key = file_cfg.tls_key;
      cfg.io_threads = file_cfg.io_threads;
      cfg.token_ttl_hours = file_cfg.token_ttl_hours;
      cfg.public_metrics = file_cfg.public_metrics;
      if (!std::getenv("SMS_PBKDF2_ITERATIONS"))
        cfg.pbkdf2_iterations = file_cfg.pbkdf2_iterations;
      if (!std::getenv("SMS_DB_POOL_SIZE"))
        cfg.db_pool_size = file_cfg.db_pool_size;
    }
    if (!listen_flag.empty()) cfg.listen = listen_flag;
    if (!db_flag.empty()) cfg.db = db_flag;
    if (!cert_flag.empty()) cfg.tls_cert = cert_flag;
    if (!key_flag.empty()) cfg.tls_key = key_flag;
    if (io_threads_flag >= 0) cfg.io_threads = io_threads_flag;
    if (!console_flag.empty()) cfg.console_dir = console_flag;
    if (!secret_flag.empty()) cfg.secret_key_file = secret_flag;
    return Serve(cfg);
  }

  if (!admin_db.empty()) cfg.db = admin_db;
  if (!admin_secret.empty()) cfg.secret_key_file = admin_secret;
  if (migrate->parsed() && storage::IsPostgresConnectionString(cfg.db)) {
    auto applied = storage::MigratePostgres(cfg.db);
    if (!applied) return Fail(applied.error().ToString());
    auto versions = storage::PostgresSchemaVersions(cfg.db);
    std::printf("applied %zu migration(s); schema versions:", applied->size());
    if (versions)
      for (int v : *versions) std::printf(" %d", v);
    std::printf("\n");
    return 0;
  }
  if (migrate->parsed()) {
    auto path = SqlitePath(cfg.db);
    if (!path) return Fail(path.error().message);
    auto applied = storage::MigrateSqlite(*path);
    if (!applied) return Fail(applied.error().ToString());
    auto versions = storage::SqliteSchemaVersions(*path);
    std::printf("applied %zu migration(s); schema versions:", applied->size());
    if (versions)
      for (int v : *versions) std::printf(" %d", v);
    std::printf("\n");
    return 0;
  }
  auto store = OpenStore(cfg.db, cfg.db_pool_size, /*serving=*/false);
  if (!store)
    return Fail("opening " + storage::RedactConnectionString(cfg.db) + ": " +
                store.error().ToString());
  server::AuthOptions auth_options;
  auth_options.pbkdf2_iterations = cfg.pbkdf2_iterations;
  // Only create-credential seals a secret (and makes the key at first use).
  std::optional<auth::SecretBox> secrets;
  if (create_cred->parsed()) {
    auto loaded = LoadSecrets(cfg);
    if (!loaded) return Fail(loaded.error().message);
    secrets = std::move(*loaded);
    if (secrets)
      auth_options.secrets = &*secrets;
    else
      std::fprintf(stderr,
                   "sms-server: warning: the SK is stored in the clear; give "
                   "--secret-key-file (the replicas' key) to seal it\n");
  }
  server::AuthService auth(**store, core::SystemClock(), auth_options);
  if (create_domain->parsed()) {
    auto d = auth.CreateDomain(domain_name);
    if (!d) return Fail(d.error().message);
    std::printf("%s\n", d->id.c_str());
    return 0;
  }
  if (create_user->parsed()) {
    std::string password = ReadPasswordFromStdin();
    auto u = auth.CreateUser(user_domain, user_name, user_role, password);
    if (!u) return Fail(u.error().message);
    if (!u->password.empty()) {
      std::printf("%s %s\n", u->user.id.c_str(), u->password.c_str());
    } else {
      std::printf("%s\n", u->user.id.c_str());
    }
    return 0;
  }
  if (create_cred->parsed()) {
    auto c = auth.CreateCredential(cred_domain, cred_user);
    if (!c) return Fail(c.error().message);
    std::printf("%s %s\n", c->access_key.c_str(), c->secret_key.c_str());
    return 0;
  }
  if (revoke_cred->parsed()) {
    if (auto s = auth.RevokeCredential(revoke_ak); !s)
      return Fail(s.error().message);
    std::printf("revoked\n");
    return 0;
  }
  return Fail("no command");
}
