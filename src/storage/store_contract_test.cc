// The Store contract: every backend must pass these tests unchanged.
// A backend joins by adding a factory to Backends() below (PostgreSQL: only
// when SMS_TEST_PG_DSN is set).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "storage/caching_store.h"
#include "storage/migrations.h"
#include "storage/postgres/postgres_store.h"
#include "storage/readiness_rules.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/store.h"
#include "testing/matchers.h"
#include "testing/temp_dir.h"

namespace sms::storage {
namespace {

using ::sms::testing::HasCode;
using ::sms::testing::IsOk;

struct Backend {
  std::string name;
  // Makes an empty, migrated store; `dir` is a scratch directory.
  std::function<std::unique_ptr<Store>(const std::string& dir)> make;
};

// PostgreSQL: each test gets a fresh schema of the database named by
// SMS_TEST_PG_DSN, dropped when the test program ends.
class PgSchemas : public ::testing::Environment {
 public:
  static std::string Next() {
    static std::atomic<int> n{0};
    std::string name =
        "sms_contract_" + std::to_string(getpid()) + "_" + std::to_string(n++);
    created().push_back(name);
    return name;
  }
  void TearDown() override {
    const char* dsn = std::getenv("SMS_TEST_PG_DSN");
    for (const std::string& s : created())
      if (dsn) (void)DropPostgresSchema(dsn, s);
  }

 private:
  static std::vector<std::string>& created() {
    static std::vector<std::string> v;
    return v;
  }
};
const auto* const kPgSchemas =
    ::testing::AddGlobalTestEnvironment(new PgSchemas);

std::vector<Backend> Backends() {
  std::vector<Backend> out = {
      {"sqlite",
       [](const std::string& dir) {
         auto s = OpenSqliteStore(dir + "/contract.db");
         if (!s) ADD_FAILURE() << s.error().ToString();
         return s ? std::move(*s) : nullptr;
       }},
      // What sms-server serves: SQLite behind the read cache.
      {"sqlite_cached",
       [](const std::string& dir) -> std::unique_ptr<Store> {
         auto s = OpenSqliteStore(dir + "/contract.db");
         if (!s) ADD_FAILURE() << s.error().ToString();
         return s ? NewCachingStore(std::move(*s)) : nullptr;
       }},
  };
  if (const char* dsn = std::getenv("SMS_TEST_PG_DSN"); dsn && *dsn) {
    out.push_back({"postgres", [dsn = std::string(dsn)](const std::string&) {
                     PostgresOptions o;
                     o.schema = PgSchemas::Next();
                     auto s = OpenPostgresStore(dsn, o);
                     if (!s) ADD_FAILURE() << s.error().ToString();
                     return s ? std::move(*s) : nullptr;
                   }});
  }
  return out;
}

class StoreContractTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    store_ = GetParam().make(dir_.path());
    ASSERT_NE(store_, nullptr);
    ASSERT_THAT(store_->CreateDomain({"d1", "acme", 1}), IsOk());
    ASSERT_THAT(store_->CreateDomain({"d2", "other", 1}), IsOk());
    ASSERT_THAT(store_->UpsertSource(MakeSource("d1", "s1")), IsOk());
    ASSERT_THAT(store_->CreateTask(MakeTask("d1", "t1", "s1")), IsOk());
  }

  static Source MakeSource(std::string domain, std::string id) {
    Source s;
    s.id = std::move(id);
    s.domain_id = std::move(domain);
    s.owner_user_id = "agent-user";
    s.name = "src-" + s.id;
    s.hostname = "host-" + s.id;
    s.ip = "10.0.0.1";
    s.os_type = "LINUX";
    s.os_version = "debian12";
    s.agent_version = "0.1";
    s.created_at = 10;
    return s;
  }
  static Task MakeTask(std::string domain, std::string id, std::string source) {
    Task t;
    t.id = std::move(id);
    t.domain_id = std::move(domain);
    t.name = "task-" + t.id;
    t.type = "MIGRATE_FILE";
    t.os_type = "LINUX";
    t.source_id = std::move(source);
    t.target_name = "target";
    t.target_ip = "10.0.0.2";
    t.target_verify_uri = "file:///mnt/target";
    t.state = TaskState::kReady;
    t.created_at = 100;
    t.updated_at = 100;
    return t;
  }
  static storage::Run MakeRun(std::string domain, std::string task,
                              std::string id, std::string hash) {
    storage::Run r;
    r.run_id = std::move(id);
    r.domain_id = std::move(domain);
    r.task_id = std::move(task);
    r.started_time = 1000;
    r.finished_time = 2000;
    r.check_result = "success";
    r.mode = "hash";
    r.hash_algorithm = "xxh128";
    r.content_hash = std::move(hash);
    r.committed_at = 2001;
    r.dirs = {{"/root/sync", 1, 0, 0, 0, 0, 0, 0, 5},
              {"/etc", 7, 1, 2, 3, 4, 5, 6, 700}};
    return r;
  }
  static DetailChunk MakeChunk(std::string run, int64_t seq, int files,
                               std::string hash = "h") {
    DetailChunk c;
    c.run_id = std::move(run);
    c.domain_id = "d1";
    c.task_id = "t1";
    c.seq = seq;
    c.content_hash = std::move(hash);
    for (int i = 0; i < files; ++i) {
      c.files.push_back({i % 2 ? "/etc" : "/root/sync",
                         "f" + std::to_string(seq) + "_" + std::to_string(i),
                         "", i % 3 ? "different" : "target_miss", "content",
                         R"({"type":"file","size":1})", ""});
    }
    return c;
  }

  sms::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

using core::ErrorCode;

TEST_P(StoreContractTest, DomainsAreUniqueByName) {
  auto again = store_->CreateDomain({"d3", "acme", 1});
  ASSERT_FALSE(again);
  EXPECT_THAT(again, HasCode(ErrorCode::kAlreadyExists));
  auto d = store_->GetDomainByName("acme");
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->id, "d1");
  EXPECT_THAT(store_->GetDomain("nope"), HasCode(ErrorCode::kNotFound));
}

// Inside a read scope reads answer as outside it, and a write is refused
// rather than run inside the read transaction; afterwards writes work.
TEST_P(StoreContractTest, ReadScopeReadsAndRefusesWrites) {
  ASSERT_THAT(store_->CreateUser({"u1", "d1", "alice", "admin", "ph", 1}),
              IsOk());
  {
    auto scope = store_->BeginReadScope();
    EXPECT_EQ(store_->GetDomainByName("acme")->id, "d1");
    EXPECT_EQ(store_->GetUserByName("d1", "alice")->id, "u1");
    EXPECT_THAT(store_->GetDomain("nope"), HasCode(ErrorCode::kNotFound));
    if (scope) {
      auto w = store_->CreateUser({"u2", "d1", "bob", "admin", "ph", 1});
      ASSERT_FALSE(w);
      EXPECT_THAT(w, HasCode(ErrorCode::kInternal));
      EXPECT_EQ(store_->BeginReadScope(), nullptr) << "scopes do not nest";
    }
  }
  ASSERT_THAT(store_->CreateUser({"u2", "d1", "bob", "admin", "ph", 1}),
              IsOk());
  EXPECT_EQ(store_->GetUserByName("d1", "bob")->id, "u2");
}

TEST_P(StoreContractTest, UsersAreScopedByDomain) {
  ASSERT_THAT(store_->CreateUser({"u1", "d1", "alice", "admin", "ph", 1}),
              IsOk());
  ASSERT_THAT(store_->CreateUser({"u2", "d2", "alice", "viewer", "ph2", 1}),
              IsOk());
  auto a = store_->GetUserByName("d1", "alice");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->id, "u1");
  EXPECT_EQ(a->role, "admin");
  EXPECT_EQ(store_->GetUserByName("d2", "alice")->id, "u2");
  EXPECT_THAT(store_->GetUser("d2", "u1"), HasCode(ErrorCode::kNotFound));
  EXPECT_EQ(
      store_->CreateUser({"u3", "d1", "alice", "admin", "x", 1}).error().code,
      ErrorCode::kAlreadyExists);
}

TEST_P(StoreContractTest, CredentialsAndTokensRevoke) {
  ASSERT_THAT(store_->CreateUser({"u1", "d1", "alice", "admin", "ph", 1}),
              IsOk());
  ASSERT_THAT(store_->CreateCredential({"AK1", "d1", "u1", "SK1", 5, {}}),
              IsOk());
  auto c = store_->GetCredential("AK1");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->secret_key, "SK1");
  EXPECT_FALSE(c->revoked_at.has_value());
  ASSERT_THAT(store_->RevokeCredential("AK1", 9), IsOk());
  EXPECT_EQ(store_->GetCredential("AK1")->revoked_at, 9);
  EXPECT_THAT(store_->RevokeCredential("AK1", 10),
              HasCode(ErrorCode::kNotFound));

  ASSERT_THAT(store_->CreateToken({"hash1", "d1", "u1", 1, 100, {}}), IsOk());
  auto t = store_->GetToken("hash1");
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ(t->expires_at, 100);
  auto resolved = store_->ResolveToken("hash1");
  ASSERT_THAT(resolved, IsOk());
  EXPECT_EQ(resolved->user.name, "alice");
  EXPECT_EQ(resolved->user.role, "admin");
  EXPECT_EQ(resolved->domain.name, "acme");
  EXPECT_EQ(resolved->token.expires_at, 100);
  EXPECT_THAT(store_->ResolveToken("nope"), HasCode(ErrorCode::kNotFound));
  ASSERT_THAT(store_->RevokeToken("hash1", 50), IsOk());
  EXPECT_EQ(store_->ResolveToken("hash1")->token.revoked_at, 50);
  EXPECT_EQ(store_->GetToken("hash1")->revoked_at, 50);
  EXPECT_THAT(store_->GetToken("nope"), HasCode(ErrorCode::kNotFound));
}

TEST_P(StoreContractTest, SignaturesAreRememberedUntilTheyExpire) {
  ASSERT_THAT(store_->RememberSignature("AK1:aa", 100, 10), IsOk());
  EXPECT_THAT(store_->RememberSignature("AK1:aa", 100, 50),
              HasCode(ErrorCode::kAlreadyExists));
  ASSERT_THAT(store_->RememberSignature("AK1:bb", 100, 50), IsOk());
  ASSERT_THAT(store_->RememberSignature("AK2:aa", 100, 50), IsOk());
  // Expired at 100 (not yet purged): the key is accepted again.
  ASSERT_THAT(store_->RememberSignature("AK1:aa", 300, 100), IsOk());
  EXPECT_THAT(store_->RememberSignature("AK1:aa", 300, 200),
              HasCode(ErrorCode::kAlreadyExists));
  // The purge drops what has expired, a bounded batch at a time.
  auto purged = store_->PurgeSignatures(150, 1);
  ASSERT_THAT(purged, IsOk());
  EXPECT_EQ(*purged, 1);  // AK1:bb or AK2:aa (both expired at 100)
  purged = store_->PurgeSignatures(150, 10);
  ASSERT_THAT(purged, IsOk());
  EXPECT_EQ(*purged, 1);  // the other; AK1:aa is held until 300
  EXPECT_THAT(store_->RememberSignature("AK1:aa", 300, 250),
              HasCode(ErrorCode::kAlreadyExists));
  ASSERT_THAT(store_->RememberSignature("AK1:bb", 400, 250), IsOk());
}

TEST_P(StoreContractTest, ABatchOfSignaturesIsRememberedInOneCall) {
  ASSERT_THAT(store_->RememberSignature("AK1:held", 1000, 1), IsOk());
  auto fresh = store_->RememberSignatures({{"AK1:a", 1000},
                                           {"AK1:held", 1000},
                                           {"AK1:b", 1000},
                                           {"AK1:a", 1000}},  // repeated
                                          2);
  ASSERT_THAT(fresh, IsOk());
  EXPECT_EQ(*fresh, (std::vector<bool>{true, false, true, false}));
  EXPECT_THAT(store_->RememberSignature("AK1:b", 1000, 3),
              HasCode(ErrorCode::kAlreadyExists));
  auto none = store_->RememberSignatures({}, 4);
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreContractTest, HeartbeatsKeepTheLatestPollOfEachSource) {
  ASSERT_THAT(store_->UpsertSource(MakeSource("d2", "s2")), IsOk());
  ASSERT_THAT(store_->RecordHeartbeats({{"d1", "s1", 5000},
                                        {"d2", "s2", 7000},
                                        {"d1", "s1", 6000},
                                        {"d1", "unknown", 8000},
                                        {"d2", "s1", 9000}}),  // other tenant
              IsOk());
  EXPECT_EQ(store_->GetSource("d1", "s1")->last_seen_at, 6000);
  EXPECT_EQ(store_->GetSource("d2", "s2")->last_seen_at, 7000);
  // An older beat (a replica flushing late) does not move it back.
  ASSERT_THAT(store_->RecordHeartbeats({{"d1", "s1", 5500}}), IsOk());
  EXPECT_EQ(store_->GetSource("d1", "s1")->last_seen_at, 6000);
  ASSERT_THAT(store_->RecordHeartbeats({}), IsOk());
}

TEST_P(StoreContractTest, ConcurrentReplaysOfOneSignatureLandOnce) {
  std::atomic<int> accepted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto s = store_->RememberSignature("AK1:same", 1000, 1);
      if (s)
        ++accepted;
      else if (s.error().code == ErrorCode::kAlreadyExists)
        ++refused;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(refused.load(), 7);
}

TEST_P(StoreContractTest, LoginFailuresCountPerKeyAndAreForgotten) {
  const LoginFailureKey alice{"d1", "alice", "10.0.0.1"};
  const LoginFailureKey alice_elsewhere{"d1", "alice", "10.0.0.2"};
  const LoginFailureKey bob{"d1", "bob", "10.0.0.1"};
  const LoginFailureKey address{"", "", "10.0.0.1"};
  auto none = store_->GetLoginFailures(alice, 0);
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(none->count, 0);
  for (int i = 1; i <= 3; ++i) {
    auto n = store_->RecordLoginFailure(alice, 100 + i, 0);
    ASSERT_THAT(n, IsOk());
    EXPECT_EQ(n->count, i);
    EXPECT_EQ(n->last_at, 100 + i);
  }
  ASSERT_THAT(store_->RecordLoginFailure(alice_elsewhere, 100, 0), IsOk());
  ASSERT_THAT(store_->RecordLoginFailure(bob, 100, 0), IsOk());
  ASSERT_THAT(store_->RecordLoginFailure(address, 100, 0), IsOk());
  EXPECT_EQ(store_->GetLoginFailures(alice, 0)->count, 3);
  EXPECT_EQ(store_->GetLoginFailures(bob, 0)->count, 1);
  // A success clears one key; an admin a user's every address, or every
  // budget of an address.
  EXPECT_EQ(*store_->ClearLoginFailures(alice), 1);
  EXPECT_EQ(store_->GetLoginFailures(alice, 0)->count, 0);
  EXPECT_EQ(store_->GetLoginFailures(alice_elsewhere, 0)->count, 1);
  ASSERT_THAT(store_->RecordLoginFailure(alice, 104, 0), IsOk());
  EXPECT_EQ(*store_->ClearLoginFailures({"d1", "alice", ""}), 2);
  EXPECT_EQ(store_->GetLoginFailures(bob, 0)->count, 1);
  EXPECT_EQ(store_->GetLoginFailures(address, 0)->count, 1);
  ASSERT_THAT(store_->RecordLoginFailure(alice, 105, 0), IsOk());
  EXPECT_EQ(*store_->ClearLoginFailures({"", "", "10.0.0.1"}), 3);
  EXPECT_THAT(store_->ClearLoginFailures({}),
              HasCode(ErrorCode::kInvalidArgument));
  // Older than `since`: forgotten when read, counted again from 1, and
  // dropped by the next failure recorded.
  ASSERT_THAT(store_->RecordLoginFailure(alice, 110, 0), IsOk());
  ASSERT_THAT(store_->RecordLoginFailure(alice, 111, 0), IsOk());
  EXPECT_EQ(store_->GetLoginFailures(alice, 200)->count, 0);
  EXPECT_EQ(store_->RecordLoginFailure(alice, 300, 200)->count, 1);
  EXPECT_EQ(store_->GetLoginFailures(alice_elsewhere, 0)->count, 0);
  EXPECT_EQ(store_->GetLoginFailures(alice, 0)->count, 1);
}

TEST_P(StoreContractTest, ConcurrentLoginFailuresAllCount) {
  const LoginFailureKey key{"d1", "alice", "10.0.0.1"};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back(
        [&] { (void)store_->RecordLoginFailure(key, 1000, 0); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(store_->GetLoginFailures(key, 0)->count, 8);
}

// The agent loop's ownership check (held by CachingStore): the registrant,
// kept when another agent registers the same machine again, unknown in
// another tenant and for an unknown id.
TEST_P(StoreContractTest, ASourceOwnerIsWhoRegisteredIt) {
  EXPECT_EQ(*store_->GetSourceOwner("d1", "s1"), "agent-user");
  Source again = MakeSource("d1", "s-other");
  again.name = "src-s1";
  again.hostname = "host-s1";
  again.owner_user_id = "another-agent";
  ASSERT_EQ(store_->UpsertSource(again)->id, "s1");
  ASSERT_THAT(store_->RecordHeartbeats({{"d1", "s1", 9000}}), IsOk());
  EXPECT_EQ(*store_->GetSourceOwner("d1", "s1"), "agent-user");
  EXPECT_THAT(store_->GetSourceOwner("d2", "s1"),
              HasCode(ErrorCode::kNotFound));
  EXPECT_THAT(store_->GetSourceOwner("d1", "s-other"),
              HasCode(ErrorCode::kNotFound));
}

// The uploads' ownership check (held by CachingStore): the source the
// task was created with, kept through the writes of its state, unknown in
// another tenant, for an unknown id and once the task is deleted.
TEST_P(StoreContractTest, ATaskSourceIsTheOneItWasCreatedWith) {
  EXPECT_EQ(*store_->GetTaskSource("d1", "t1"), "s1");
  ASSERT_THAT(store_->UpdateTaskState("d1", "t1", TaskState::kReady,
                                      TaskState::kRunning, "r1", 5),
              IsOk());
  EXPECT_EQ(*store_->GetTaskSource("d1", "t1"), "s1");
  EXPECT_THAT(store_->GetTaskSource("d2", "t1"), HasCode(ErrorCode::kNotFound));
  EXPECT_THAT(store_->GetTaskSource("d1", "t-other"),
              HasCode(ErrorCode::kNotFound));
  ASSERT_THAT(store_->DeleteTask("d1", "t1"), IsOk());
  EXPECT_THAT(store_->GetTaskSource("d1", "t1"), HasCode(ErrorCode::kNotFound));
}

TEST_P(StoreContractTest, UpsertSourceKeepsIdForSameAgent) {
  Source s = MakeSource("d1", "s9");
  s.name = "web";
  s.hostname = "web01";
  auto first = store_->UpsertSource(s);
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->id, "s9");
  Source again = s;
  again.id = "s10";
  again.ip = "10.9.9.9";
  auto second = store_->UpsertSource(again);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->id, "s9");
  EXPECT_EQ(second->ip, "10.9.9.9");
  // The same name in another domain is another source.
  Source other = s;
  other.id = "s11";
  other.domain_id = "d2";
  EXPECT_EQ(store_->UpsertSource(other)->id, "s11");
  EXPECT_THAT(store_->GetSource("d2", "s9"), HasCode(ErrorCode::kNotFound));
  auto page = store_->ListSources("d1", {});
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->count, 2);  // s1 and s9
  SourceFilter by_name;
  by_name.name = "web";
  EXPECT_EQ(store_->ListSources("d1", by_name)->count, 1);
}

TEST_P(StoreContractTest, TasksAreScopedByDomain) {
  EXPECT_THAT(store_->GetTask("d1", "t1"), IsOk());
  EXPECT_THAT(store_->GetTask("d2", "t1"), HasCode(ErrorCode::kNotFound));
  EXPECT_THAT(store_->DeleteTask("d2", "t1"), HasCode(ErrorCode::kNotFound));
  EXPECT_EQ(store_->ListTasks("d2", {})->count, 0);
  EXPECT_THAT(store_->PutTaskConfigs("d2", "t1", {{"K", "V"}}),
              HasCode(ErrorCode::kNotFound));
  EXPECT_THAT(store_->GetTaskConfigs("d2", "t1"),
              HasCode(ErrorCode::kNotFound));
  EXPECT_THAT(store_->GetTask("d1", "t1"), IsOk());
}

TEST_P(StoreContractTest, ListTasksFiltersAndPages) {
  for (int i = 2; i <= 5; ++i) {
    Task t = MakeTask("d1", "t" + std::to_string(i), i % 2 ? "s1" : "s2");
    t.created_at = 100 + i;
    ASSERT_THAT(store_->CreateTask(t), IsOk());
  }
  TaskFilter f;
  f.limit = 2;
  auto page = store_->ListTasks("d1", f);
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->count, 5);
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].id, "t5");  // newest first
  f.offset = 4;
  EXPECT_EQ(store_->ListTasks("d1", f)->items.size(), 1u);
  TaskFilter by_source;
  by_source.source_id = "s2";
  EXPECT_EQ(store_->ListTasks("d1", by_source)->count, 2);
  TaskFilter by_name;
  by_name.name = "task-t3";
  EXPECT_EQ(store_->ListTasks("d1", by_name)->items.at(0).id, "t3");
}

TEST_P(StoreContractTest, ConfigsUpsert) {
  ASSERT_THAT(store_->PutTaskConfigs("d1", "t1", {{"A", "1"}, {"B", "2"}}),
              IsOk());
  ASSERT_THAT(store_->PutTaskConfigs("d1", "t1", {{"A", "3"}}), IsOk());
  auto c = store_->GetTaskConfigs("d1", "t1");
  ASSERT_THAT(c, IsOk());
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].value, "3");
  EXPECT_EQ((*c)[1].value, "2");
}

TEST_P(StoreContractTest, CommandLoopMovesTaskState) {
  const Command cmd{.domain_id = "d1",
                    .source_id = "s1",
                    .task_id = "t1",
                    .run_id = "r1",
                    .name = CommandName::kConsistencyCheck,
                    .param_json = "{}",
                    .state = CommandState::kPending,
                    .created_at = 5,
                    .updated_at = 5};
  auto queued =
      store_->EnqueueCommand(cmd, TaskState::kReady, TaskState::kRunning);
  ASSERT_THAT(queued, IsOk());
  EXPECT_GT(queued->id, 0);
  EXPECT_EQ(store_->GetTask("d1", "t1")->state, TaskState::kRunning);
  EXPECT_EQ(store_->GetTask("d1", "t1")->current_run_id, "r1");
  // Second enqueue from READY fails: the task is RUNNING.
  EXPECT_THAT(
      store_->EnqueueCommand(cmd, TaskState::kReady, TaskState::kRunning),
      HasCode(ErrorCode::kFailedPrecondition));
  // Another tenant's agent is handed nothing of this source.
  auto other = store_->NextCommand("d2", "s1", 6);
  ASSERT_THAT(other, IsOk());
  EXPECT_FALSE(other->has_value());
  // Not cancellable by another tenant.
  EXPECT_THAT(store_->CancelPendingCommand("d2", queued->id, 6),
              HasCode(ErrorCode::kFailedPrecondition));
  auto next = store_->NextCommand("d1", "s1", 7);
  ASSERT_THAT(next, IsOk());
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ((*next)->run_id, "r1");
  EXPECT_EQ((*next)->state, CommandState::kDelivered);
  EXPECT_EQ((*next)->updated_at, 7);
  auto none = store_->NextCommand("d1", "s1", 8);
  ASSERT_THAT(none, IsOk());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(
      store_->LatestDeliveredCommand("d1", "s1", CommandName::kConsistencyCheck)
          ->id,
      queued->id);
  EXPECT_THAT(store_->LatestDeliveredCommand("d1", "s1", CommandName::kStop),
              HasCode(ErrorCode::kNotFound));
  // By its run: only this source's, this tenant's, and while delivered.
  EXPECT_EQ(store_->DeliveredCommandOfRun("d1", "s1", "r1")->id, queued->id);
  EXPECT_THAT(store_->DeliveredCommandOfRun("d1", "s1", "r2"),
              HasCode(ErrorCode::kNotFound));
  EXPECT_THAT(store_->DeliveredCommandOfRun("d1", "s2", "r1"),
              HasCode(ErrorCode::kNotFound));
  EXPECT_THAT(store_->DeliveredCommandOfRun("d2", "s1", "r1"),
              HasCode(ErrorCode::kNotFound));
  EXPECT_EQ(
      store_->LatestDeliveredCommand("d2", "s1", CommandName::kConsistencyCheck)
          .error()
          .code,
      ErrorCode::kNotFound);
  // Delivered: too late to cancel.
  EXPECT_THAT(store_->CancelPendingCommand("d1", queued->id, 8),
              HasCode(ErrorCode::kFailedPrecondition));
  auto latest = store_->LatestTaskCommand("d1", "t1");
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->id, queued->id);
  ASSERT_TRUE(store_->FinishCommand("d1", latest->id, CommandState::kDone,
                                    "success", "{}", 9));
  EXPECT_EQ(store_->LatestTaskCommand("d1", "t1")->result, "success");
  EXPECT_THAT(store_->DeliveredCommandOfRun("d1", "s1", "r1"),
              HasCode(ErrorCode::kNotFound));
  EXPECT_EQ(
      store_->FinishCommand("d2", latest->id, CommandState::kDone, "", "", 9)
          .error()
          .code,
      ErrorCode::kNotFound);
}

TEST_P(StoreContractTest, CommitRunIsIdempotentByContent) {
  storage::Run r = MakeRun("d1", "t1", "r1", "hash-a");
  auto first = store_->CommitRun(r);
  ASSERT_THAT(first, IsOk()) << first.error().ToString();
  EXPECT_EQ(*first, CommitOutcome::kCommitted);
  EXPECT_EQ(*store_->CommitRun(r), CommitOutcome::kAlreadyCommitted);
  storage::Run changed = MakeRun("d1", "t1", "r1", "hash-b");
  EXPECT_THAT(store_->CommitRun(changed), HasCode(ErrorCode::kAlreadyExists));
  // The same run id from another tenant is that tenant's own run, never a
  // conflict nor a read (RunIdsAreScopedPerTenant).
  ASSERT_THAT(store_->CreateTask(MakeTask("d2", "tx", "sx")), IsOk());
  EXPECT_EQ(*store_->CommitRun(MakeRun("d2", "tx", "r1", "hash-b")),
            CommitOutcome::kCommitted);
  auto runs = store_->ListRuns("d1", "t1", 100);
  ASSERT_THAT(runs, IsOk());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].dirs.size(), 2u);
  EXPECT_EQ((*runs)[0].dirs[1].num_metadata_different_files, 6);
  EXPECT_EQ((*runs)[0].dirs[1].num_bytes_verified, 700);
  EXPECT_TRUE(store_->ListRuns("d2", "t1", 100)->empty());
  EXPECT_EQ(store_->GetRun("d2", "r1")->content_hash, "hash-b");  // its own
  EXPECT_EQ(store_->GetRun("d1", "r1")->content_hash, "hash-a");
}

TEST_P(StoreContractTest, ARunKeepsItsScopeAndCacheCounters) {
  storage::Run r = MakeRun("d1", "t1", "r1", "h");
  r.scope = "inconsistent";
  r.dirs[1].num_corrupt_files = 3;
  r.dirs[1].num_cached_files = 2147483647;
  r.dirs[1].num_bytes_read = int64_t{5} << 40;  // beyond 32 bits
  r.dirs[1].num_target_cached_files = 11;
  r.dirs[1].num_target_bytes_read = int64_t{3} << 40;
  ASSERT_THAT(store_->CommitRun(r), IsOk());
  ASSERT_THAT(store_->CommitRun(MakeRun("d1", "t1", "r2", "h")), IsOk());
  for (const auto& run : {*store_->GetRun("d1", "r1"),
                          store_->ListRuns("d1", "t1", 10)->back()}) {
    EXPECT_EQ(run.scope, "inconsistent");
    ASSERT_EQ(run.dirs.size(), 2u);
    EXPECT_EQ(run.dirs[0].num_corrupt_files, 0);
    EXPECT_EQ(run.dirs[1].num_corrupt_files, 3);
    EXPECT_EQ(run.dirs[1].num_cached_files, 2147483647);
    EXPECT_EQ(run.dirs[1].num_bytes_read, int64_t{5} << 40);
    EXPECT_EQ(run.dirs[1].num_target_cached_files, 11);
    EXPECT_EQ(run.dirs[1].num_target_bytes_read, int64_t{3} << 40);
    EXPECT_EQ(run.dirs[1].num_bytes_verified, 700);
  }
  auto full = store_->GetRun("d1", "r2");
  ASSERT_THAT(full, IsOk());
  EXPECT_EQ(full->scope, "");
  EXPECT_EQ(full->base_run_id, "");
}

// Issue 12.5: a re-check keeps the run it checked again, read back by
// every way a run is read.
TEST_P(StoreContractTest, ARecheckKeepsItsBaseRun) {
  ASSERT_THAT(store_->CommitRun(MakeRun("d1", "t1", "r1", "h")), IsOk());
  storage::Run r = MakeRun("d1", "t1", "r2", "h");
  r.scope = "inconsistent";
  r.base_run_id = "r1";
  ASSERT_THAT(store_->CommitRun(r), IsOk());
  auto got = store_->GetRun("d1", "r2");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->base_run_id, "r1");
  EXPECT_EQ(got->dirs.size(), 2u);
  auto listed = store_->ListRuns("d1", "t1", 10);
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].base_run_id, "r1");
  EXPECT_EQ((*listed)[1].base_run_id, "");
  auto before = store_->ListRunsBefore("d1", "t1", "", 10);
  ASSERT_THAT(before, IsOk());
  ASSERT_FALSE(before->empty());
  EXPECT_EQ(before->front().base_run_id, "r1");
  // The same upload again is the same run.
  EXPECT_THAT(store_->CommitRun(r), IsOk());
}

TEST_P(StoreContractTest, CommitRunToUnknownTaskIsNotFound) {
  EXPECT_THAT(store_->CommitRun(MakeRun("d2", "t1", "r1", "h")),
              HasCode(ErrorCode::kNotFound));
}

TEST_P(StoreContractTest, RunsAreNewestFirstAndLimited) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        store_->CommitRun(MakeRun("d1", "t1", "r" + std::to_string(i), "h")));
  }
  auto runs = store_->ListRuns("d1", "t1", 3);
  ASSERT_THAT(runs, IsOk());
  ASSERT_EQ(runs->size(), 3u);
  EXPECT_EQ((*runs)[0].run_id, "r4");
  EXPECT_EQ((*runs)[2].run_id, "r2");
}

TEST_P(StoreContractTest, RunsBeforeWalkEveryRunByKeysetPages) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(
        store_->CommitRun(MakeRun("d1", "t1", "r" + std::to_string(i), "h")),
        IsOk());
  }
  std::vector<std::string> seen;
  std::string before;
  for (;;) {
    auto page = store_->ListRunsBefore("d1", "t1", before, 2);
    ASSERT_THAT(page, IsOk());
    if (page->empty()) break;
    ASSERT_LE(page->size(), 2u);
    for (const storage::Run& r : *page) {
      seen.push_back(r.run_id);
      EXPECT_FALSE(r.dirs.empty()) << r.run_id;  // directories come along
    }
    before = page->back().run_id;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"r4", "r3", "r2", "r1", "r0"}));
  // Another domain's task, or a run id it does not know: nothing.
  EXPECT_TRUE(store_->ListRunsBefore("d2", "t1", "", 10)->empty());
  EXPECT_TRUE(store_->ListRunsBefore("d1", "t1", "no-such-run", 10)->empty());
}

TEST_P(StoreContractTest, CommitReturnsRunningTaskToReady) {
  const Command cmd{.domain_id = "d1",
                    .source_id = "s1",
                    .task_id = "t1",
                    .run_id = "r1",
                    .name = CommandName::kConsistencyCheck,
                    .param_json = "{}",
                    .state = CommandState::kPending,
                    .created_at = 5,
                    .updated_at = 5};
  ASSERT_THAT(
      store_->EnqueueCommand(cmd, TaskState::kReady, TaskState::kRunning),
      IsOk());
  ASSERT_THAT(store_->CommitRun(MakeRun("d1", "t1", "r1", "h")), IsOk());
  EXPECT_EQ(store_->GetTask("d1", "t1")->state, TaskState::kReady);
  EXPECT_EQ(store_->LatestTaskCommand("d1", "t1")->state, CommandState::kDone);
}

TEST_P(StoreContractTest, DetailsAreInvisibleUntilCommit) {
  ASSERT_EQ(*store_->StageDetails(MakeChunk("r1", 0, 3)),
            StageOutcome::kStaged);
  DetailQuery q;
  q.run_id = "r1";
  EXPECT_TRUE(store_->ListDetails("d1", q)->rows.empty());
  ASSERT_THAT(store_->CommitRun(MakeRun("d1", "t1", "r1", "h")), IsOk());
  EXPECT_EQ(store_->ListDetails("d1", q)->rows.size(), 3u);
  EXPECT_EQ(store_->ListDetails("d1", q)->total, 3);
  EXPECT_TRUE(store_->ListDetails("d2", q)->rows.empty());
  // After commit the run is closed to more details.
  EXPECT_THAT(store_->StageDetails(MakeChunk("r1", 1, 1)),
              HasCode(ErrorCode::kFailedPrecondition));
}

TEST_P(StoreContractTest, StageDetailsIsIdempotentPerSeq) {
  ASSERT_EQ(*store_->StageDetails(MakeChunk("r1", 0, 3, "a")),
            StageOutcome::kStaged);
  EXPECT_EQ(*store_->StageDetails(MakeChunk("r1", 0, 3, "a")),
            StageOutcome::kAlreadyStaged);
  EXPECT_THAT(store_->StageDetails(MakeChunk("r1", 0, 2, "b")),
              HasCode(ErrorCode::kAlreadyExists));
  DetailChunk foreign = MakeChunk("r1", 1, 1);
  foreign.domain_id = "d2";
  EXPECT_THAT(store_->StageDetails(foreign), HasCode(ErrorCode::kNotFound));
}

TEST_P(StoreContractTest, DetailsPageByKeysetAndFilter) {
  ASSERT_THAT(store_->StageDetails(MakeChunk("r1", 1, 7)), IsOk());
  ASSERT_THAT(store_->StageDetails(MakeChunk("r1", 0, 5)), IsOk());
  ASSERT_THAT(store_->CommitRun(MakeRun("d1", "t1", "r1", "h")), IsOk());
  DetailQuery q;
  q.run_id = "r1";
  q.limit = 4;
  std::vector<std::string> seen;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = store_->ListDetails("d1", q);
    ASSERT_THAT(page, IsOk());
    EXPECT_EQ(page->total, 12);
    for (const auto& r : page->rows) seen.push_back(r.file.path);
    if (page->rows.size() < 4u) break;
    q.after_seq = page->rows.back().seq;
    q.after_idx = page->rows.back().idx;
  }
  ASSERT_EQ(seen.size(), 12u);
  EXPECT_EQ(seen.front(), "f0_0");  // seq order, not upload order
  EXPECT_EQ(seen.back(), "f1_6");
  DetailQuery filtered;
  filtered.run_id = "r1";
  filtered.dir_check = "/etc";
  filtered.status = "different";
  auto filtered_page = store_->ListDetails("d1", filtered);
  ASSERT_THAT(filtered_page, IsOk());
  const auto* rows = &filtered_page->rows;
  for (const auto& r : *rows) {
    EXPECT_EQ(r.file.dir_check, "/etc");
    EXPECT_EQ(r.file.status, "different");
  }
  EXPECT_EQ(rows->size(), 3u);  // odd i with i % 3 != 0: {1} and {1, 5}
}

// Every filter shape pages a run in (seq, idx) order, each matching row
// once: SQLite walks a different index per shape (sqlite/detail_page_sql.h),
// and with both filters the directory's or the status's rows, whichever are
// fewer (/b with different: the directory's; /a with target_miss: the
// status's).
TEST_P(StoreContractTest, FilteredDetailPagesReturnEveryMatchOnceInOrder) {
  auto file_of = [](int n) {
    return FileDetail{n % 7 ? "/a" : "/b",
                      "p" + std::to_string(n),
                      "",
                      n % 5 ? "different" : "target_miss",
                      "content",
                      R"({"type":"file","size":1})",
                      ""};
  };
  for (int64_t seq : {3, 1, 0, 2}) {  // staged out of order
    DetailChunk c = MakeChunk("r1", seq, 0, "h" + std::to_string(seq));
    for (int i = 0; i < 10; ++i) c.files.push_back(file_of(seq * 10 + i));
    ASSERT_THAT(store_->StageDetails(c), IsOk());
  }
  ASSERT_THAT(store_->CommitRun(MakeRun("d1", "t1", "r1", "h")), IsOk());
  using Filter =
      std::pair<std::optional<std::string>, std::optional<std::string>>;
  const std::vector<Filter> filters = {{std::nullopt, std::nullopt},
                                       {"/a", std::nullopt},
                                       {"/b", std::nullopt},
                                       {std::nullopt, "target_miss"},
                                       {std::nullopt, "different"},
                                       {"/b", "different"},
                                       {"/a", "target_miss"},
                                       {"/b", "target_miss"},
                                       {"/none", std::nullopt},
                                       {std::nullopt, "none"},
                                       {"/a", "none"}};
  for (const auto& [dir, status] : filters) {
    std::vector<std::string> want;
    for (int n = 0; n < 40; ++n) {
      FileDetail f = file_of(n);
      if ((!dir || f.dir_check == *dir) && (!status || f.status == *status))
        want.push_back(f.path);
    }
    DetailQuery q;
    q.run_id = "r1";
    q.dir_check = dir;
    q.status = status;
    q.limit = 3;
    std::vector<std::string> seen;
    for (int pages = 0; pages < 20; ++pages) {
      auto page = store_->ListDetails("d1", q);
      ASSERT_THAT(page, IsOk());
      EXPECT_EQ(page->total, static_cast<int64_t>(want.size()));
      for (const auto& r : page->rows) seen.push_back(r.file.path);
      if (page->rows.size() < 3u) break;
      q.after_seq = page->rows.back().seq;
      q.after_idx = page->rows.back().idx;
    }
    EXPECT_EQ(seen, want) << dir.value_or("-") << " " << status.value_or("-");
  }
}

TEST_P(StoreContractTest, DeleteTaskRemovesRunsAndDetails) {
  ASSERT_THAT(store_->StageDetails(MakeChunk("r1", 0, 3)), IsOk());
  ASSERT_THAT(store_->CommitRun(MakeRun("d1", "t1", "r1", "h")), IsOk());
  ASSERT_THAT(store_->PutTaskConfigs("d1", "t1", {{"A", "1"}}), IsOk());
  ASSERT_THAT(store_->DeleteTask("d1", "t1"), IsOk());
  EXPECT_THAT(store_->GetTask("d1", "t1"), HasCode(ErrorCode::kNotFound));
  EXPECT_THAT(store_->GetRun("d1", "r1"), HasCode(ErrorCode::kNotFound));
  DetailQuery q;
  q.run_id = "r1";
  EXPECT_TRUE(store_->ListDetails("d1", q)->rows.empty());
  EXPECT_THAT(store_->DeleteTask("d1", "t1"), HasCode(ErrorCode::kNotFound));
}

TEST_P(StoreContractTest, SourceShowsWhetherResultsExist) {
  EXPECT_FALSE(store_->GetSource("d1", "s1")->has_results);
  ASSERT_THAT(store_->CommitRun(MakeRun("d1", "t1", "r1", "h")), IsOk());
  EXPECT_TRUE(store_->GetSource("d1", "s1")->has_results);
}

TEST_P(StoreContractTest, ConcurrentCommitsAllLand) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 10; ++i) {
        auto r = store_->CommitRun(
            MakeRun("d1", "t1",
                    "r" + std::to_string(t) + "_" + std::to_string(i), "h"));
        EXPECT_THAT(r, IsOk());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store_->ListRuns("d1", "t1", 100)->size(), 40u);
}

TEST_P(StoreContractTest, ConcurrentRetriesOfOneRunCommitOnce) {
  std::atomic<int> committed{0}, already{0}, conflict{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto r = store_->CommitRun(
          MakeRun("d1", "t1", "same", t < 6 ? "hash-a" : "hash-b"));
      if (r && *r == CommitOutcome::kCommitted) ++committed;
      if (r && *r == CommitOutcome::kAlreadyCommitted) ++already;
      if (!r && r.error().code == ErrorCode::kAlreadyExists) ++conflict;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(committed.load(), 1);
  EXPECT_EQ(committed + already + conflict, 8);
  auto runs = store_->ListRuns("d1", "t1", 100);
  ASSERT_THAT(runs, IsOk());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].dirs.size(), 2u);  // no duplicate directories
  // Which content won decides who conflicts: 6 "a" or 2 "b" callers.
  EXPECT_TRUE(conflict == 2 || conflict == 6) << conflict;
}

INSTANTIATE_TEST_SUITE_P(AllBackends, StoreContractTest,
                         ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

// --- Changes between runs, first_seen (issue 13.2) ---

// A run of t1 at `started` over `dirs`, with these details (dir, path,
// status) staged in one chunk and committed.
void CommitRunWith(Store& store, const std::string& run_id, int64_t started,
                   std::vector<std::string> dirs,
                   std::vector<std::array<std::string, 3>> files,
                   const std::string& result = "success",
                   const std::string& domain = "d1",
                   const std::string& task = "t1") {
  DetailChunk c;
  c.run_id = run_id;
  c.domain_id = domain;
  c.task_id = task;
  c.seq = 0;
  c.content_hash = "h-" + run_id;
  for (const auto& f : files)
    c.files.push_back({f[0], f[1], "", f[2], "", "", ""});
  if (!files.empty()) {
    ASSERT_THAT(store.StageDetails(c), IsOk());
  }
  Run r;
  r.run_id = run_id;
  r.domain_id = domain;
  r.task_id = task;
  r.started_time = started;
  r.finished_time = started + 1;
  r.check_result = result;
  r.mode = "hash";
  r.hash_algorithm = "xxh128";
  r.content_hash = "c-" + run_id;
  r.committed_at = started + 2;
  for (const auto& d : dirs) r.dirs.push_back({d, 10, 1, 0, 0, 0, 0, 0, 1});
  ASSERT_THAT(store.CommitRun(r), IsOk());
}

std::vector<std::string> ChangesOf(Store& store, ChangeQuery q) {
  std::vector<std::string> out;
  auto rows = store.ListChanges("d1", q);
  EXPECT_THAT(rows, IsOk());
  if (!rows) return out;
  for (const auto& r : *rows)
    out.push_back(r.change + " " + r.file.dir_check + " " + r.file.path + " " +
                  r.file.status + " " + r.from_status + " " +
                  std::to_string(r.first_seen_time));
  return out;
}

TEST_P(StoreContractTest, ChangesCoverEveryTransition) {
  // ra: /a {p different, q target_miss, r different}, /b {x different},
  //     /old {z different}
  // rb: /a {p different, r target_more, s different}, /b {}  (no /old)
  CommitRunWith(*store_, "ra", 1000, {"/a", "/b", "/old"},
                {{"/a", "p", "different"},
                 {"/a", "q", "target_miss"},
                 {"/a", "r", "different"},
                 {"/b", "x", "different"},
                 {"/old", "z", "different"}});
  CommitRunWith(*store_, "rb", 2000, {"/a", "/b"},
                {{"/a", "p", "different"},
                 {"/a", "r", "target_more"},
                 {"/a", "s", "different"}});
  ChangeQuery q;
  q.from_run_id = "ra";
  q.to_run_id = "rb";
  EXPECT_THAT(
      ChangesOf(*store_, q),
      ::testing::ElementsAre("persisting /a p different different 1000",
                             "resolved /a q same target_miss 1000",
                             "persisting /a r target_more different 1000",
                             "new /a s different  2000",
                             "resolved /b x same different 1000"));
  // /old was not checked by rb: z is not resolved, it is unknown.
  q.change = "new";
  EXPECT_THAT(ChangesOf(*store_, q),
              ::testing::ElementsAre("new /a s different  2000"));
  q.change = "resolved";
  q.dir_check = "/b";
  EXPECT_THAT(ChangesOf(*store_, q),
              ::testing::ElementsAre("resolved /b x same different 1000"));

  // A third run: q differs again (a new streak), p persists since ra.
  CommitRunWith(*store_, "rc", 3000, {"/a", "/b"},
                {{"/a", "p", "different"}, {"/a", "q", "different"}});
  DetailQuery dq;
  dq.run_id = "rc";
  auto page = store_->ListDetails("d1", dq);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->rows.size(), 2u);
  EXPECT_EQ(page->rows[0].file.path, "p");
  EXPECT_EQ(page->rows[0].first_seen_time, 1000);
  EXPECT_EQ(page->rows[1].file.path, "q");
  EXPECT_EQ(page->rows[1].first_seen_time, 3000);
  ChangeQuery bc;
  bc.from_run_id = "rb";
  bc.to_run_id = "rc";
  EXPECT_THAT(ChangesOf(*store_, bc),
              ::testing::ElementsAre("persisting /a p different different 1000",
                                     "new /a q different  3000",
                                     "resolved /a r same target_more 1000",
                                     "resolved /a s same different 2000"));
  // Another tenant sees none of it.
  EXPECT_THAT(store_->ListChanges("d2", bc), HasCode(ErrorCode::kNotFound));
}

TEST_P(StoreContractTest, FailedRunDoesNotBreakAStreak) {
  CommitRunWith(*store_, "ra", 1000, {"/a"}, {{"/a", "p", "different"}});
  CommitRunWith(*store_, "rf", 1500, {}, {}, "failed");
  CommitRunWith(*store_, "rb", 2000, {"/a"}, {{"/a", "p", "different"}});
  DetailQuery dq;
  dq.run_id = "rb";
  auto page = store_->ListDetails("d1", dq);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->rows.size(), 1u);
  EXPECT_EQ(page->rows[0].first_seen_time, 1000);
}

TEST_P(StoreContractTest, ChangesPageByKeyset) {
  std::vector<std::array<std::string, 3>> a, b;
  for (int i = 0; i < 30; ++i) {
    std::string name = "f" + std::to_string(100 + i);
    if (i % 3 != 0) a.push_back({"/a", name, "different"});  // old
    if (i % 3 != 1) b.push_back({"/a", name, "different"});  // new
  }
  CommitRunWith(*store_, "ra", 1000, {"/a"}, a);
  CommitRunWith(*store_, "rb", 2000, {"/a"}, b);
  ChangeQuery q;
  q.from_run_id = "ra";
  q.to_run_id = "rb";
  q.limit = 1000;
  std::vector<std::string> all = ChangesOf(*store_, q);
  ASSERT_EQ(all.size(), 30u);
  std::vector<std::string> paged;
  q.limit = 4;
  for (int pages = 0; pages < 20; ++pages) {
    auto rows = store_->ListChanges("d1", q);
    ASSERT_THAT(rows, IsOk());
    for (const auto& r : *rows)
      paged.push_back(r.change + " " + r.file.dir_check + " " + r.file.path +
                      " " + r.file.status + " " + r.from_status + " " +
                      std::to_string(r.first_seen_time));
    if (rows->size() < 4u) break;
    q.after_dir = rows->back().file.dir_check;
    q.after_path = rows->back().file.path;
    q.after_path_b64 = rows->back().file.path_b64;
  }
  EXPECT_EQ(paged, all);
}

// Issue 13.2: the resolved arm is bounded by the page's last `to` row
// (ChangesBoundSql). Resolved files before, between and after long runs of
// persisting ones, over two directories, page exactly like one listing.
TEST_P(StoreContractTest, ChangesPageAroundLongPersistingRuns) {
  std::vector<std::array<std::string, 3>> a, b;
  for (const char* dir : {"/a", "/b"}) {
    for (int i = 0; i < 40; ++i) {
      std::string name = "f" + std::to_string(100 + i);
      a.push_back({dir, name, "different"});
      if (i >= 10 && i < 30) b.push_back({dir, name, "different"});
    }
  }
  b.push_back({"/a", "g", "different"});  // new, after /a's resolved tail
  CommitRunWith(*store_, "ra", 1000, {"/a", "/b"}, a);
  CommitRunWith(*store_, "rb", 2000, {"/a", "/b"}, b);
  for (std::optional<std::string> dir :
       {std::optional<std::string>(), std::optional<std::string>("/a")}) {
    ChangeQuery q;
    q.from_run_id = "ra";
    q.to_run_id = "rb";
    q.dir_check = dir;
    q.limit = 1000;
    std::vector<std::string> all = ChangesOf(*store_, q);
    ASSERT_EQ(all.size(), dir ? 41u : 81u);
    for (int limit : {1, 3, 7}) {
      std::vector<std::string> paged;
      q.limit = limit;
      q.after_dir.reset();
      for (int pages = 0; pages < 200; ++pages) {
        auto rows = store_->ListChanges("d1", q);
        ASSERT_THAT(rows, IsOk());
        for (const auto& r : *rows)
          paged.push_back(r.change + " " + r.file.dir_check + " " +
                          r.file.path + " " + r.file.status + " " +
                          r.from_status + " " +
                          std::to_string(r.first_seen_time));
        if (rows->size() < static_cast<size_t>(limit)) break;
        q.after_dir = rows->back().file.dir_check;
        q.after_path = rows->back().file.path;
        q.after_path_b64 = rows->back().file.path_b64;
      }
      EXPECT_EQ(paged, all) << "limit " << limit;
    }
  }
}

// --- Webhook outbox (issue 13.4) ---

TEST_P(StoreContractTest, CommitWritesOutboxAndClaimsAreExclusive) {
  ASSERT_THAT(store_->CreateWebhook({"w1", "d1", "http://127.0.0.1:1/h",
                                     "run.finished,run.inconsistent", "s", 5}),
              IsOk());
  ASSERT_THAT(store_->CreateWebhook(
                  {"w2", "d2", "http://127.0.0.1:1/h", "run.finished", "s", 5}),
              IsOk());
  EXPECT_EQ(store_->ListWebhooks("d1")->size(), 1u);
  EXPECT_THAT(store_->GetWebhook("d2", "w1"), HasCode(ErrorCode::kNotFound));
  CommitRunWith(*store_, "ra", 1000, {"/a"}, {{"/a", "p", "different"}});
  auto mine = store_->ListRunDeliveries("d1", "ra");
  ASSERT_THAT(mine, IsOk());
  ASSERT_EQ(mine->size(), 2u);  // finished + inconsistent, not d2's hook
  EXPECT_EQ((*mine)[0].event_id, "ra/run.finished");
  EXPECT_EQ((*mine)[1].type, "run.inconsistent");

  auto first = store_->ClaimDeliveries("replica-1", 5000, 65000, 10);
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].url, "http://127.0.0.1:1/h");
  // Leased: another replica gets nothing until the lease ends.
  EXPECT_TRUE(store_->ClaimDeliveries("replica-2", 6000, 66000, 10)->empty());
  DeliveryAttempt ok{.delivery_id = (*first)[0].id,
                     .lease_owner = "replica-1",
                     .at = 6000,
                     .status = 200,
                     .latency_ms = 3,
                     .next_state = "delivered"};
  ASSERT_THAT(store_->RecordAttempt(ok), IsOk());
  // A replica whose lease was taken over cannot record.
  auto after = store_->ClaimDeliveries("replica-2", 70000, 130000, 10);
  ASSERT_THAT(after, IsOk());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].id, (*first)[1].id);
  DeliveryAttempt late{.delivery_id = (*first)[1].id,
                       .lease_owner = "replica-1",
                       .at = 70001,
                       .status = 200,
                       .next_state = "delivered"};
  EXPECT_THAT(store_->RecordAttempt(late),
              HasCode(ErrorCode::kFailedPrecondition));
  DeliveryAttempt retry{.delivery_id = (*first)[1].id,
                        .lease_owner = "replica-2",
                        .at = 70002,
                        .status = 500,
                        .latency_ms = 4,
                        .error = "HTTP 500",
                        .next_state = "pending",
                        .next_attempt_at = 80000};
  ASSERT_THAT(store_->RecordAttempt(retry), IsOk());
  EXPECT_TRUE(store_->ClaimDeliveries("replica-1", 79999, 90000, 10)->empty());
  EXPECT_EQ(store_->ClaimDeliveries("replica-1", 80000, 90000, 10)->size(), 1u);
  auto log = store_->ListAttempts("d1", "w1", 10);
  ASSERT_THAT(log, IsOk());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].status, 500);  // newest first
  EXPECT_EQ((*log)[1].state, "delivered");
  EXPECT_TRUE(store_->ListAttempts("d2", "w1", 10)->empty());
  ASSERT_THAT(store_->DeleteWebhook("d1", "w1"), IsOk());
  EXPECT_TRUE(store_->ListRunDeliveries("d1", "ra")->empty());
  EXPECT_THAT(store_->DeleteWebhook("d1", "w1"), HasCode(ErrorCode::kNotFound));
}

// --- Schedules (issue 13.1) ---

TEST_P(StoreContractTest, ScheduledChecksAreClaimedOnceAndFinished) {
  ASSERT_THAT(store_->CreateTask(MakeTask("d2", "t2", "s1")), IsOk());
  EXPECT_FALSE(store_->GetTask("d1", "t1")->next_check_at.has_value());
  ASSERT_THAT(store_->SetNextCheck("d1", "t1", 1000), IsOk());
  ASSERT_THAT(store_->SetNextCheck("d2", "t2", 900), IsOk());
  EXPECT_THAT(store_->SetNextCheck("d2", "t1", 5),
              HasCode(ErrorCode::kNotFound));
  EXPECT_EQ(store_->GetTask("d1", "t1")->next_check_at, 1000);
  // Not due yet.
  EXPECT_TRUE(store_->ClaimDueChecks(899, 60899, 10)->empty());
  // Due, across domains, the longest due first; each moved to the lease.
  auto due = store_->ClaimDueChecks(1000, 61000, 10);
  ASSERT_THAT(due, IsOk());
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].task_id, "t2");
  EXPECT_EQ((*due)[0].due_at, 900);
  EXPECT_EQ((*due)[1].domain_id, "d1");
  EXPECT_EQ((*due)[1].due_at, 1000);
  EXPECT_EQ(store_->GetTask("d1", "t1")->next_check_at, 61000);
  // Claimed: another replica sees nothing due until the lease ends.
  EXPECT_TRUE(store_->ClaimDueChecks(2000, 62000, 10)->empty());
  // Finished: the next tick, and a skip counted.
  ASSERT_THAT(store_->FinishDueCheck((*due)[1], 100000, /*skipped=*/true),
              IsOk());
  auto t1 = store_->GetTask("d1", "t1");
  EXPECT_EQ(t1->next_check_at, 100000);
  EXPECT_EQ(t1->skipped_checks, 1);
  // A claim whose lease is gone writes nothing.
  EXPECT_THAT(store_->FinishDueCheck((*due)[1], 9000, true),
              HasCode(ErrorCode::kFailedPrecondition));
  EXPECT_EQ(store_->GetTask("d1", "t1")->skipped_checks, 1);
  // A replica that died mid-tick: its lease runs out and another takes it.
  auto taken = store_->ClaimDueChecks(61000, 121000, 10);
  ASSERT_THAT(taken, IsOk());
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].task_id, "t2");
  EXPECT_EQ((*taken)[0].due_at, 61000);
  EXPECT_THAT(store_->FinishDueCheck((*due)[0], 5000, false),
              HasCode(ErrorCode::kFailedPrecondition));
  // The schedule removed while a tick is claimed: the tick ends quietly.
  ASSERT_THAT(store_->SetNextCheck("d2", "t2", std::nullopt), IsOk());
  EXPECT_THAT(store_->FinishDueCheck((*taken)[0], 5000, false),
              HasCode(ErrorCode::kFailedPrecondition));
  EXPECT_FALSE(store_->GetTask("d2", "t2")->next_check_at.has_value());
  // Removing it: no longer due, ever.
  ASSERT_THAT(store_->SetNextCheck("d1", "t1", std::nullopt), IsOk());
  EXPECT_TRUE(
      store_->ClaimDueChecks(1'000'000'000, 1'000'060'000, 10)->empty());
  // Survives in the list too.
  EXPECT_EQ(store_->ListTasks("d1", {})->items.at(0).skipped_checks, 1);
}

TEST_P(StoreContractTest, ConcurrentClaimsTakeEachTickOnce) {
  for (int i = 2; i <= 9; ++i) {
    ASSERT_THAT(
        store_->CreateTask(MakeTask("d1", "t" + std::to_string(i), "s1")),
        IsOk());
    ASSERT_THAT(store_->SetNextCheck("d1", "t" + std::to_string(i), 100 + i),
                IsOk());
  }
  std::atomic<int> claimed{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < 4; ++r) {
    threads.emplace_back([&, r] {
      for (int round = 0; round < 5; ++round) {
        auto due = store_->ClaimDueChecks(1000, 60000 + r, 3);
        if (due) claimed += static_cast<int>(due->size());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed.load(), 8);
}

// --- Readiness (issue 13.3) ---

// A run of t1 finished at `at` over `dirs`; `different` files differ in the
// first directory, listed as details p0, p1, ... (so their first_seen
// carries across runs). "failed" when `ok` is false.
void CommitCheck(Store& store, const std::string& run_id, int64_t at,
                 std::vector<std::string> dirs, int different = 0,
                 bool ok = true, std::string scope = "") {
  DetailChunk c;
  c.run_id = run_id;
  c.domain_id = "d1";
  c.task_id = "t1";
  c.content_hash = "h-" + run_id;
  for (int i = 0; i < different; ++i)
    c.files.push_back(
        {dirs.at(0), "p" + std::to_string(i), "", "different", "", "", ""});
  if (different > 0) {
    ASSERT_THAT(store.StageDetails(c), IsOk());
  }
  Run r;
  r.run_id = run_id;
  r.domain_id = "d1";
  r.task_id = "t1";
  r.started_time = at - 10;
  r.finished_time = at;
  r.check_result = ok ? "success" : "failed";
  r.error_msg = ok ? "" : "target unreachable";
  r.mode = "hash";
  r.hash_algorithm = "xxh128";
  r.content_hash = "c-" + run_id;
  r.committed_at = at + 1;
  r.scope = std::move(scope);
  for (size_t i = 0; i < dirs.size(); ++i)
    r.dirs.push_back({dirs[i], 10, i == 0 ? different : 0, 0, 0, 0, 0, 0, 1});
  ASSERT_THAT(store.CommitRun(r), IsOk());
}

std::string ReadinessOf(Store& store, int64_t now = 0) {
  auto t = store.GetTask("d1", "t1");
  EXPECT_THAT(t, IsOk());
  if (!t) return "";
  const schedule::Readiness r = FromStored(*t, now);
  std::string out = schedule::ReadinessName(r.status);
  for (const auto& reason : r.reasons) out += " | " + reason;
  return out;
}

constexpr int64_t kT0 = 1764633600000;  // 2025-12-02 00:00 UTC
constexpr int64_t kH = 3600 * 1000;

TEST_P(StoreContractTest, ReadinessIsEvaluatedWhenARunCommits) {
  using ::testing::HasSubstr;
  using ::testing::StartsWith;
  ASSERT_THAT(store_->PutTaskConfigs("d1", "t1", {{"CONSISTENCY_DIR", "/a"}}),
              IsOk());
  EXPECT_THAT(ReadinessOf(*store_), HasSubstr("not evaluated yet"));
  // One consistent check of the two needed.
  CommitCheck(*store_, "r1", kT0, {"/a"});
  EXPECT_EQ(ReadinessOf(*store_),
            "not_ready | 1 of the 2 consistent checks in a row needed so far "
            "(CONSISTENCY_READY_RUNS)");
  // Two: ready since the first.
  CommitCheck(*store_, "r2", kT0 + kH, {"/a"});
  EXPECT_EQ(ReadinessOf(*store_), "ready");
  EXPECT_EQ(store_->GetTask("d1", "t1")->readiness_since, kT0);
  // Differences, some of them persisting since an earlier check.
  CommitCheck(*store_, "r3", kT0 + 2 * kH, {"/a"}, 3);
  CommitCheck(*store_, "r4", kT0 + 74 * kH, {"/a"}, 5);
  EXPECT_THAT(ReadinessOf(*store_),
              StartsWith("not_ready | 5 files differ in the last check (5 "
                         "different); 3 of them already differed in an "
                         "earlier check, the oldest for 3 days (since "
                         "2025-12-02 01:59 UTC)"));
  EXPECT_EQ(store_->GetTask("d1", "t1")->readiness_since, kT0 + 2 * kH);
  // A failed check.
  CommitCheck(*store_, "r5", kT0 + 75 * kH, {"/a"}, 0, /*ok=*/false);
  EXPECT_THAT(ReadinessOf(*store_),
              StartsWith("not_ready | the last check failed at 2025-12-05 "
                         "03:00 UTC: target unreachable"));
}

TEST_P(StoreContractTest, ReadinessNamesUncheckedDirectoriesAndTurnsStale) {
  using ::testing::HasSubstr;
  ASSERT_THAT(store_->PutTaskConfigs("d1", "t1",
                                     {{"CONSISTENCY_DIR", "/a,/b"},
                                      {"CONSISTENCY_READY_MAX_AGE", "1d"}}),
              IsOk());
  CommitCheck(*store_, "r1", kT0, {"/a", "/b"});
  CommitCheck(*store_, "r2", kT0 + kH, {"/a"});
  CommitCheck(*store_, "r3", kT0 + 2 * kH, {"/a"});
  EXPECT_EQ(ReadinessOf(*store_),
            "not_ready | directory /b not checked since 2025-12-02 00:00 UTC");
  // A setting changed: re-evaluated at once (no run needed).
  ASSERT_THAT(store_->PutTaskConfigs("d1", "t1", {{"CONSISTENCY_DIR", "/a"}}),
              IsOk());
  ASSERT_THAT(store_->RefreshReadiness("d1", "t1"), IsOk());
  EXPECT_EQ(ReadinessOf(*store_, kT0 + 3 * kH), "ready");
  // Read back a day after the newest consistent check: stale.
  EXPECT_THAT(ReadinessOf(*store_, kT0 + 26 * kH),
              HasSubstr("stale | no consistent check for longer than "
                        "CONSISTENCY_READY_MAX_AGE"));
  EXPECT_THAT(store_->RefreshReadiness("d2", "t1"),
              HasCode(ErrorCode::kNotFound));
}

TEST_P(StoreContractTest, ReadinessChangesRaiseWebhookEventsOnce) {
  ASSERT_THAT(store_->CreateWebhook({"w1", "d1", "http://127.0.0.1:1/h",
                                     "task.ready,task.not_ready", "s", 5}),
              IsOk());
  ASSERT_THAT(
      store_->PutTaskConfigs("d1", "t1", {{"CONSISTENCY_READY_RUNS", "1"}}),
      IsOk());
  auto types = [&](const std::string& run) {
    std::vector<std::string> out;
    auto d = store_->ListRunDeliveries("d1", run);
    EXPECT_THAT(d, IsOk());
    if (d)
      for (const auto& x : *d) out.push_back(x.type + " " + x.event_id);
    return out;
  };
  CommitCheck(*store_, "r1", kT0, {"/"}, 2);  // not ready: no event
  EXPECT_TRUE(types("r1").empty());
  CommitCheck(*store_, "r2", kT0 + kH, {"/"});  // ready
  EXPECT_THAT(types("r2"), ::testing::ElementsAre("task.ready r2/task.ready"));
  CommitCheck(*store_, "r3", kT0 + 2 * kH, {"/"});  // still ready
  EXPECT_TRUE(types("r3").empty());
  CommitCheck(*store_, "r4", kT0 + 3 * kH, {"/"}, 1);  // a difference
  EXPECT_THAT(types("r4"),
              ::testing::ElementsAre("task.not_ready r4/task.not_ready"));
  // A clean re-check of the inconsistent files proves nothing: no event.
  CommitCheck(*store_, "r5", kT0 + 4 * kH, {"/"}, 0, true, "inconsistent");
  EXPECT_TRUE(types("r5").empty());
  CommitCheck(*store_, "r6", kT0 + 5 * kH, {"/"}, 0, /*ok=*/false);
  EXPECT_TRUE(types("r6").empty());  // not ready already
  CommitCheck(*store_, "r7", kT0 + 6 * kH, {"/"});
  EXPECT_THAT(types("r7"), ::testing::ElementsAre("task.ready r7/task.ready"));
  // The same upload again (an agent's retry) raises nothing more.
  EXPECT_EQ(store_->ListRunDeliveries("d1", "r2")->size(), 1u);
}

// What a commit folds into the task's stored history gives the verdict of
// all the task's runs read again, whatever their mix, and so does a
// setting's change decided from the stored history.
TEST_P(StoreContractTest, ReadinessFromTheStoredHistoryIsTheVerdictOfAllRuns) {
  auto configs = [&](const std::string& dirs, const std::string& k) {
    ASSERT_THAT(store_->PutTaskConfigs(
                    "d1", "t1",
                    {{"CONSISTENCY_DIR", dirs}, {"CONSISTENCY_READY_RUNS", k}}),
                IsOk());
  };
  auto expect_same = [&](const std::string& dirs, int k, int step) {
    auto runs = store_->ListRuns("d1", "t1", 1000);
    ASSERT_THAT(runs, IsOk());
    std::vector<schedule::RunSummary> summaries;
    for (const storage::Run& r : *runs) summaries.push_back(ReadinessRun(r));
    schedule::ReadinessPolicy policy;
    policy.ready_runs = k;
    schedule::Readiness want = schedule::EvaluateReadiness(
        schedule::ReadReadinessSettings(dirs, "", "").dirs, summaries, policy);
    auto task = store_->GetTask("d1", "t1");
    ASSERT_THAT(task, IsOk());
    schedule::Readiness got = FromStored(*task, 0);
    // How long differences persisted comes from details, not from runs.
    for (std::string& reason : got.reasons)
      reason = reason.substr(0, reason.find("; "));
    EXPECT_EQ(schedule::ReadinessName(got.status),
              schedule::ReadinessName(want.status))
        << "after step " << step;
    EXPECT_EQ(got.since_ms, want.since_ms) << "after step " << step;
    EXPECT_EQ(got.reasons, want.reasons) << "after step " << step;
  };
  configs("/a,/b", "3");
  const std::vector<std::vector<std::string>> dir_sets = {
      {"/a"}, {"/a", "/b"}, {"/b"}, {"/"}, {"/a/x"}};
  uint32_t seed = 7;
  auto next = [&seed](uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) % n;
  };
  for (int i = 0; i < 40; ++i) {
    const bool ok = next(6) != 0;
    const int different = next(3) == 0 ? static_cast<int>(next(4)) + 1 : 0;
    const std::string scope = next(5) == 0 ? "inconsistent" : "";
    CommitCheck(*store_, "h" + std::to_string(i), kT0 + i * kH,
                dir_sets[next(dir_sets.size())], different, ok, scope);
    expect_same("/a,/b", 3, i);
  }
  configs("/a/x", "1");
  ASSERT_THAT(store_->RefreshReadiness("d1", "t1"), IsOk());
  expect_same("/a/x", 1, 40);
}

// A consistent run of `task` at `at` over /a, not committed yet.
Run ConsistentRun(const std::string& task, const std::string& run_id,
                  int64_t at) {
  Run r;
  r.run_id = run_id;
  r.domain_id = "d1";
  r.task_id = task;
  r.started_time = at - 10;
  r.finished_time = at;
  r.check_result = "success";
  r.content_hash = "c-" + run_id;
  r.committed_at = at + 1;
  r.dirs.push_back({"/a", 10, 0, 0, 0, 0, 0, 0, 1});
  return r;
}

// Runs committed at once, as a group commit's batch gathers them: several
// runs of one task, one of another task, and runs that must fail or
// repeat (a run id committed with other content, an unknown task, one run
// sent twice). Each good run commits exactly once, the others write
// nothing, and the task's verdict has counted every committed run once.
TEST_P(StoreContractTest, ABatchOfRunsOfOneTaskWithFailuresCommitsExactly) {
  ASSERT_THAT(store_->PutTaskConfigs("d1", "t1",
                                     {{"CONSISTENCY_DIR", "/a"},
                                      {"CONSISTENCY_READY_RUNS", "40"}}),
              IsOk());
  ASSERT_THAT(store_->CreateTask(MakeTask("d1", "t2", "s1")), IsOk());
  ASSERT_THAT(store_->CommitRun(ConsistentRun("t1", "first", kT0)), IsOk());
  constexpr int kRounds = 3;
  int64_t at = kT0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<storage::Run> runs;
    for (int i = 0; i < 10; ++i)
      runs.push_back(ConsistentRun(
          "t1", "g" + std::to_string(round) + "_" + std::to_string(i), ++at));
    const std::string twice = "twice" + std::to_string(round);
    runs.push_back(ConsistentRun("t1", twice, ++at));
    runs.push_back(runs.back());
    runs.push_back(ConsistentRun("t2", "o" + std::to_string(round), ++at));
    storage::Run conflicting = ConsistentRun("t1", "first", ++at);
    conflicting.content_hash = "other content";
    runs.push_back(conflicting);
    runs.push_back(ConsistentRun("t9", "u" + std::to_string(round), ++at));

    std::atomic<bool> go{false};
    std::vector<Result<CommitOutcome>> results(
        runs.size(), Result<CommitOutcome>(core::Fail(core::Internal(""))));
    std::vector<std::thread> threads;
    for (size_t i = 0; i < runs.size(); ++i) {
      threads.emplace_back([&, i] {
        while (!go.load()) std::this_thread::yield();
        results[i] = store_->CommitRun(runs[i]);
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    int committed = 0, repeated = 0;
    for (size_t i = 0; i < runs.size(); ++i) {
      const std::string& id = runs[i].run_id;
      if (id == "first") {
        EXPECT_THAT(results[i], HasCode(ErrorCode::kAlreadyExists));
      } else if (runs[i].task_id == "t9") {
        EXPECT_THAT(results[i], HasCode(ErrorCode::kNotFound));
      } else {
        ASSERT_THAT(results[i], IsOk()) << id;
        if (*results[i] == CommitOutcome::kCommitted) ++committed;
        if (*results[i] == CommitOutcome::kAlreadyCommitted) ++repeated;
      }
    }
    EXPECT_EQ(committed, 12) << "round " << round;
    EXPECT_EQ(repeated, 1) << "round " << round;
  }
  // Counters exact: every committed run once, with its one directory; the
  // refused ones nowhere.
  auto t1 = store_->ListRuns("d1", "t1", 1000);
  ASSERT_THAT(t1, IsOk());
  EXPECT_EQ(t1->size(), 1u + 11 * kRounds);
  for (const storage::Run& r : *t1) EXPECT_EQ(r.dirs.size(), 1u) << r.run_id;
  EXPECT_EQ(store_->ListRuns("d1", "t2", 1000)->size(), size_t{kRounds});
  EXPECT_EQ(store_->GetRun("d1", "first")->content_hash, "c-first");
  EXPECT_THAT(store_->GetRun("d1", "u0"), HasCode(ErrorCode::kNotFound));
  // The verdict counted each committed run once: 34 of the 40 needed...
  EXPECT_EQ(ReadinessOf(*store_),
            "not_ready | 34 of the 40 consistent checks in a row needed so "
            "far (CONSISTENCY_READY_RUNS)");
  // ...so six more make the task ready, since its first run.
  for (int i = 0; i < 5; ++i)
    ASSERT_THAT(store_->CommitRun(
                    ConsistentRun("t1", "late" + std::to_string(i), ++at)),
                IsOk());
  EXPECT_THAT(ReadinessOf(*store_), ::testing::StartsWith("not_ready | 39 "));
  ASSERT_THAT(store_->CommitRun(ConsistentRun("t1", "last", ++at)), IsOk());
  EXPECT_EQ(ReadinessOf(*store_), "ready");
  EXPECT_EQ(store_->GetTask("d1", "t1")->readiness_since, kT0);
}

TEST_P(StoreContractTest, TaskListSortsByReadiness) {
  for (const char* id : {"t2", "t3"}) {
    Task t = MakeTask("d1", id, "s1");
    t.created_at = id[1] == '2' ? 200 : 300;
    ASSERT_THAT(store_->CreateTask(t), IsOk());
  }
  // t1 ready (max age 1 d), t2 never evaluated, t3 not ready.
  ASSERT_THAT(store_->PutTaskConfigs("d1", "t1",
                                     {{"CONSISTENCY_READY_RUNS", "1"},
                                      {"CONSISTENCY_READY_MAX_AGE", "1d"}}),
              IsOk());
  CommitCheck(*store_, "r1", kT0, {"/"});
  ASSERT_THAT(store_->RefreshReadiness("d1", "t3"), IsOk());
  auto ids = [&](int64_t now) {
    TaskFilter f;
    f.order = TaskOrder::kReadiness;
    f.now = now;
    std::string out;
    auto page = store_->ListTasks("d1", f);
    EXPECT_THAT(page, IsOk());
    if (page)
      for (const Task& t : page->items) out += t.id + " ";
    return out;
  };
  EXPECT_EQ(ids(kT0 + kH), "t1 t3 t2 ");  // ready first
  // Once t1 is stale it sorts after the ready ones, before the not ready.
  Task t4 = MakeTask("d1", "t4", "s1");
  ASSERT_THAT(store_->CreateTask(t4), IsOk());
  EXPECT_EQ(ids(kT0 + 25 * kH), "t1 t3 t2 t4 ");
  EXPECT_EQ(store_->ListTasks("d1", {})->items.at(0).id, "t3");  // newest
}

// --- Retention (issue 13.5) ---

TEST_P(StoreContractTest, PurgeKeepsNewestRunsAndCountersInBatches) {
  for (int i = 0; i < 5; ++i) {
    std::vector<std::array<std::string, 3>> files;
    for (int j = 0; j < 7; ++j)
      files.push_back({"/a", "f" + std::to_string(j), "different"});
    CommitRunWith(*store_, "r" + std::to_string(i), 1000 * (i + 1), {"/a"},
                  files);
  }
  auto tasks = store_->ListTasksWithDetails({}, 10);
  ASSERT_THAT(tasks, IsOk());
  ASSERT_EQ(tasks->size(), 1u);
  EXPECT_EQ((*tasks)[0].task_id, "t1");
  RetentionPolicy keep2{.keep_runs = 2};
  int64_t total = 0;
  for (int batch = 0; batch < 20; ++batch) {
    auto n = store_->PurgeDetails("d1", "t1", keep2, 100000, 5);
    ASSERT_THAT(n, IsOk());
    EXPECT_LE(*n, 5);
    total += *n;
    if (*n == 0) break;
  }
  EXPECT_EQ(total, 21);  // three runs of 7
  for (int i = 0; i < 5; ++i) {
    const std::string id = "r" + std::to_string(i);
    DetailQuery dq;
    dq.run_id = id;
    auto page = store_->ListDetails("d1", dq);
    ASSERT_THAT(page, IsOk());
    EXPECT_EQ(page->rows.size(), i < 3 ? 0u : 7u) << id;
    EXPECT_EQ(*store_->DetailsPurged("d1", id), i < 3) << id;
    EXPECT_EQ(store_->GetRun("d1", id)->dirs.size(), 1u);  // counters stay
  }
  // The streak of the newest run survives: first seen at r0's time.
  DetailQuery last;
  last.run_id = "r4";
  EXPECT_EQ(store_->ListDetails("d1", last)->rows[0].first_seen_time, 1000);
  // By age: keep 1 s at now = 5003: r3 (committed 4002) goes too.
  RetentionPolicy by_age{.keep_ms = 1000};
  ASSERT_THAT(store_->PurgeDetails("d1", "t1", by_age, 5003, 100), IsOk());
  EXPECT_TRUE(*store_->DetailsPurged("d1", "r3"));
  EXPECT_FALSE(*store_->DetailsPurged("d1", "r4"));  // the newest stays
}

// A tenant's settings (issue 13.5): set, replaced, removed by an empty
// value, and each tenant's own.
TEST_P(StoreContractTest, DomainSettingsArePerTenantAndRemovable) {
  const std::string key = "CONSISTENCY_RETENTION";
  auto none = store_->GetDomainSetting("d1", key);
  ASSERT_THAT(none, IsOk());
  EXPECT_FALSE(none->has_value());
  ASSERT_THAT(store_->PutDomainSetting("d1", key, "runs=3"), IsOk());
  ASSERT_THAT(store_->PutDomainSetting("d1", key, "runs=5,days=2"), IsOk());
  ASSERT_THAT(store_->PutDomainSetting("d2", key, "days=7"), IsOk());
  EXPECT_EQ(store_->GetDomainSetting("d1", key)->value_or(""), "runs=5,days=2");
  EXPECT_EQ(store_->GetDomainSetting("d2", key)->value_or(""), "days=7");
  EXPECT_FALSE(store_->GetDomainSetting("d1", "OTHER")->has_value());
  ASSERT_THAT(store_->PutDomainSetting("d1", key, ""), IsOk());
  EXPECT_FALSE(store_->GetDomainSetting("d1", key)->has_value());
  EXPECT_EQ(store_->GetDomainSetting("d2", key)->value_or(""), "days=7");
  // Removing what is not set is not an error.
  ASSERT_THAT(store_->PutDomainSetting("d1", key, ""), IsOk());
}

// Run ids are the tenant's own (issue 11.5): two tenants each commit a run
// "ra" and "rb" with details; each reads, pages, compares and purges its
// own, webhook events are per tenant, and deleting one's task leaves the
// other's runs.
TEST_P(StoreContractTest, RunIdsAreScopedPerTenant) {
  ASSERT_THAT(store_->UpsertSource(MakeSource("d2", "s2")), IsOk());
  ASSERT_THAT(store_->CreateTask(MakeTask("d2", "t2", "s2")), IsOk());
  for (const char* d : {"d1", "d2"})
    ASSERT_THAT(
        store_->CreateWebhook({std::string("w-") + d, d, "http://127.0.0.1:1/h",
                               "run.finished", "s", 5}),
        IsOk());
  // d2 first, so a leak from d2 into d1 would show in d1's reads too.
  CommitRunWith(*store_, "ra", 1000, {"/x"},
                {{"/x", "p2", "different"}, {"/x", "q2", "different"}},
                "success", "d2", "t2");
  CommitRunWith(*store_, "ra", 1100, {"/a", "/b"},
                {{"/a", "p", "different"},
                 {"/a", "q", "target_miss"},
                 {"/b", "r", "different"}});
  CommitRunWith(*store_, "rb", 2000, {"/x"}, {{"/x", "p2", "different"}},
                "success", "d2", "t2");
  CommitRunWith(*store_, "rb", 2100, {"/a", "/b"}, {{"/a", "p", "different"}});
  if (HasFatalFailure()) return;

  struct Want {
    const char* domain;
    const char* task;
    int64_t started;
    size_t dirs;
    int64_t details;
    std::string first_path;
  };
  for (const Want& w : {Want{"d1", "t1", 1100, 2, 3, "p"},
                        Want{"d2", "t2", 1000, 1, 2, "p2"}}) {
    SCOPED_TRACE(w.domain);
    auto run = store_->GetRun(w.domain, "ra");
    ASSERT_THAT(run, IsOk());
    EXPECT_EQ(run->task_id, w.task);
    EXPECT_EQ(run->started_time, w.started);
    EXPECT_EQ(run->dirs.size(), w.dirs);
    auto runs = store_->ListRuns(w.domain, w.task, 10);
    ASSERT_THAT(runs, IsOk());
    ASSERT_EQ(runs->size(), 2u);
    EXPECT_EQ((*runs)[1].dirs.size(), w.dirs);
    auto before = store_->ListRunsBefore(w.domain, w.task, "rb", 10);
    ASSERT_THAT(before, IsOk());
    ASSERT_EQ(before->size(), 1u);
    EXPECT_EQ((*before)[0].started_time, w.started);
    DetailQuery dq;
    dq.run_id = "ra";
    auto page = store_->ListDetails(w.domain, dq);
    ASSERT_THAT(page, IsOk());
    EXPECT_EQ(page->total, w.details);
    ASSERT_EQ(page->rows.size(), static_cast<size_t>(w.details));
    EXPECT_EQ(page->rows[0].file.path, w.first_path);
    // The streak of rb's first row starts at the tenant's own ra.
    dq.run_id = "rb";
    auto next = store_->ListDetails(w.domain, dq);
    ASSERT_THAT(next, IsOk());
    ASSERT_EQ(next->rows.size(), 1u);
    EXPECT_EQ(next->rows[0].first_seen_time, w.started);
    // Each tenant's webhook has its own "ra/run.finished".
    auto hooks = store_->ListRunDeliveries(w.domain, "ra");
    ASSERT_THAT(hooks, IsOk());
    ASSERT_EQ(hooks->size(), 1u);
    EXPECT_EQ((*hooks)[0].event_id, "ra/run.finished");
  }
  ChangeQuery cq;
  cq.from_run_id = "ra";
  cq.to_run_id = "rb";
  EXPECT_THAT(ChangesOf(*store_, cq),
              ::testing::ElementsAre("persisting /a p different different 1100",
                                     "resolved /a q same target_miss 1100",
                                     "resolved /b r same different 1100"));
  auto theirs = store_->ListChanges("d2", cq);
  ASSERT_THAT(theirs, IsOk());
  ASSERT_EQ(theirs->size(), 2u);
  EXPECT_EQ((*theirs)[0].file.path, "p2");
  EXPECT_EQ((*theirs)[1].file.path, "q2");
  EXPECT_EQ((*theirs)[1].change, "resolved");
  // The same upload again is a repeat of the tenant's own run; other
  // content under its id is a conflict with its own run only.
  EXPECT_EQ(*store_->CommitRun(MakeRun("d2", "t2", "ra", "c-ra")),
            CommitOutcome::kAlreadyCommitted);
  EXPECT_THAT(store_->CommitRun(MakeRun("d2", "t2", "ra", "other")),
              HasCode(ErrorCode::kAlreadyExists));
  DetailChunk staged;
  staged.run_id = "ra";
  staged.domain_id = "d2";
  staged.task_id = "t2";
  staged.content_hash = "h-ra";
  staged.files.push_back({"/x", "p2", "", "different", "", "", ""});
  staged.files.push_back({"/x", "q2", "", "different", "", "", ""});
  EXPECT_THAT(store_->StageDetails(staged),
              HasCode(ErrorCode::kFailedPrecondition));  // committed
  // Retention of d1's task purges d1's ra only.
  RetentionPolicy keep1{.keep_runs = 1};
  ASSERT_THAT(store_->PurgeDetails("d1", "t1", keep1, 100000, 100), IsOk());
  EXPECT_TRUE(*store_->DetailsPurged("d1", "ra"));
  EXPECT_FALSE(*store_->DetailsPurged("d2", "ra"));
  DetailQuery dq;
  dq.run_id = "ra";
  EXPECT_TRUE(store_->ListDetails("d1", dq)->rows.empty());
  EXPECT_EQ(store_->ListDetails("d2", dq)->total, 2);
  // Deleting d1's task leaves d2's runs, details and purge state.
  ASSERT_THAT(store_->DeleteTask("d1", "t1"), IsOk());
  EXPECT_THAT(store_->GetRun("d1", "ra"), HasCode(ErrorCode::kNotFound));
  EXPECT_EQ(store_->GetRun("d2", "ra")->dirs.size(), 1u);
  EXPECT_EQ(store_->ListDetails("d2", dq)->rows.size(), 2u);
  EXPECT_EQ(store_->ListRunDeliveries("d2", "ra")->size(), 1u);
  // A new task of d1 may take the id again: nothing of the deleted run
  // (nor of d2's) shows through.
  ASSERT_THAT(store_->CreateTask(MakeTask("d1", "t1", "s1")), IsOk());
  CommitRunWith(*store_, "ra", 5000, {"/a"}, {{"/a", "n", "different"}});
  EXPECT_FALSE(*store_->DetailsPurged("d1", "ra"));
  auto fresh = store_->ListDetails("d1", dq);
  ASSERT_THAT(fresh, IsOk());
  EXPECT_EQ(fresh->total, 1);
}

TEST_P(StoreContractTest, SourcePollsCoverEveryDomainUpToTheLimit) {
  ASSERT_THAT(store_->UpsertSource(MakeSource("d2", "s2")), IsOk());
  ASSERT_THAT(store_->RecordHeartbeats({{"d1", "s1", 5000}}), IsOk());
  ASSERT_THAT(store_->CreateTask(MakeTask("d1", "t2", "s1")), IsOk());
  auto all = store_->ListSourcePolls(10);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->count, 2);
  ASSERT_EQ(all->items.size(), 2u);
  const SourcePoll& s1 = all->items[0];
  EXPECT_EQ(s1.domain_id, "d1");
  EXPECT_EQ(s1.source_id, "s1");
  EXPECT_EQ(s1.name, "src-s1");
  EXPECT_EQ(s1.last_seen_at, 5000);
  EXPECT_EQ(s1.tasks, 2);
  const SourcePoll& s2 = all->items[1];
  EXPECT_EQ(s2.domain_id, "d2");
  EXPECT_EQ(s2.last_seen_at, 0);  // never polled
  EXPECT_EQ(s2.tasks, 0);
  auto capped = store_->ListSourcePolls(1);
  ASSERT_THAT(capped, IsOk());
  EXPECT_EQ(capped->count, 2);
  ASSERT_EQ(capped->items.size(), 1u);
  EXPECT_EQ(capped->items[0].source_id, "s1");
}

TEST_P(StoreContractTest, TaskStreaksCountTheNewestRunsOfOneVerdict) {
  ASSERT_THAT(store_->UpsertSource(MakeSource("d2", "s2")), IsOk());
  ASSERT_THAT(store_->CreateTask(MakeTask("d1", "t2", "s1")), IsOk());
  ASSERT_THAT(store_->CreateTask(MakeTask("d2", "t3", "s2")), IsOk());
  ASSERT_THAT(store_->CreateTask(MakeTask("d1", "t4", "s1")), IsOk());
  int n = 0;
  auto commit = [&](const std::string& domain, const std::string& task,
                    const std::string& verdict) {
    const std::string id = "r" + std::to_string(n++);
    storage::Run r = MakeRun(domain, task, id, "h" + id);
    r.dirs = {{"/a", 3, 0, 0, 0, 0, 0, 0, 30}, {"/b", 2, 0, 0, 0, 0, 0, 0, 20}};
    if (verdict == "failed") r.check_result = "failed";
    if (verdict == "inconsistent") r.dirs[1].num_metadata_different_files = 1;
    if (verdict == "corrupt") r.dirs[0].num_corrupt_files = 1;
    ASSERT_THAT(store_->CommitRun(r), IsOk());
  };
  // t1: consistent, then inconsistent three times (once only corrupt).
  for (const char* v :
       {"consistent", "inconsistent", "corrupt", "inconsistent"})
    commit("d1", "t1", v);
  // t2: failed, then consistent twice; t3 (another domain): failed once;
  // t4: no run.
  for (const char* v : {"failed", "consistent", "consistent"})
    commit("d1", "t2", v);
  commit("d2", "t3", "failed");

  auto all = store_->ListTaskStreaks(10, 100);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->count, 3);
  ASSERT_EQ(all->items.size(), 3u);
  EXPECT_EQ(all->items[0].task_id, "t1");
  EXPECT_EQ(all->items[0].name, "task-t1");
  EXPECT_EQ(all->items[0].verdict, "inconsistent");
  EXPECT_EQ(all->items[0].runs, 3);
  EXPECT_EQ(all->items[1].task_id, "t2");
  EXPECT_EQ(all->items[1].verdict, "consistent");
  EXPECT_EQ(all->items[1].runs, 2);
  EXPECT_EQ(all->items[2].domain_id, "d2");
  EXPECT_EQ(all->items[2].task_id, "t3");
  EXPECT_EQ(all->items[2].verdict, "failed");
  EXPECT_EQ(all->items[2].runs, 1);

  // A window of 2 runs counts at most 2; a limit of 1 lists t1 only.
  auto windowed = store_->ListTaskStreaks(10, 2);
  ASSERT_THAT(windowed, IsOk());
  ASSERT_EQ(windowed->items.size(), 3u);
  EXPECT_EQ(windowed->items[0].runs, 2);
  EXPECT_EQ(windowed->items[1].runs, 2);
  auto capped = store_->ListTaskStreaks(1, 100);
  ASSERT_THAT(capped, IsOk());
  EXPECT_EQ(capped->count, 3);
  ASSERT_EQ(capped->items.size(), 1u);
  EXPECT_EQ(capped->items[0].task_id, "t1");

  // A new verdict starts a new streak of 1.
  commit("d1", "t1", "consistent");
  auto after = store_->ListTaskStreaks(1, 100);
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->items[0].verdict, "consistent");
  EXPECT_EQ(after->items[0].runs, 1);
}

// SQLite specifics: migrations are recorded and reopening is a no-op.
TEST(SqliteStoreTest, MigrationsAreRecordedOnce) {
  sms::testing::TempDir dir;
  std::string path = dir.Join("m.db");
  std::vector<int> every;  // each embedded migration, in order
  for (const auto& m : SqliteMigrations()) every.push_back(m.version);
  auto applied = MigrateSqlite(path);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(*applied, every);
  auto again = MigrateSqlite(path);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(*SqliteSchemaVersions(path), every);
  EXPECT_THAT(OpenSqliteStore(path), IsOk());
}

TEST(SqliteStoreTest, DataSurvivesReopen) {
  sms::testing::TempDir dir;
  std::string path = dir.Join("r.db");
  {
    auto s = OpenSqliteStore(path);
    ASSERT_THAT(s, IsOk());
    ASSERT_THAT((*s)->CreateDomain({"d1", "acme", 1}), IsOk());
  }
  auto s = OpenSqliteStore(path);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ((*s)->GetDomainByName("acme")->id, "d1");
}

}  // namespace
}  // namespace sms::storage
