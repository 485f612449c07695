// CachingStore over a real SqliteStore. The contract suite
// (store_contract_test.cc, backend "sqlite_cached") checks that it behaves
// as a Store; these tests check what it holds and when it lets go, by
// writing to the database behind its back (straight into the inner store):
// a held record still shows the old value, a fresh read the new one.
#include "storage/caching_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <functional>
#include <thread>

#include "storage/sqlite/sqlite_store.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace sms::storage {
namespace {

class CachingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open("c.db", {}); }

  // A fresh database `name` with one domain, user, token, source and task,
  // behind a NewCachingStore with `limits`.
  void Open(const std::string& name, const CacheLimits& limits) {
    OpenWith(name, [&limits](std::unique_ptr<Store> inner) {
      return NewCachingStore(std::move(inner), limits);
    });
  }

  // The same, behind the cache that `make` puts over the database.
  void OpenWith(const std::string& name,
                const std::function<std::unique_ptr<CachingStore>(
                    std::unique_ptr<Store>)>& make) {
    cache_.reset();
    path_ = dir_.Join(name);
    auto s = OpenSqliteStore(path_);
    ASSERT_TRUE(s) << s.error().ToString();
    behind_ = s->get();
    cache_ = make(std::move(*s));
    ASSERT_TRUE(cache_->CreateDomain({"d1", "acme", 1}));
    ASSERT_TRUE(cache_->CreateUser({"u1", "d1", "op", "operator", "x", 1}));
    ASSERT_TRUE(cache_->CreateToken({"th", "d1", "u1", 1, 1000000, {}}));
    ASSERT_TRUE(cache_->CreateCredential({"AK", "d1", "u1", "SK", 1, {}}));
    Source src;
    src.id = "s1";
    src.domain_id = "d1";
    src.name = "src";
    src.hostname = "h";
    src.os_type = "LINUX";
    ASSERT_TRUE(cache_->UpsertSource(src));
    ASSERT_TRUE(cache_->CreateTask(MakeTask("t1")));
  }

  static Task MakeTask(std::string id) {
    Task t;
    t.id = std::move(id);
    t.domain_id = "d1";
    t.name = "task";
    t.type = "MIGRATE_FILE";
    t.os_type = "LINUX";
    t.source_id = "s1";
    t.target_name = "target";
    t.state = TaskState::kReady;
    return t;
  }
  static storage::Run MakeRun(std::string id, int dirs = 1) {
    storage::Run r;
    r.run_id = std::move(id);
    r.domain_id = "d1";
    r.task_id = "t1";
    r.check_result = "success";
    r.content_hash = "h-" + r.run_id;
    for (int i = 0; i < dirs; ++i)
      r.dirs.push_back({"/d" + std::to_string(i), 1, 0, 0, 0, 0, 0, 0, 0});
    return r;
  }
  size_t Runs() {
    auto r = cache_->ListRuns("d1", "t1", 100);
    EXPECT_TRUE(r);
    return r ? r->size() : 0;
  }

  // Gives source s1 another owner behind the cache's back, by hand (no
  // Store write does: an UPDATE in the sqlite3 shell).
  void SetOwnerBehind(const std::string& owner) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    const std::string sql =
        "UPDATE sources SET owner_user_id = '" + owner + "' WHERE id = 's1'";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  // Gives task t1 another source behind the cache's back, by hand (no
  // Store write does).
  void SetTaskSourceBehind(const std::string& source) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    const std::string sql =
        "UPDATE tasks SET source_id = '" + source + "' WHERE id = 't1'";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  sms::testing::TempDir dir_;
  std::string path_;         // the database file
  Store* behind_ = nullptr;  // the inner store, owned by cache_
  std::unique_ptr<CachingStore> cache_;
};

TEST_F(CachingStoreTest, HoldsReadsUntilAWriteThroughItClearsThem) {
  EXPECT_EQ(Runs(), 0u);
  EXPECT_EQ(cache_->GetTask("d1", "t1")->state, TaskState::kReady);
  EXPECT_EQ(cache_->ResolveToken("th")->user.name, "op");
  // Behind its back: the held records do not change.
  ASSERT_TRUE(behind_->CommitRun(MakeRun("r1")));
  ASSERT_TRUE(behind_->UpdateTaskState("d1", "t1", TaskState::kReady,
                                       TaskState::kRunning, "", 5));
  ASSERT_TRUE(behind_->RevokeToken("th", 6));
  EXPECT_EQ(Runs(), 0u);
  EXPECT_EQ(cache_->GetTask("d1", "t1")->state, TaskState::kReady);
  EXPECT_FALSE(cache_->ResolveToken("th")->token.revoked_at);
  // A task's write through it: the task and its runs are read again; the
  // token is still held (a run cannot change a token, its user or domain).
  ASSERT_TRUE(cache_->CommitRun(MakeRun("r2")));
  EXPECT_EQ(Runs(), 2u);
  EXPECT_EQ(cache_->GetTask("d1", "t1")->state, TaskState::kRunning);
  EXPECT_FALSE(cache_->ResolveToken("th")->token.revoked_at);
  // A token's write through it: everything is read again.
  auto revoked = cache_->RevokeToken("th", 7);  // already revoked behind it
  (void)revoked;
  EXPECT_TRUE(cache_->ResolveToken("th")->token.revoked_at);
}

TEST_F(CachingStoreTest, EachWriteThatCanChangeAHeldRecordClearsIt) {
  const std::vector<std::pair<const char*, std::function<bool()>>> writes = {
      {"RevokeToken", [&] { return !!cache_->RevokeToken("th", 7); }},
      {"UpdateTaskState",
       [&] {
         return !!cache_->UpdateTaskState("d1", "t1", TaskState::kReady,
                                          TaskState::kReady, "", 8);
       }},
      {"PutTaskConfigs",
       [&] {
         return !!cache_->PutTaskConfigs("d1", "t1", {{"k", "v"}});
       }},
      {"CommitRun", [&] { return !!cache_->CommitRun(MakeRun("rc")); }},
      {"DeleteTask", [&] { return !!cache_->DeleteTask("d1", "t1"); }},
  };
  int n = 0;
  for (const auto& [name, write] : writes) {
    SCOPED_TRACE(name);
    const size_t before = Runs();
    ASSERT_TRUE(behind_->CommitRun(MakeRun("behind" + std::to_string(n++))));
    EXPECT_EQ(Runs(), before);  // held
    ASSERT_TRUE(write());
    if (std::string(name) == "DeleteTask") {
      EXPECT_EQ(cache_->GetTask("d1", "t1").error().code,
                core::ErrorCode::kNotFound);
    } else {
      EXPECT_GT(Runs(), before);  // read again
    }
  }
}

// On SQLite `sms-server admin revoke-credential` writes from another
// process, which a local cache cannot hear: credentials, users and domains
// are read from the database every time.
TEST_F(CachingStoreTest, ALocalCacheDoesNotHoldCredentialsUsersOrDomains) {
  EXPECT_FALSE(cache_->GetCredential("AK")->revoked_at);
  EXPECT_EQ(cache_->GetUser("d1", "u1")->name, "op");
  EXPECT_EQ(cache_->GetDomain("d1")->name, "acme");
  ASSERT_TRUE(behind_->RevokeCredential("AK", 5));
  EXPECT_TRUE(cache_->GetCredential("AK")->revoked_at);
  EXPECT_EQ(cache_->Stats().identity.hits, 0u);
}

TEST_F(CachingStoreTest, AnEmptyPollKeepsWhatIsHeld) {
  EXPECT_EQ(Runs(), 0u);
  ASSERT_TRUE(behind_->CommitRun(MakeRun("r1")));
  auto polled = cache_->NextCommand("d1", "s1", 11);
  ASSERT_TRUE(polled);
  EXPECT_FALSE(polled->has_value());
  EXPECT_EQ(Runs(), 0u);  // still held
}

// A check of task t1 on source s1.
Command Check(std::string run_id) {
  return {.domain_id = "d1",
          .source_id = "s1",
          .task_id = "t1",
          .run_id = std::move(run_id),
          .param_json = "{}",
          .created_at = 5,
          .updated_at = 5};
}

// The run id of the command a poll of s1 hands out, "" for none.
std::string Poll(Store& s) {
  auto r = s.NextCommand("d1", "s1", 9);
  EXPECT_TRUE(r) << r.error().ToString();
  return r && r->has_value() ? (*r)->run_id : "";
}

TEST_F(CachingStoreTest, AnIdleSourceIsAnsweredFromMemoryUntilACommand) {
  EXPECT_EQ(Poll(*cache_), "");  // read: none, held
  EXPECT_EQ(Poll(*cache_), "");  // from memory
  EXPECT_EQ(cache_->Stats().idle_sources.hits, 1u);
  EXPECT_EQ(cache_->Stats().idle_sources.misses, 1u);
  // Behind its back (never in sms-server: one process enqueues): unseen.
  ASSERT_TRUE(behind_->EnqueueCommand(Check("r1"), TaskState::kReady,
                                      TaskState::kRunning));
  EXPECT_EQ(Poll(*cache_), "");
  // Through it: the source is read again, and both are handed out in turn,
  // once each.
  ASSERT_TRUE(cache_->EnqueueCommand(Check("r2"), TaskState::kRunning,
                                     TaskState::kRunning));
  EXPECT_EQ(Poll(*cache_), "r1");
  EXPECT_EQ(Poll(*cache_), "r2");
  EXPECT_EQ(Poll(*cache_), "");
  EXPECT_EQ(Poll(*cache_), "");
  EXPECT_EQ(cache_->Stats().idle_sources.hits, 3u);
}

TEST_F(CachingStoreTest, OtherWritesKeepIdleSources) {
  EXPECT_EQ(Poll(*cache_), "");
  // Writes that empty the other tables cannot make a command pending.
  ASSERT_TRUE(cache_->CommitRun(MakeRun("r0")));
  ASSERT_TRUE(cache_->UpdateTaskState("d1", "t1", TaskState::kReady,
                                      TaskState::kReady, "", 8));
  ASSERT_TRUE(behind_->EnqueueCommand(Check("r1"), TaskState::kReady,
                                      TaskState::kRunning));
  EXPECT_EQ(Poll(*cache_), "");  // still held
  // Another source's command does not forget this one.
  Command other = Check("r2");
  other.source_id = "s2";
  (void)cache_->EnqueueCommand(other, TaskState::kRunning, TaskState::kRunning);
  EXPECT_EQ(Poll(*cache_), "");
}

TEST_F(CachingStoreTest, IdleSourcesStayWithinTheirLimit) {
  Open("idle-limit.db", {.idle_sources = 2});
  for (const char* s : {"a", "b", "s1"})
    ASSERT_TRUE(cache_->NextCommand("d1", s, 9));
  // The third emptied the table before it was held.
  EXPECT_EQ(Poll(*cache_), "");
  EXPECT_EQ(cache_->Stats().idle_sources.hits, 1u);
  ASSERT_TRUE(cache_->NextCommand("d1", "a", 9));
  EXPECT_EQ(cache_->Stats().idle_sources.hits, 1u);  // "a" was dropped
}

// The agent loop's owner check reads GetSourceOwner on every poll: held,
// and kept through the writes of a fleet (heartbeat flushes, registrations
// of known agents, runs, commands); only a write that can change a source's
// owner clears it (none of this store's: GetSourceOwner by hand below).
TEST_F(CachingStoreTest, ASourceOwnerIsHeldThroughHeartbeatsAndRuns) {
  EXPECT_EQ(*cache_->GetSourceOwner("d1", "s1"), "");
  SetOwnerBehind("agent-2");
  EXPECT_EQ(*cache_->GetSourceOwner("d1", "s1"), "");  // held
  Source again;
  again.id = "s-new";
  again.domain_id = "d1";
  again.name = "src";
  again.hostname = "h";
  again.owner_user_id = "agent-3";
  ASSERT_EQ(cache_->UpsertSource(again)->id, "s1");
  ASSERT_TRUE(cache_->RecordHeartbeats({{"d1", "s1", 9000}}));
  ASSERT_TRUE(cache_->CommitRun(MakeRun("r1")));
  ASSERT_TRUE(cache_->EnqueueCommand(Check("r2"), TaskState::kReady,
                                     TaskState::kRunning));
  EXPECT_EQ(Poll(*cache_), "r2");
  EXPECT_EQ(*cache_->GetSourceOwner("d1", "s1"), "");
  EXPECT_EQ(cache_->Stats().sources.misses, 1u);
  EXPECT_EQ(cache_->Stats().sources.hits, 2u);
  EXPECT_EQ(cache_->GetSourceOwner("d1", "s-new").error().code,
            core::ErrorCode::kNotFound);  // a miss: never held
  // What clears everything clears the owners too.
  ASSERT_TRUE(cache_->RevokeToken("th", 10));
  EXPECT_EQ(*cache_->GetSourceOwner("d1", "s1"), "agent-2");
}

// Every upload reads its task's source (the agent's ownership check):
// held through the writes of the task's state (a run's commit, a command,
// a state change, a schedule, settings), which clear the held task; its
// deletion through the cache forgets it at once.
TEST_F(CachingStoreTest, ATaskSourceIsHeldThroughTheWritesOfItsState) {
  EXPECT_EQ(*cache_->GetTaskSource("d1", "t1"), "s1");
  SetTaskSourceBehind("s9");
  ASSERT_TRUE(cache_->CommitRun(MakeRun("r1")));
  ASSERT_TRUE(cache_->EnqueueCommand(Check("r2"), TaskState::kReady,
                                     TaskState::kRunning));
  ASSERT_TRUE(cache_->UpdateTaskState("d1", "t1", TaskState::kRunning,
                                      TaskState::kReady, "", 8));
  ASSERT_TRUE(cache_->PutTaskConfigs("d1", "t1", {{"k", "v"}}));
  ASSERT_TRUE(cache_->SetNextCheck("d1", "t1", 1000));
  ASSERT_TRUE(cache_->RefreshReadiness("d1", "t1"));
  EXPECT_EQ(cache_->GetTask("d1", "t1")->source_id, "s9");  // read again
  EXPECT_EQ(*cache_->GetTaskSource("d1", "t1"), "s1");      // held
  EXPECT_EQ(cache_->Stats().task_sources.misses, 1u);
  EXPECT_EQ(cache_->Stats().task_sources.hits, 1u);
  EXPECT_EQ(cache_->GetTaskSource("d1", "nope").error().code,
            core::ErrorCode::kNotFound);  // a miss: never held
  // What clears everything clears the tasks' sources too.
  ASSERT_TRUE(cache_->RevokeToken("th", 10));
  EXPECT_EQ(*cache_->GetTaskSource("d1", "t1"), "s9");
  EXPECT_EQ(*cache_->GetTaskSource("d1", "t1"), "s9");  // held again
  ASSERT_TRUE(cache_->DeleteTask("d1", "t1"));
  EXPECT_EQ(cache_->GetTaskSource("d1", "t1").error().code,
            core::ErrorCode::kNotFound);
  ASSERT_TRUE(cache_->CreateTask(MakeTask("t1")));
  EXPECT_EQ(*cache_->GetTaskSource("d1", "t1"), "s1");
}

TEST_F(CachingStoreTest, CountsHitsAndMisses) {
  EXPECT_EQ(Runs(), 0u);
  EXPECT_EQ(Runs(), 0u);
  EXPECT_TRUE(cache_->GetTask("d1", "t1"));
  EXPECT_FALSE(cache_->GetTask("d1", "nope"));
  EXPECT_TRUE(cache_->ResolveToken("th"));
  EXPECT_TRUE(cache_->ResolveToken("th"));
  EXPECT_TRUE(cache_->ResolveToken("th"));
  const CacheStats s = cache_->Stats();
  EXPECT_EQ(s.runs.misses, 1u);
  EXPECT_EQ(s.runs.hits, 1u);
  EXPECT_EQ(s.tasks.misses, 2u);
  EXPECT_EQ(s.tasks.hits, 0u);
  EXPECT_EQ(s.tokens.misses, 1u);
  EXPECT_EQ(s.tokens.hits, 2u);
}

TEST_F(CachingStoreTest, MissesAreNotHeld) {
  EXPECT_EQ(cache_->GetTask("d1", "t2").error().code,
            core::ErrorCode::kNotFound);
  EXPECT_EQ(cache_->ResolveToken("th2").error().code,
            core::ErrorCode::kNotFound);
  ASSERT_TRUE(behind_->CreateTask(MakeTask("t2")));
  ASSERT_TRUE(behind_->CreateToken({"th2", "d1", "u1", 1, 1000000, {}}));
  EXPECT_TRUE(cache_->GetTask("d1", "t2"));
  EXPECT_TRUE(cache_->ResolveToken("th2"));
}

// A request's read scope took its snapshot (the token lookup) before
// another thread committed a run: what it then reads of the runs is the old
// snapshot, which must not be held past the scope.
TEST_F(CachingStoreTest, AReadFromASnapshotOlderThanAWriteIsNotHeld) {
  {
    auto scope = cache_->BeginReadScope();
    ASSERT_NE(scope, nullptr);
    ASSERT_TRUE(cache_->ResolveToken("th"));
    std::thread writer([&] { ASSERT_TRUE(cache_->CommitRun(MakeRun("r1"))); });
    writer.join();
    auto in_scope = cache_->ListRuns("d1", "t1", 100);
    ASSERT_TRUE(in_scope);
    EXPECT_EQ(in_scope->size(), 0u);  // the scope's snapshot
  }
  EXPECT_EQ(Runs(), 1u);
}

TEST_F(CachingStoreTest, WritesInsideAReadScopeAreRefused) {
  auto scope = cache_->BeginReadScope();
  ASSERT_NE(scope, nullptr);
  // Before any read: the inner store's own scope has not begun yet.
  EXPECT_EQ(cache_->CommitRun(MakeRun("r1")).error().code,
            core::ErrorCode::kInternal);
  scope.reset();
  EXPECT_EQ(Runs(), 0u);
}

TEST_F(CachingStoreTest, StaysWithinItsLimits) {
  CacheLimits limits;
  limits.run_lists = 2;
  limits.run_dirs = 10;
  Open("limits.db", limits);
  // A list of more directories than the limit is never held.
  ASSERT_TRUE(cache_->CommitRun(MakeRun("big", 11)));
  EXPECT_EQ(Runs(), 1u);
  ASSERT_TRUE(behind_->CommitRun(MakeRun("r2")));
  EXPECT_EQ(Runs(), 2u);
  // More lists than the limit: all are still answered right.
  for (int limit = 1; limit <= 5; ++limit) {
    auto r = cache_->ListRuns("d1", "t1", limit);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->size(), std::min<size_t>(2, limit));
  }
}

// The cache of a PostgreSQL replica (NewSharedCachingStore), fed here by
// hand as its listener would (postgres_store_test.cc feeds it from a real
// database; tests/e2e/pg_replicas_test.py runs two replicas).
class SharedCachingStoreTest : public CachingStoreTest {
 protected:
  void SetUp() override {
    OpenWith("shared.db", [this](std::unique_ptr<Store> inner) {
      return NewSharedCachingStore(std::move(inner),
                                   {.clock = &clock_, .max_lag_ms = 500});
    });
  }
  // Another replica revokes the token: true when this one still answers
  // from a held record (the revocation unseen).
  bool RevokedBehindUnseen(int64_t now) {
    EXPECT_TRUE(behind_->RevokeToken("th", now));
    auto r = cache_->ResolveToken("th");
    EXPECT_TRUE(r);
    return r && !r->token.revoked_at;
  }
  // Reads the token twice and returns the hits it added.
  uint64_t HitsOfTwoReads() {
    const uint64_t before = cache_->Stats().tokens.hits;
    EXPECT_TRUE(cache_->ResolveToken("th"));
    EXPECT_TRUE(cache_->ResolveToken("th"));
    return cache_->Stats().tokens.hits - before;
  }

  sms::testing::FakeClock clock_;
};

TEST_F(SharedCachingStoreTest, HoldsNothingUntilListeningAndAFenceHeard) {
  EXPECT_EQ(HitsOfTwoReads(), 0u);  // no listener yet
  cache_->Listening();
  EXPECT_EQ(HitsOfTwoReads(), 0u);  // no fence heard yet
  cache_->Heard(clock_.Now());
  EXPECT_EQ(HitsOfTwoReads(), 1u);  // the first read fills, the second hits
  EXPECT_TRUE(cache_->Stats().listening);
}

TEST_F(SharedCachingStoreTest, AReportedWriteEmptiesIt) {
  cache_->Listening();
  cache_->Heard(clock_.Now());
  ASSERT_TRUE(cache_->ResolveToken("th"));
  EXPECT_EQ(Runs(), 0u);
  ASSERT_TRUE(behind_->CommitRun(MakeRun("r1")));
  EXPECT_EQ(Runs(), 0u);  // held: the write is not reported yet
  cache_->Changed();
  EXPECT_EQ(Runs(), 1u);
  EXPECT_EQ(cache_->Stats().changes_heard, 1u);
}

TEST_F(SharedCachingStoreTest, AReportedWriteEmptiesWhatItsTableCanChange) {
  cache_->Listening();
  cache_->Heard(clock_.Now());
  ASSERT_TRUE(cache_->ResolveToken("th"));
  EXPECT_EQ(Runs(), 0u);
  // Another replica commits a run and revokes the token.
  ASSERT_TRUE(behind_->CommitRun(MakeRun("r1")));
  ASSERT_TRUE(behind_->RevokeToken("th", 6));
  for (const char* table : {"runs", "tasks"}) {
    SCOPED_TRACE(table);
    cache_->ChangedTable(table);
    EXPECT_EQ(Runs(), 1u);                                       // read again
    EXPECT_FALSE(cache_->ResolveToken("th")->token.revoked_at);  // held
  }
  cache_->ChangedTable("commands");  // idle sources only
  EXPECT_FALSE(cache_->ResolveToken("th")->token.revoked_at);
  for (const char* table : {"tokens", "users", "domains", "anything else"}) {
    SCOPED_TRACE(table);
    ASSERT_TRUE(behind_->CommitRun(MakeRun(std::string("x-") + table)));
    cache_->ChangedTable(table);
    EXPECT_TRUE(cache_->ResolveToken("th")->token.revoked_at);  // read again
  }
  EXPECT_EQ(Runs(), 5u);
}

// A replica holds credentials, users and domains (the AK/SK path) until a
// write to them is reported or made through it; a task's or run's report
// leaves them held, and theirs leaves the tokens held.
TEST_F(SharedCachingStoreTest, HoldsCredentialsUntilACredentialWriteIsHeard) {
  cache_->Listening();
  cache_->Heard(clock_.Now());
  auto read_all = [&] {
    auto c = cache_->GetCredential("AK");
    EXPECT_TRUE(c);
    EXPECT_TRUE(cache_->GetUser("d1", "u1"));
    EXPECT_TRUE(cache_->GetDomain("d1"));
    return c && !c->revoked_at;  // true: not revoked
  };
  EXPECT_TRUE(read_all());
  EXPECT_TRUE(read_all());
  EXPECT_EQ(cache_->Stats().identity.misses, 3u);
  EXPECT_EQ(cache_->Stats().identity.hits, 3u);
  ASSERT_TRUE(cache_->ResolveToken("th"));
  // Another replica (or `sms-server admin`) revokes the key: unseen until
  // reported.
  ASSERT_TRUE(behind_->RevokeCredential("AK", 5));
  EXPECT_TRUE(read_all());
  for (const char* table : {"runs", "tasks", "commands"}) {
    cache_->ChangedTable(table);
    EXPECT_TRUE(read_all()) << table;
  }
  const uint64_t token_hits = cache_->Stats().tokens.hits;
  cache_->ChangedTable("credentials");
  EXPECT_FALSE(read_all());
  ASSERT_TRUE(cache_->ResolveToken("th"));
  EXPECT_EQ(cache_->Stats().tokens.hits, token_hits + 1);  // still held
  // A user's or domain's write empties them too (and everything else).
  ASSERT_TRUE(cache_->CreateCredential({"AK2", "d1", "u1", "SK2", 1, {}}));
  ASSERT_TRUE(cache_->GetCredential("AK2"));
  ASSERT_TRUE(behind_->RevokeCredential("AK2", 6));
  cache_->ChangedTable("users");
  EXPECT_TRUE(cache_->GetCredential("AK2")->revoked_at);
}

TEST_F(SharedCachingStoreTest, ARevocationThroughItIsReadAtOnce) {
  cache_->Listening();
  cache_->Heard(clock_.Now());
  ASSERT_TRUE(cache_->GetCredential("AK"));
  EXPECT_FALSE(cache_->GetCredential("AK")->revoked_at);  // held
  ASSERT_TRUE(cache_->RevokeCredential("AK", 5));
  EXPECT_TRUE(cache_->GetCredential("AK")->revoked_at);
  // The listener's loss, and a lagging fence, read the database too.
  ASSERT_TRUE(cache_->CreateCredential({"AK2", "d1", "u1", "SK2", 1, {}}));
  ASSERT_TRUE(cache_->GetCredential("AK2"));
  ASSERT_TRUE(behind_->RevokeCredential("AK2", 6));
  clock_.Advance(std::chrono::milliseconds(501));
  EXPECT_TRUE(cache_->GetCredential("AK2")->revoked_at);
  cache_->Heard(clock_.Now());
  ASSERT_TRUE(cache_->CreateCredential({"AK3", "d1", "u1", "SK3", 1, {}}));
  ASSERT_TRUE(cache_->GetCredential("AK3"));
  ASSERT_TRUE(behind_->RevokeCredential("AK3", 7));
  cache_->Lost();
  EXPECT_TRUE(cache_->GetCredential("AK3")->revoked_at);
}

// Each group of tables has its own generation: a run committed while a
// request reads a credential (uploads commit several runs a second) does
// not stop the credential from being held, but a revocation does.
TEST_F(SharedCachingStoreTest, OnlyAWriteToItsTablesStopsAFill) {
  cache_->Listening();
  cache_->Heard(clock_.Now());
  {
    auto scope = cache_->BeginReadScope();
    ASSERT_NE(scope, nullptr);
    ASSERT_TRUE(cache_->ResolveToken("th"));  // the snapshot is taken
    std::thread writer([&] { ASSERT_TRUE(cache_->CommitRun(MakeRun("r1"))); });
    writer.join();
    ASSERT_TRUE(cache_->GetCredential("AK"));  // filled
    EXPECT_EQ(Runs(), 0u);                     // the scope's snapshot: not held
  }
  ASSERT_TRUE(cache_->GetCredential("AK"));
  EXPECT_EQ(cache_->Stats().identity.hits, 1u);
  EXPECT_EQ(Runs(), 1u);
  ASSERT_TRUE(cache_->CreateCredential({"AK2", "d1", "u1", "SK2", 1, {}}));
  {
    auto scope = cache_->BeginReadScope();
    ASSERT_NE(scope, nullptr);
    ASSERT_TRUE(cache_->GetTask("d1", "t1"));  // a miss: the snapshot
    std::thread writer(
        [&] { ASSERT_TRUE(cache_->RevokeCredential("AK2", 5)); });
    writer.join();
    EXPECT_FALSE(cache_->GetCredential("AK2")->revoked_at);  // old snapshot
  }
  EXPECT_TRUE(cache_->GetCredential("AK2")->revoked_at);  // not held
}

// A replica forgets the held owners when a write to sources is reported
// (a deletion or a new owner: migrations/postgres/0018), and only then;
// that report leaves the other records held.
TEST_F(SharedCachingStoreTest, OnlyAReportedSourceWriteForgetsOwners) {
  cache_->Listening();
  cache_->Heard(clock_.Now());
  EXPECT_EQ(*cache_->GetSourceOwner("d1", "s1"), "");
  SetOwnerBehind("agent-2");
  for (const char* table : {"runs", "tasks", "commands", "credentials"}) {
    cache_->ChangedTable(table);
    EXPECT_EQ(*cache_->GetSourceOwner("d1", "s1"), "") << table;  // held
  }
  ASSERT_TRUE(cache_->ResolveToken("th"));
  EXPECT_EQ(Poll(*cache_), "");
  const CacheStats before = cache_->Stats();
  cache_->ChangedTable("sources");
  EXPECT_EQ(*cache_->GetSourceOwner("d1", "s1"), "agent-2");
  ASSERT_TRUE(cache_->ResolveToken("th"));
  EXPECT_EQ(Poll(*cache_), "");
  const CacheStats after = cache_->Stats();
  EXPECT_EQ(after.sources.misses, before.sources.misses + 1);
  EXPECT_EQ(after.tokens.hits, before.tokens.hits + 1);              // held
  EXPECT_EQ(after.idle_sources.hits, before.idle_sources.hits + 1);  // held
  // The listener's loss forgets them too.
  SetOwnerBehind("agent-3");
  EXPECT_EQ(*cache_->GetSourceOwner("d1", "s1"), "agent-2");  // held
  cache_->Lost();
  EXPECT_EQ(*cache_->GetSourceOwner("d1", "s1"), "agent-3");
}

// A replica forgets the held tasks' sources when a task's deletion or new
// source is reported (migrations/postgres/0022), and only then: the
// writes of tasks' states ("tasks", "runs": every batch of uploads) keep
// them.
TEST_F(SharedCachingStoreTest, OnlyAReportedTaskSourceWriteForgetsThem) {
  cache_->Listening();
  cache_->Heard(clock_.Now());
  EXPECT_EQ(*cache_->GetTaskSource("d1", "t1"), "s1");
  SetTaskSourceBehind("s9");
  for (const char* table : {"runs", "tasks", "commands", "commands d1 s1",
                            "credentials", "sources"}) {
    cache_->ChangedTable(table);
    EXPECT_EQ(*cache_->GetTaskSource("d1", "t1"), "s1") << table;  // held
  }
  ASSERT_TRUE(cache_->ResolveToken("th"));
  const CacheStats before = cache_->Stats();
  cache_->ChangedTable("task_sources");
  EXPECT_EQ(*cache_->GetTaskSource("d1", "t1"), "s9");
  ASSERT_TRUE(cache_->ResolveToken("th"));
  const CacheStats after = cache_->Stats();
  EXPECT_EQ(after.task_sources.misses, before.task_sources.misses + 1);
  EXPECT_EQ(after.tokens.hits, before.tokens.hits + 1);  // held
  // A table not known here, and the listener's loss, forget them too.
  SetTaskSourceBehind("s8");
  cache_->ChangedTable("anything else");
  EXPECT_EQ(*cache_->GetTaskSource("d1", "t1"), "s8");
  SetTaskSourceBehind("s7");
  EXPECT_EQ(*cache_->GetTaskSource("d1", "t1"), "s8");  // held
  cache_->Lost();
  EXPECT_EQ(*cache_->GetTaskSource("d1", "t1"), "s7");
}

TEST_F(SharedCachingStoreTest, OnlyAReportedCommandForgetsIdleSources) {
  EXPECT_EQ(Poll(*cache_), "");
  EXPECT_EQ(Poll(*cache_), "");
  EXPECT_EQ(cache_->Stats().idle_sources.hits, 0u);  // not listening yet
  cache_->Listening();
  cache_->Heard(clock_.Now());
  EXPECT_EQ(Poll(*cache_), "");
  EXPECT_EQ(Poll(*cache_), "");
  EXPECT_EQ(cache_->Stats().idle_sources.hits, 1u);
  // Another replica enqueues: unseen until the listener reports it.
  ASSERT_TRUE(behind_->EnqueueCommand(Check("r1"), TaskState::kReady,
                                      TaskState::kRunning));
  EXPECT_EQ(Poll(*cache_), "");
  cache_->ChangedTable("runs");  // not a command: still held
  EXPECT_EQ(Poll(*cache_), "");
  EXPECT_EQ(cache_->Stats().idle_sources.hits, 3u);
  cache_->ChangedTable("commands");
  EXPECT_EQ(Poll(*cache_), "r1");
  // A report of "commands" leaves the other tables held.
  ASSERT_TRUE(cache_->ResolveToken("th"));
  const uint64_t token_hits = cache_->Stats().tokens.hits;
  cache_->ChangedTable("commands");
  ASSERT_TRUE(cache_->ResolveToken("th"));
  EXPECT_EQ(cache_->Stats().tokens.hits, token_hits + 1);
}

// A new command's notification names its source (0018): only that source
// is read again; a payload that does not split forgets every one.
TEST_F(SharedCachingStoreTest, AReportedCommandForgetsOnlyItsSource) {
  cache_->Listening();
  cache_->Heard(clock_.Now());
  EXPECT_EQ(Poll(*cache_), "");                     // s1 held
  ASSERT_TRUE(cache_->NextCommand("d1", "s2", 9));  // s2 held
  ASSERT_TRUE(behind_->EnqueueCommand(Check("r1"), TaskState::kReady,
                                      TaskState::kRunning));
  for (const char* other : {"commands d1 s3", "commands d2 s1"}) {
    cache_->ChangedTable(other);
    EXPECT_EQ(Poll(*cache_), "") << other;  // still held
  }
  cache_->ChangedTable("commands d1 s1");
  EXPECT_EQ(Poll(*cache_), "r1");
  const uint64_t hits = cache_->Stats().idle_sources.hits;
  ASSERT_TRUE(cache_->NextCommand("d1", "s2", 9));
  EXPECT_EQ(cache_->Stats().idle_sources.hits, hits + 1);  // s2 still held
  EXPECT_EQ(Poll(*cache_), "");                            // s1 held again
  ASSERT_TRUE(behind_->EnqueueCommand(Check("r2"), TaskState::kRunning,
                                      TaskState::kRunning));
  cache_->ChangedTable("commands d1 s1 extra");  // does not split: all
  EXPECT_EQ(Poll(*cache_), "r2");
  ASSERT_TRUE(cache_->NextCommand("d1", "s2", 9));
  EXPECT_EQ(cache_->Stats().idle_sources.hits, hits + 1);  // s2 read again
}

TEST_F(SharedCachingStoreTest, IdleSourcesFollowTheFenceAndTheListener) {
  cache_->Listening();
  cache_->Heard(clock_.Now());
  EXPECT_EQ(Poll(*cache_), "");  // held
  ASSERT_TRUE(behind_->EnqueueCommand(Check("r1"), TaskState::kReady,
                                      TaskState::kRunning));
  // No fence for longer than max_lag: the poll reads the database.
  clock_.Advance(std::chrono::milliseconds(501));
  EXPECT_EQ(Poll(*cache_), "r1");
  ASSERT_TRUE(behind_->EnqueueCommand(Check("r2"), TaskState::kRunning,
                                      TaskState::kRunning));
  // The listener catches up: the command's report before the fence.
  cache_->ChangedTable("commands");
  cache_->Heard(clock_.Now());
  EXPECT_EQ(Poll(*cache_), "r2");
  const uint64_t hits = cache_->Stats().idle_sources.hits;
  EXPECT_EQ(Poll(*cache_), "");
  EXPECT_EQ(Poll(*cache_), "");  // held again
  EXPECT_EQ(cache_->Stats().idle_sources.hits, hits + 1);
  ASSERT_TRUE(behind_->EnqueueCommand(Check("r3"), TaskState::kRunning,
                                      TaskState::kRunning));
  cache_->Lost();  // the listener's loss forgets them too
  cache_->Listening();
  cache_->Heard(clock_.Now());
  EXPECT_EQ(Poll(*cache_), "r3");
}

TEST_F(SharedCachingStoreTest, ServesOnlyWhileTheLastFenceIsYoung) {
  cache_->Listening();
  cache_->Heard(clock_.Now());
  EXPECT_EQ(HitsOfTwoReads(), 1u);
  clock_.Advance(std::chrono::milliseconds(500));
  EXPECT_EQ(HitsOfTwoReads(), 2u);  // exactly max_lag: still served
  // No fence for longer than max_lag (the listener stuck, or its
  // notifications late): a write it did not report is read at once.
  clock_.Advance(std::chrono::milliseconds(1));
  EXPECT_FALSE(RevokedBehindUnseen(10));
  EXPECT_EQ(HitsOfTwoReads(), 0u);
  EXPECT_GE(cache_->Stats().lagging_reads, 3u);
  // The listener catches up: the revocation's report comes before the
  // fence sent after it; then held records are served again.
  cache_->Changed();
  cache_->Heard(clock_.Now());
  EXPECT_EQ(HitsOfTwoReads(), 1u);
  EXPECT_TRUE(cache_->ResolveToken("th")->token.revoked_at);
}

TEST_F(SharedCachingStoreTest, ALostListenerEmptiesItUntilItListensAgain) {
  cache_->Listening();
  cache_->Heard(clock_.Now());
  EXPECT_EQ(HitsOfTwoReads(), 1u);
  cache_->Lost();
  EXPECT_FALSE(cache_->Stats().listening);
  EXPECT_EQ(cache_->Stats().listener_losses, 1u);
  // Emptied: the write behind its back is read at once.
  EXPECT_FALSE(RevokedBehindUnseen(10));
  // A fence alone does not bring it back: nothing is held until the
  // listener listens again (writes meanwhile would go unheard).
  cache_->Heard(clock_.Now());
  EXPECT_EQ(HitsOfTwoReads(), 0u);
  cache_->Listening();
  cache_->Heard(clock_.Now());
  EXPECT_EQ(HitsOfTwoReads(), 1u);
}

// The transport's guess (HttpServerOptions::inline_reads_while).
TEST_F(SharedCachingStoreTest, LikelyServedWhileFreshAndHitting) {
  EXPECT_FALSE(cache_->LikelyServed());  // nothing heard yet
  cache_->Listening();
  cache_->Heard(clock_.Now());
  EXPECT_TRUE(cache_->LikelyServed());
  for (int i = 0; i < 4; ++i)
    EXPECT_FALSE(cache_->GetTask("d1", "none" + std::to_string(i)));
  EXPECT_FALSE(cache_->LikelyServed());  // four misses in a row
  ASSERT_TRUE(cache_->ResolveToken("th"));
  ASSERT_TRUE(cache_->ResolveToken("th"));  // a hit
  EXPECT_TRUE(cache_->LikelyServed());
  clock_.Advance(std::chrono::milliseconds(501));
  EXPECT_FALSE(cache_->LikelyServed());  // the last fence too old
}

// A read whose snapshot was taken before the listener listened may miss a
// write that was never reported: it is not held.
TEST_F(SharedCachingStoreTest, AReadThatBeganBeforeListeningIsNotHeld) {
  {
    auto scope = cache_->BeginReadScope();
    ASSERT_NE(scope, nullptr);
    cache_->Listening();
    cache_->Heard(clock_.Now());
    ASSERT_TRUE(cache_->ResolveToken("th"));  // the scope's snapshot
  }
  EXPECT_FALSE(RevokedBehindUnseen(10));
}

TEST(SqliteServerLockTest, OneHolderAtATime) {
  sms::testing::TempDir dir;
  const std::string path = dir.Join("s.db");
  auto first = SqliteServerLock::Acquire(path);
  ASSERT_TRUE(first) << first.error().ToString();
  auto second = SqliteServerLock::Acquire(path);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, core::ErrorCode::kFailedPrecondition);
  EXPECT_NE(second.error().message.find("served by another sms-server (pid " +
                                        std::to_string(getpid())),
            std::string::npos)
      << second.error().message;
  first->reset();
  EXPECT_TRUE(SqliteServerLock::Acquire(path));
}

}  // namespace
}  // namespace sms::storage
