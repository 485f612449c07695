// Migrations: the schema files of migrations/{sqlite,postgres}/*.sql,
// embedded at build time (embed_sql.cmake), in ascending version order.
//
// Both dialects have the same versions with the same names and make the
// same tables and columns (migrations_test.cc; postgres_store_test.cc
// compares the two live schemas): a new migration is written twice, once
// per folder, under one number.
#pragma once

#include <string_view>
#include <vector>

namespace sms::storage {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

const std::vector<Migration>& SqliteMigrations();
const std::vector<Migration>& PostgresMigrations();

}  // namespace sms::storage
