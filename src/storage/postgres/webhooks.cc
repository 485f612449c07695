// PostgresStore (store_impl.h): webhooks and their delivery outbox (issue
// 13.4). Replicas claim due deliveries with FOR UPDATE SKIP LOCKED and a
// lease: two replicas never post one delivery at the same time, and a
// replica that dies mid-delivery leaves it to the others once the lease
// runs out.
#include <string>
#include <utility>
#include <vector>

#include "storage/postgres/store_impl.h"
#include "storage/rows.h"
#include "storage/run_events.h"

namespace sms::storage::postgres {
namespace {

constexpr char kWebhookColumns[] =
    "id, domain_id, url, events, secret, created_at";

Webhook ReadWebhook(const Rows& r, int i) {
  return Webhook{.id = r.Text(i, 0),
                 .domain_id = r.Text(i, 1),
                 .url = r.Text(i, 2),
                 .events = r.Text(i, 3),
                 .secret = r.Text(i, 4),
                 .created_at = r.Int(i, 5)};
}

// o.* columns of a delivery, then the webhook's url and secret.
constexpr char kDeliveryColumns[] =
    "o.id, o.domain_id, o.webhook_id, o.event_id, o.type, o.task_id,"
    " o.run_id, o.check_result, o.occurred_at, o.state, o.attempts,"
    " o.next_attempt_at, w.url, w.secret";

Delivery ReadDelivery(const Rows& r, int i) {
  Delivery d;
  d.id = r.Int(i, 0);
  d.domain_id = r.Text(i, 1);
  d.webhook_id = r.Text(i, 2);
  d.event_id = r.Text(i, 3);
  d.type = r.Text(i, 4);
  d.task_id = r.Text(i, 5);
  d.run_id = r.Text(i, 6);
  d.check_result = r.Text(i, 7);
  d.occurred_at = r.Int(i, 8);
  d.state = r.Text(i, 9);
  d.attempts = static_cast<int>(r.Int(i, 10));
  d.next_attempt_at = r.Int(i, 11);
  d.url = r.Text(i, 12);
  d.secret = r.Text(i, 13);
  return d;
}

}  // namespace

Status PostgresStore::EnqueueRunEventsOn(
    Connection& c, const std::vector<RunWithEvents>& runs) {
  std::vector<std::string> domains;
  for (const RunWithEvents& r : runs) domains.push_back(r.run->domain_id);
  Params hp;
  hp.Add(TextArray(domains));
  SMS_ASSIGN_OR_RETURN(Rows hooks,
                       c.Exec("SELECT id, events, domain_id FROM webhooks"
                              " WHERE domain_id = ANY($1::text[])",
                              hp));
  if (hooks.empty()) return Ok();
  for (const RunWithEvents& r : runs) {
    const Run& run = *r.run;
    for (const std::string& event : r.events) {
      for (int i = 0; i < hooks.size(); ++i) {
        if (hooks.Text(i, 2) != run.domain_id) continue;
        if (!Subscribes(hooks.Text(i, 1), event)) continue;
        Params p;
        p.Add(run.domain_id)
            .Add(hooks.Text(i, 0))
            .Add(EventId(run.run_id, event));
        p.Add(event).Add(run.task_id).Add(run.run_id).Add(run.check_result);
        p.Add(run.committed_at);
        SMS_RETURN_IF_ERROR(
            c.Exec("INSERT INTO webhook_outbox (domain_id, webhook_id,"
                   " event_id, type, task_id, run_id, check_result,"
                   " occurred_at, state, next_attempt_at)"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $8)"
                   " ON CONFLICT (webhook_id, event_id) DO NOTHING",
                   p));
      }
    }
  }
  return Ok();
}

Status PostgresStore::CreateWebhook(const Webhook& w) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(w.id).Add(w.domain_id).Add(w.url).Add(w.events).Add(w.secret);
  p.Add(w.created_at);
  static const std::string kSql = std::string("INSERT INTO webhooks (") +
                                  kWebhookColumns +
                                  ") VALUES ($1, $2, $3, $4, $5, $6)";
  SMS_RETURN_IF_ERROR(c->Exec(kSql, p));
  return Ok();
}

Result<std::vector<Webhook>> PostgresStore::ListWebhooks(
    const std::string& domain_id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id);
  static const std::string kSql =
      std::string("SELECT ") + kWebhookColumns +
      " FROM webhooks WHERE domain_id = $1 ORDER BY created_at, id";
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  std::vector<Webhook> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(ReadWebhook(r, i));
  return out;
}

Result<Webhook> PostgresStore::GetWebhook(const std::string& domain_id,
                                          const std::string& id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(id);
  static const std::string kSql = std::string("SELECT ") + kWebhookColumns +
                                  " FROM webhooks WHERE domain_id = $1"
                                  " AND id = $2";
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  if (r.empty()) return Fail(core::NotFound("webhook not found"));
  return ReadWebhook(r, 0);
}

Status PostgresStore::DeleteWebhook(const std::string& domain_id,
                                    const std::string& id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.Begin());
  Params p;
  p.Add(domain_id).Add(id);
  SMS_ASSIGN_OR_RETURN(Rows r,
                       c->Exec("SELECT 1 FROM webhooks WHERE domain_id = $1"
                               " AND id = $2 FOR UPDATE",
                               p));
  if (r.empty()) return Fail(core::NotFound("webhook not found"));
  Params q;
  q.Add(id);
  SMS_RETURN_IF_ERROR(
      c->Exec("DELETE FROM webhook_attempts WHERE webhook_id = $1", q));
  SMS_RETURN_IF_ERROR(
      c->Exec("DELETE FROM webhook_outbox WHERE webhook_id = $1", q));
  SMS_RETURN_IF_ERROR(
      c->Exec("DELETE FROM webhooks WHERE domain_id = $1 AND id = $2", p));
  return txn.Commit();
}

Result<std::vector<Delivery>> PostgresStore::ClaimDeliveries(
    const std::string& owner, int64_t now, int64_t lease_until, int limit) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(now).Add(limit).Add(owner).Add(lease_until);
  static const std::string kSql = rows::Sql(
      {"WITH due AS (SELECT id FROM webhook_outbox WHERE state = 'pending'"
       " AND next_attempt_at <= $1 AND lease_until <= $1"
       " ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED),"
       " o AS (UPDATE webhook_outbox x SET lease_owner = $3,"
       " lease_until = $4 FROM due WHERE x.id = due.id RETURNING x.*)"
       " SELECT ",
       kDeliveryColumns,
       " FROM o JOIN webhooks w ON w.id = o.webhook_id"
       " ORDER BY o.next_attempt_at, o.id"});
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  std::vector<Delivery> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(ReadDelivery(r, i));
  return out;
}

Status PostgresStore::RecordAttempt(const DeliveryAttempt& a) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.Begin());
  Params p;
  p.Add(a.delivery_id).Add(a.lease_owner).Add(a.next_state);
  p.Add(a.next_attempt_at);
  SMS_ASSIGN_OR_RETURN(Rows r,
                       c->Exec("UPDATE webhook_outbox SET state = $3,"
                               " attempts = attempts + 1, next_attempt_at = $4,"
                               " lease_owner = '', lease_until = 0"
                               " WHERE id = $1 AND lease_owner = $2"
                               " AND state = 'pending'"
                               " RETURNING webhook_id, attempts",
                               p));
  if (r.empty())
    return Fail(core::FailedPrecondition("delivery no longer leased"));
  Params q;
  q.Add(a.delivery_id).Add(r.Int(0, 1)).Add(r.Text(0, 0)).Add(a.at);
  q.Add(a.status).Add(a.latency_ms).Add(a.error);
  SMS_RETURN_IF_ERROR(
      c->Exec("INSERT INTO webhook_attempts (delivery_id, attempt,"
              " webhook_id, at, status, latency_ms, error)"
              " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
              q));
  return txn.Commit();
}

Result<std::vector<AttemptRow>> PostgresStore::ListAttempts(
    const std::string& domain_id, const std::string& webhook_id, int limit) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(webhook_id).Add(limit);
  SMS_ASSIGN_OR_RETURN(
      Rows r,
      c->Exec("SELECT a.delivery_id, o.event_id, o.type, o.run_id, o.state,"
              " a.attempt, a.at, a.status, a.latency_ms, a.error"
              " FROM webhook_attempts a JOIN webhook_outbox o"
              " ON o.id = a.delivery_id WHERE o.domain_id = $1"
              " AND a.webhook_id = $2 ORDER BY a.at DESC,"
              " a.delivery_id DESC, a.attempt DESC LIMIT $3",
              p));
  std::vector<AttemptRow> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(AttemptRow{.delivery_id = r.Int(i, 0),
                             .event_id = r.Text(i, 1),
                             .type = r.Text(i, 2),
                             .run_id = r.Text(i, 3),
                             .state = r.Text(i, 4),
                             .attempt = static_cast<int>(r.Int(i, 5)),
                             .at = r.Int(i, 6),
                             .status = static_cast<int>(r.Int(i, 7)),
                             .latency_ms = r.Int(i, 8),
                             .error = r.Text(i, 9)});
  }
  return out;
}

Result<std::vector<Delivery>> PostgresStore::ListRunDeliveries(
    const std::string& domain_id, const std::string& run_id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(run_id);
  static const std::string kSql =
      rows::Sql({"SELECT ", kDeliveryColumns,
                 " FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id"
                 " WHERE o.domain_id = $1 AND o.run_id = $2 ORDER BY o.id"});
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  std::vector<Delivery> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(ReadDelivery(r, i));
  return out;
}

}  // namespace sms::storage::postgres
