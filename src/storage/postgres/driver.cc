#include "storage/postgres/driver.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

namespace sms::storage::postgres {
namespace {

bool IsConnectionLoss(const char* sqlstate) {
  if (sqlstate == nullptr) return true;  // no result: the link is gone
  std::string_view s(sqlstate);
  return s.substr(0, 2) == "08" ||  // connection exception
         s == "57P01" ||            // admin_shutdown (fast shutdown)
         s == "57P02" ||            // crash_shutdown
         s == "57P03";              // cannot_connect_now (starting up)
}

// Maps a failed result (or a failed connection) to an Error. The message

}  // namespace

core::Error PgError(PGconn* conn, const PGresult* res, const char* what) {
  const char* sqlstate =
      res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary =
      res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string msg = std::string(what) + ": ";
  if (primary != nullptr) {
    msg += primary;
  } else if (conn != nullptr) {
    msg += PQerrorMessage(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' '))
      msg.pop_back();
  } else {
    msg += "no connection";
  }
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK ||
      IsConnectionLoss(sqlstate)) {
    return core::Unavailable(std::move(msg));
  }
  std::string_view s(sqlstate);
  if (s.substr(0, 2) == "23") return core::AlreadyExists(std::move(msg));
  if (s.substr(0, 2) == "53" ||  // insufficient resources
      s == "40001" ||            // serialization_failure
      s == "40P01" ||            // deadlock_detected
      s == "55P03" ||            // lock_not_available
      s == "57014") {            // query_canceled (statement_timeout)
    return core::Unavailable(std::move(msg));
  }
  return core::Internal(std::move(msg));
}

Result<std::unique_ptr<Connection>> Connect(const std::string& conninfo,
                                            const PostgresOptions& options) {
  std::string timeout = std::to_string(options.connect_timeout_s);
  std::string search_path = "-c search_path=" + options.schema;
  // TCP: notice a dead peer (a cut network, a vanished host) within
  // seconds instead of the kernel's default of minutes; ignored on Unix
  // sockets. The connection string may override each of these.
  std::vector<const char*> keys = {"connect_timeout",
                                   "application_name",
                                   "keepalives_idle",
                                   "keepalives_interval",
                                   "keepalives_count",
                                   "tcp_user_timeout",
                                   "dbname"};
  std::vector<const char*> values = {
      timeout.c_str(), "sms-server", "10", "5", "3", "20000", conninfo.c_str()};
  if (!options.schema.empty()) {
    keys.push_back("options");
    values.push_back(search_path.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), 1);
  if (conn == nullptr) return Fail(core::Unavailable("connect: out of memory"));
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' '))
      msg.pop_back();
    // Neither the password nor the whole connection string is echoed.
    return Fail(core::Unavailable("connect to PostgreSQL: " + msg));
  }
  // Notices (e.g. "drop cascades to ...") are not errors: keep them out of
  // the server's stderr, which carries the structured log.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::make_unique<Connection>(conn);
}

// PostgreSQL array literals, bound as one parameter each (text format):
// {"a","b\"c"} and {1,2}. Elements are quoted, so commas, braces, quotes
// and backslashes in values stay data.
std::string TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char ch : values[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  return out + "}";
}
std::string IntArray(const std::vector<int64_t>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(values[i]);
  }
  return out + "}";
}

}  // namespace sms::storage::postgres
