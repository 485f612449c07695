// Migrations: the schema files of migrations/*.sql, embedded at build time
// (embed_sql.cmake), in ascending version order.
#pragma once

#include <string_view>
#include <vector>

namespace sms::storage {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

const std::vector<Migration>& Migrations();

}  // namespace sms::storage
