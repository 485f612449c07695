// PostgresStore (store_impl.h): the pool; opening the store; connection
// strings.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "storage/postgres/store_impl.h"

namespace sms::storage {
namespace postgres {

// Seeds the pool with a connection opened by the caller.
void PostgresStore::Adopt(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  ++open_;
  free_.push_back(std::move(c));
}

// Takes a healthy connection from the pool, opening one if the pool is
// not full. kUnavailable when the database is unreachable or every
// connection stays busy for acquire_timeout_ms.
Result<PostgresStore::Lease> PostgresStore::Acquire() {
  std::unique_ptr<Connection> c;
  {
    std::unique_lock lock(mu_);
    const int max = options_.connections < 1 ? 1 : options_.connections;
    bool ok = cv_.wait_for(
        lock, std::chrono::milliseconds(options_.acquire_timeout_ms),
        [&] { return !free_.empty() || open_ < max; });
    if (!ok)
      return Fail(core::Unavailable("all " + std::to_string(max) +
                                    " database connections are busy"));
    if (!free_.empty()) {
      c = std::move(free_.back());
      free_.pop_back();
    } else {
      ++open_;  // reserve the slot; connect outside the lock
    }
  }
  if (c && c->Healthy()) return Lease(this, std::move(c));
  c.reset();  // dead (the server restarted): replace it
  auto fresh = Connect(conninfo_, options_);
  if (!fresh) {
    {
      std::lock_guard lock(mu_);
      --open_;
    }
    cv_.notify_one();
    return Fail(fresh.error());
  }
  return Lease(this, std::move(*fresh));
}

void PostgresStore::Release(std::unique_ptr<Connection> c) {
  {
    std::lock_guard lock(mu_);
    // A connection that broke mid-call, or is still inside a transaction
    // (a failure between BEGIN and COMMIT/ROLLBACK), is not reused.
    if (c->broken() || PQtransactionStatus(c->raw()) != PQTRANS_IDLE) {
      --open_;
    } else {
      free_.push_back(std::move(c));
    }
  }
  cv_.notify_one();
}

Status PostgresStore::Ping() {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  return c->Exec("SELECT 1").map([](Rows&&) {});
}

Status PostgresStore::CheckWritable() {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  // No write probe (see store.h). A full disk under PostgreSQL shows as the
  // server stopping (it cannot write its WAL: Ping fails) or as errors of
  // the writes themselves (503).
  SMS_ASSIGN_OR_RETURN(
      Rows r, c->Exec("SELECT pg_is_in_recovery(),"
                      " current_setting('default_transaction_read_only')"));
  if (r.Bool(0, 0))
    return Fail(core::Unavailable(
        "the database is a standby in recovery: it cannot be written"));
  if (r.Text(0, 1) == "on")
    return Fail(core::Unavailable(
        "the database is read-only (default_transaction_read_only = on)"));
  return Ok();
}

}  // namespace postgres

bool IsPostgresConnectionString(const std::string& db) {
  if (db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0)
    return true;
  return db.rfind("sqlite:", 0) != 0 && db.find('=') != std::string::npos;
}

std::string RedactConnectionString(const std::string& db) {
  std::string out = db;
  size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    size_t start = scheme + 3;
    size_t at = out.find('@', start);
    size_t slash = out.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at)
        out.replace(colon + 1, at - colon - 1, "***");
    }
    // A password may also come as a query parameter.
    size_t q = out.find("password=", start);
    if (q != std::string::npos) {
      size_t v = q + 9;
      size_t end = out.find('&', v);
      out.replace(v, (end == std::string::npos ? out.size() : end) - v, "***");
    }
    return out;
  }
  // Keyword string: password=value or password='quoted value'.
  size_t pos = 0;
  while ((pos = out.find("password", pos)) != std::string::npos) {
    size_t eq = out.find_first_not_of(' ', pos + 8);
    if (eq == std::string::npos || out[eq] != '=') {
      pos += 8;
      continue;
    }
    size_t v = out.find_first_not_of(' ', eq + 1);
    if (v == std::string::npos) break;
    size_t end = v;
    if (out[v] == '\'') {
      end = v + 1;
      while (end < out.size() && out[end] != '\'') {
        if (out[end] == '\\') ++end;
        ++end;
      }
      if (end < out.size()) ++end;
    } else {
      end = out.find(' ', v);
      if (end == std::string::npos) end = out.size();
    }
    out.replace(v, end - v, "***");
    pos = v + 3;
  }
  return out;
}

namespace postgres {
namespace {

// A pool that cannot fit is refused at start: opened anyway it would take
// every connection the server has left (psql, backups and the other
// replicas then get "too many clients"), with nothing said.
Status CheckPoolFits(Connection& c, const PostgresOptions& options) {
  SMS_ASSIGN_OR_RETURN(
      Rows r,
      c.Exec("SELECT current_setting('max_connections')::int,"
             " current_setting('superuser_reserved_connections')::int"));
  const int64_t max = r.Int(0, 0);
  const int64_t reserved = r.Int(0, 1);
  const int64_t needed = int64_t{options.connections} + 1;  // + the listener
  if (needed <= max - reserved) return Ok();
  return Fail(core::InvalidArgument(
      options.connections_name + " " + std::to_string(options.connections) +
      ": a pool of " + std::to_string(options.connections) +
      " connections and the cache listener's one need " +
      std::to_string(needed) +
      ", more than this PostgreSQL server gives: " + "max_connections " +
      std::to_string(max) + " - superuser_reserved_connections " +
      std::to_string(reserved) + " = " + std::to_string(max - reserved) +
      " (lower the pool or raise max_connections; several replicas share it)"));
}

}  // namespace
}  // namespace postgres

Result<std::unique_ptr<Store>> OpenPostgresStore(
    const std::string& conninfo, const PostgresOptions& options) {
  SMS_RETURN_IF_ERROR(postgres::EnsureSchema(conninfo, options));
  SMS_ASSIGN_OR_RETURN(auto first, postgres::Connect(conninfo, options));
  if (options.migrate)
    SMS_RETURN_IF_ERROR(postgres::ApplyMigrations(*first, nullptr));
  SMS_RETURN_IF_ERROR(postgres::CheckPoolFits(*first, options));
  auto store = std::make_unique<postgres::PostgresStore>(conninfo, options);
  store->Adopt(std::move(first));
  const int warm = std::min(options.open_at_start, options.connections);
  for (int i = 1; i < warm; ++i) {
    auto c = postgres::Connect(conninfo, options);
    if (!c) break;
    store->Adopt(std::move(*c));
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace sms::storage
