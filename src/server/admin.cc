#include "server/admin.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "server/auth_service.h"
#include "server/open_store.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace sms::server {
namespace {

std::string ReadPasswordFromStdin() {
  if (isatty(STDIN_FILENO)) return "";
  std::string line;
  std::getline(std::cin, line);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.pop_back();
  return line;
}

// Applies pending migrations of either dialect and prints what it did.
int Migrate(const std::string& db) {
  core::Result<std::vector<int>> applied;
  core::Result<std::vector<int>> versions;
  if (storage::IsPostgresConnectionString(db)) {
    applied = storage::MigratePostgres(db);
    if (applied) versions = storage::PostgresSchemaVersions(db);
  } else {
    auto path = SqlitePath(db);
    if (!path) return FailWith(path.error().message);
    applied = storage::MigrateSqlite(*path);
    if (applied) versions = storage::SqliteSchemaVersions(*path);
  }
  if (!applied) return FailWith(applied.error().ToString());
  std::printf("applied %zu migration(s); schema versions:", applied->size());
  if (versions)
    for (int v : *versions) std::printf(" %d", v);
  std::printf("\n");
  return 0;
}

}  // namespace

int FailWith(const std::string& message) {
  std::fprintf(stderr, "sms-server: %s\n", message.c_str());
  return 2;
}

int RunAdmin(const AdminCommand& cmd, const ServerConfig& cfg) {
  using Kind = AdminCommand::Kind;
  if (cmd.kind == Kind::kMigrate) return Migrate(cfg.db);

  auto store = OpenStore(cfg.db, cfg.db_pool_size, /*serving=*/false);
  if (!store)
    return FailWith("opening " + storage::RedactConnectionString(cfg.db) +
                    ": " + store.error().ToString());
  AuthOptions auth_options;
  auth_options.pbkdf2_iterations = cfg.pbkdf2_iterations;
  // Only create-credential seals a secret (and makes the key at first use).
  std::optional<auth::SecretBox> secrets;
  if (cmd.kind == Kind::kCreateCredential) {
    auto loaded = LoadSecrets(cfg);
    if (!loaded) return FailWith(loaded.error().message);
    secrets = std::move(*loaded);
    if (secrets)
      auth_options.secrets = &*secrets;
    else
      std::fprintf(stderr,
                   "sms-server: warning: the SK is stored in the clear; give "
                   "--secret-key-file (the replicas' key) to seal it\n");
  }
  AuthService auth(**store, core::SystemClock(), auth_options);
  switch (cmd.kind) {
    case Kind::kCreateDomain: {
      auto d = auth.CreateDomain(cmd.name);
      if (!d) return FailWith(d.error().message);
      std::printf("%s\n", d->id.c_str());
      return 0;
    }
    case Kind::kCreateUser: {
      std::string password = ReadPasswordFromStdin();
      auto u = auth.CreateUser(cmd.domain, cmd.name, cmd.role, password);
      if (!u) return FailWith(u.error().message);
      if (!u->password.empty()) {
        std::printf("%s %s\n", u->user.id.c_str(), u->password.c_str());
      } else {
        std::printf("%s\n", u->user.id.c_str());
      }
      return 0;
    }
    case Kind::kCreateCredential: {
      auto c = auth.CreateCredential(cmd.domain, cmd.user);
      if (!c) return FailWith(c.error().message);
      std::printf("%s %s\n", c->access_key.c_str(), c->secret_key.c_str());
      return 0;
    }
    case Kind::kRevokeCredential: {
      if (auto s = auth.RevokeCredential(cmd.access_key); !s)
        return FailWith(s.error().message);
      std::printf("revoked\n");
      return 0;
    }
    case Kind::kUnlockLogin: {
      auto n = auth.UnlockLogin(cmd.domain, cmd.user, cmd.address);
      if (!n) return FailWith(n.error().message);
      std::printf("cleared %lld\n", static_cast<long long>(*n));
      // Failed logins are kept under attempted names too, so clearing an
      // unknown user is allowed; but 0 for a typo should not look like done.
      if (*n == 0 && !cmd.user.empty()) {
        auto domain = (*store)->GetDomainByName(cmd.domain);
        if (domain && !(*store)->GetUserByName(domain->id, cmd.user))
          std::fprintf(stderr,
                       "sms-server: note: domain %s has no user %s; nothing "
                       "was held under that name\n",
                       cmd.domain.c_str(), cmd.user.c_str());
      }
      return 0;
    }
    case Kind::kMigrate:
      break;
  }
  return FailWith("no command");
}

}  // namespace sms::server
