// Opening what `serve` and `admin` share: the store named by --db and the
// box that seals SKs. Used by main.cc and admin.cc only.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "auth/secret_box.h"
#include "core/result.h"
#include "server/config.h"
#include "storage/store.h"

namespace sms::server {

// "sqlite:PATH" -> PATH, creating the parent directory; kInvalidArgument
// for anything else.
[[nodiscard]] core::Result<std::string> SqlitePath(const std::string& db);

// sqlite:PATH, or PostgreSQL: postgresql://user:pass@host:port/db or a
// libpq keyword string, with a pool of `pool_size` connections. `serving`
// opens the whole pool at start; admin only what it uses. SQLite: `serving`
// turns off the checkpoints of commits (the server runs a
// SqliteCheckpointer); the file is read without a memory map
// (docs/server.md "SQLite checkpoints").
[[nodiscard]] core::Result<std::unique_ptr<storage::Store>> OpenStore(
    const std::string& db, int pool_size, bool serving);

// The box that seals SKs, or none (SKs in the clear). A named file must
// exist, except beside a SQLite database, where the key is made at first
// use: replicas over PostgreSQL must all read one key, which one of them
// must not invent alone.
[[nodiscard]] core::Result<std::optional<auth::SecretBox>> LoadSecrets(
    const ServerConfig& cfg);

}  // namespace sms::server
