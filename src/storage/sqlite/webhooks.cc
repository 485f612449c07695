// SqliteStore (store_impl.h): webhooks and their delivery outbox (issue
// 13.4). One SQLite file has one writer, so a claim is a single UPDATE ...
// RETURNING; the lease still matters when two processes share the file or
// a process dies mid-delivery.
#include <string>
#include <utility>
#include <vector>

#include "storage/run_events.h"
#include "storage/sqlite/store_impl.h"

namespace sms::storage::sqlite {
namespace {

constexpr char kWebhookColumns[] =
    "id, domain_id, url, events, secret, created_at";

template <typename R>
Webhook ReadWebhook(const R& q) {
  return Webhook{.id = q.Text(0),
                 .domain_id = q.Text(1),
                 .url = q.Text(2),
                 .events = q.Text(3),
                 .secret = q.Text(4),
                 .created_at = q.Int(5)};
}

// o.* columns of a delivery, then the webhook's url and secret.
constexpr char kDeliveryColumns[] =
    "o.id, o.domain_id, o.webhook_id, o.event_id, o.type, o.task_id,"
    " o.run_id, o.check_result, o.occurred_at, o.state, o.attempts,"
    " o.next_attempt_at, w.url, w.secret";

template <typename R>
Delivery ReadDelivery(const R& q) {
  Delivery d;
  d.id = q.Int(0);
  d.domain_id = q.Text(1);
  d.webhook_id = q.Text(2);
  d.event_id = q.Text(3);
  d.type = q.Text(4);
  d.task_id = q.Text(5);
  d.run_id = q.Text(6);
  d.check_result = q.Text(7);
  d.occurred_at = q.Int(8);
  d.state = q.Text(9);
  d.attempts = static_cast<int>(q.Int(10));
  d.next_attempt_at = q.Int(11);
  d.url = q.Text(12);
  d.secret = q.Text(13);
  return d;
}

}  // namespace

Status SqliteStore::EnqueueRunEventsOn(sqlite3* db, const Run& run,
                                       const std::vector<std::string>& events) {
  std::vector<std::pair<std::string, std::string>> hooks;  // id, events
  {
    SMS_PREPARE_(q, db, "SELECT id, events FROM webhooks WHERE domain_id = ?");
    q.Bind(run.domain_id);
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      hooks.emplace_back(q.Text(0), q.Text(1));
    }
  }
  if (hooks.empty()) return Ok();
  for (const std::string& event : events) {
    for (const auto& [id, subscribed] : hooks) {
      if (!Subscribes(subscribed, event)) continue;
      SMS_PREPARE_(q, db,
                   "INSERT INTO webhook_outbox (domain_id, webhook_id,"
                   " event_id, type, task_id, run_id, check_result,"
                   " occurred_at, state, next_attempt_at)"
                   " VALUES (?,?,?,?,?,?,?,?,'pending',?)"
                   " ON CONFLICT (webhook_id, event_id) DO NOTHING");
      q.Bind(run.domain_id).Bind(id).Bind(EventId(run.run_id, event));
      q.Bind(event).Bind(run.task_id).Bind(run.run_id).Bind(run.check_result);
      q.Bind(run.committed_at).Bind(run.committed_at);
      SMS_RETURN_IF_ERROR(q.Exec());
    }
  }
  return Ok();
}

Status SqliteStore::CreateWebhook(const Webhook& w) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  static const std::string kSql = std::string("INSERT INTO webhooks (") +
                                  kWebhookColumns + ") VALUES (?,?,?,?,?,?)";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(w.id).Bind(w.domain_id).Bind(w.url).Bind(w.events).Bind(w.secret);
  q.Bind(w.created_at);
  SMS_RETURN_IF_ERROR(q.Exec());
  return txn.Commit();
}

Result<std::vector<Webhook>> SqliteStore::ListWebhooks(
    const std::string& domain_id) {
  Conn c(this);
  static const std::string kSql =
      std::string("SELECT ") + kWebhookColumns +
      " FROM webhooks WHERE domain_id = ? ORDER BY created_at, id";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(domain_id);
  std::vector<Webhook> out;
  while (true) {
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(ReadWebhook(q));
  }
  return out;
}

Result<Webhook> SqliteStore::GetWebhook(const std::string& domain_id,
                                        const std::string& id) {
  Conn c(this);
  static const std::string kSql = std::string("SELECT ") + kWebhookColumns +
                                  " FROM webhooks WHERE domain_id = ?"
                                  " AND id = ?";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(domain_id).Bind(id);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("webhook not found"));
  return ReadWebhook(q);
}

Status SqliteStore::DeleteWebhook(const std::string& domain_id,
                                  const std::string& id) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  {
    SMS_PREPARE_(q, c.db,
                 "SELECT 1 FROM webhooks WHERE domain_id = ? AND id = ?");
    q.Bind(domain_id).Bind(id);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::NotFound("webhook not found"));
  }
  {
    SMS_PREPARE_(q, c.db, "DELETE FROM webhook_attempts WHERE webhook_id = ?");
    q.Bind(id);
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  {
    SMS_PREPARE_(q, c.db, "DELETE FROM webhook_outbox WHERE webhook_id = ?");
    q.Bind(id);
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  {
    SMS_PREPARE_(q, c.db,
                 "DELETE FROM webhooks WHERE domain_id = ? AND id = ?");
    q.Bind(domain_id).Bind(id);
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  return txn.Commit();
}

Result<std::vector<Delivery>> SqliteStore::ClaimDeliveries(
    const std::string& owner, int64_t now, int64_t lease_until, int limit) {
  Conn c(this);
  {
    // Polled every second: take the writer only when something is due.
    SMS_PREPARE_(q, c.db,
                 "SELECT 1 FROM webhook_outbox WHERE state = 'pending'"
                 " AND next_attempt_at <= ?1 AND lease_until <= ?1 LIMIT 1");
    q.Bind(now);
    SMS_ASSIGN_OR_RETURN(bool due, q.Step());
    if (!due) return std::vector<Delivery>{};
  }
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  std::vector<int64_t> ids;
  {
    SMS_PREPARE_(q, c.db,
                 "SELECT id FROM webhook_outbox WHERE state = 'pending'"
                 " AND next_attempt_at <= ?1 AND lease_until <= ?1"
                 " ORDER BY next_attempt_at, id LIMIT ?2");
    q.Bind(now).Bind(limit);
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ids.push_back(q.Int(0));
    }
  }
  std::vector<Delivery> out;
  for (int64_t id : ids) {
    {
      SMS_PREPARE_(q, c.db,
                   "UPDATE webhook_outbox SET lease_owner = ?, lease_until = ?"
                   " WHERE id = ?");
      q.Bind(owner).Bind(lease_until).Bind(id);
      SMS_RETURN_IF_ERROR(q.Exec());
    }
    static const std::string kSql =
        std::string("SELECT ") + kDeliveryColumns +
        " FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id"
        " WHERE o.id = ?";
    SMS_PREPARE_(q, c.db, kSql.c_str());
    q.Bind(id);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) out.push_back(ReadDelivery(q));
  }
  SMS_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Status SqliteStore::RecordAttempt(const DeliveryAttempt& a) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  std::string webhook_id;
  int64_t attempts = 0;
  {
    SMS_PREPARE_(q, c.db,
                 "SELECT webhook_id, attempts FROM webhook_outbox"
                 " WHERE id = ? AND lease_owner = ? AND state = 'pending'");
    q.Bind(a.delivery_id).Bind(a.lease_owner);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row)
      return Fail(core::FailedPrecondition("delivery no longer leased"));
    webhook_id = q.Text(0);
    attempts = q.Int(1) + 1;
  }
  {
    SMS_PREPARE_(q, c.db,
                 "UPDATE webhook_outbox SET state = ?, attempts = ?,"
                 " next_attempt_at = ?, lease_owner = '', lease_until = 0"
                 " WHERE id = ?");
    q.Bind(a.next_state).Bind(attempts).Bind(a.next_attempt_at);
    q.Bind(a.delivery_id);
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  {
    SMS_PREPARE_(q, c.db,
                 "INSERT INTO webhook_attempts (delivery_id, attempt,"
                 " webhook_id, at, status, latency_ms, error)"
                 " VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING");
    q.Bind(a.delivery_id).Bind(attempts).Bind(webhook_id).Bind(a.at);
    q.Bind(static_cast<int64_t>(a.status)).Bind(a.latency_ms).Bind(a.error);
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  return txn.Commit();
}

Result<std::vector<AttemptRow>> SqliteStore::ListAttempts(
    const std::string& domain_id, const std::string& webhook_id, int limit) {
  Conn c(this);
  SMS_PREPARE_(q, c.db,
               "SELECT a.delivery_id, o.event_id, o.type, o.run_id, o.state,"
               " a.attempt, a.at, a.status, a.latency_ms, a.error"
               " FROM webhook_attempts a JOIN webhook_outbox o"
               " ON o.id = a.delivery_id WHERE o.domain_id = ?"
               " AND a.webhook_id = ? ORDER BY a.at DESC, a.delivery_id DESC,"
               " a.attempt DESC LIMIT ?");
  q.Bind(domain_id).Bind(webhook_id).Bind(limit);
  std::vector<AttemptRow> out;
  while (true) {
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(AttemptRow{.delivery_id = q.Int(0),
                             .event_id = q.Text(1),
                             .type = q.Text(2),
                             .run_id = q.Text(3),
                             .state = q.Text(4),
                             .attempt = static_cast<int>(q.Int(5)),
                             .at = q.Int(6),
                             .status = static_cast<int>(q.Int(7)),
                             .latency_ms = q.Int(8),
                             .error = q.Text(9)});
  }
  return out;
}

Result<std::vector<Delivery>> SqliteStore::ListRunDeliveries(
    const std::string& domain_id, const std::string& run_id) {
  Conn c(this);
  static const std::string kSql =
      std::string("SELECT ") + kDeliveryColumns +
      " FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id"
      " WHERE o.domain_id = ? AND o.run_id = ? ORDER BY o.id";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(domain_id).Bind(run_id);
  std::vector<Delivery> out;
  while (true) {
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(ReadDelivery(q));
  }
  return out;
}

}  // namespace sms::storage::sqlite
