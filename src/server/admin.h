// `sms-server admin ...`: the commands that manage domains, users, access
// keys and the schema on the database of a ServerConfig. Each prints its
// result on stdout (docs/server.md, "Admin commands") and returns the
// process's exit status (0, or 2 with a message on stderr).
#pragma once

#include <string>

#include "server/config.h"

namespace sms::server {

struct AdminCommand {
  enum class Kind {
    kCreateDomain,      // name
    kCreateUser,        // domain, name, role; password on stdin
    kCreateCredential,  // domain, user
    kRevokeCredential,  // access_key
    kUnlockLogin,       // domain + user, and/or address
    kMigrate,
  };
  Kind kind = Kind::kMigrate;
  std::string domain;
  std::string name;
  std::string role;
  std::string user;
  std::string access_key;
  std::string address;
};

// Runs `cmd` against cfg.db.
int RunAdmin(const AdminCommand& cmd, const ServerConfig& cfg);

// Prints "sms-server: MESSAGE" on stderr; returns 2.
int FailWith(const std::string& message);

}  // namespace sms::server
