// Daemon (`sms-agent run`) against the real server, in process: its HTTP
// client hands each request to server::Api::Handle (no sockets), so the
// agent registers, polls, checks two real trees and uploads exactly as it
// does over the network, and the test reads the outcome from the server's
// store. Waits are bounded by a generous deadline; nothing asserts timing.
#include "agent/daemon.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "core/strings.h"
#include "server/api.h"
#include "storage/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace sms::agent {
namespace {

using ::sms::testing::TempDir;
using ::sms::testing::WriteFile;
using storage::Role;
using storage::TaskState;

constexpr char kServer[] = "http://sms.test";

// The agent's HTTP client, answered by the server's Api in this process.
class InProcessHttp final : public HttpClient {
 public:
  explicit InProcessHttp(server::Api& api) : api_(api) {}
  core::Result<HttpResponse> Send(const HttpRequest& req) override {
    server::HttpRequest in;
    in.method = req.method;
    in.target = req.url.substr(std::string(kServer).size());
    in.headers = req.headers;
    // As the real client's transport does: Host is signed, not set.
    in.headers.emplace_back("Host", std::string(kServer).substr(7));
    in.body = req.body;
    in.remote = "127.0.0.1";
    server::HttpResponse out = api_.Handle(in);
    HttpResponse r;
    r.status = out.status;
    for (auto& [k, v] : out.headers) r.headers[core::AsciiLower(k)] = v;
    r.body = std::move(out.body);
    return r;
  }

 private:
  server::Api& api_;
};

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = storage::OpenSqliteStore(dir_.Join("sms.db"));
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    store_ = std::move(*s);
    server::AuthOptions ao;
    ao.pbkdf2_iterations = 1000;
    auth_ = std::make_unique<server::AuthService>(*store_, clock_, ao);
    tasks_ = std::make_unique<server::TaskService>(*store_, clock_);
    results_ =
        std::make_unique<server::ResultService>(*store_, clock_, *tasks_);
    exports_ = std::make_unique<server::ExportService>(*store_, *tasks_);
    api_ = std::make_unique<server::Api>(
        server::ApiDeps{store_.get(), &clock_, auth_.get(), tasks_.get(),
                        results_.get(), exports_.get(), &metrics_,
                        [](const std::string&) {}},
        server::ApiOptions{});
    http_ = std::make_unique<InProcessHttp>(*api_);

    auto domain = auth_->CreateDomain("acme");
    ASSERT_TRUE(domain.has_value());
    domain_id_ = domain->id;
    ASSERT_TRUE(auth_->CreateUser("acme", "agent1", "agent", "agent-password"));
    auto cred = auth_->CreateCredential("acme", "agent1");
    ASSERT_TRUE(cred.has_value());

    config_.server = kServer;
    config_.ak = cred->access_key;
    config_.sk = cred->secret_key;
    config_.state_dir = dir_.Join("state");
    config_.name = "web01";
    config_.poll_interval = 0.05;
    config_.source_root = dir_.Join("src");
    config_.cache = false;
    for (const std::string side : {"src", "dst"}) {
      WriteFile(dir_.Join(side + "/data/a.txt"), "alpha");
      WriteFile(dir_.Join(side + "/data/b.txt"),
                side == "src" ? "beta" : "BETA");
    }
  }

  void TearDown() override {
    if (daemon_) daemon_->Stop();
    if (runner_.joinable()) runner_.join();
  }

  void StartDaemon() {
    client_ = std::make_unique<ServerClient>(*http_, clock_, config_);
    daemon_ = std::make_unique<Daemon>(config_, *client_, clock_);
    runner_ = std::thread([this] { exit_code_ = daemon_->Run(); });
  }

  // Polls `done` every 20 ms until it holds or a minute has passed.
  template <typename Pred>
  bool WaitFor(Pred done) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  server::Identity Operator() const {
    return server::Identity{domain_id_, "acme",          "op",
                            "op",       Role::kOperator, "token"};
  }

  // Waits for the agent's source, then creates a task of it checking /data
  // against `verify_uri` and queues a check; returns the task id.
  std::string QueueCheck(const std::string& verify_uri,
                         const std::string& name = "nightly",
                         const std::string& io_limit = "") {
    std::string source_id;
    EXPECT_TRUE(WaitFor([&] {
      auto page = store_->ListSources(domain_id_, {});
      if (!page || page->items.empty()) return false;
      source_id = page->items[0].id;
      return true;
    }));
    server::CreateTaskRequest r;
    r.name = name;
    r.os_type = "LINUX";
    r.source_id = source_id;
    r.target_name = "copy";
    r.target_verify_uri = verify_uri;
    auto t = tasks_->CreateTask(Operator(), r);
    EXPECT_TRUE(t.has_value());
    std::vector<storage::ConfigEntry> settings = {{"CONSISTENCY_DIR", "/data"}};
    if (!io_limit.empty())
      settings.emplace_back("CONSISTENCY_IO_LIMIT", io_limit);
    EXPECT_TRUE(tasks_->SetConfiguration(Operator(), t->id, settings));
    EXPECT_TRUE(tasks_->RunAction(Operator(), t->id, {"consistency_check"}));
    return t->id;
  }

  // The task's newest run once the agent has uploaded it.
  std::optional<storage::Run> WaitForRun(const std::string& task_id) {
    std::optional<storage::Run> run;
    WaitFor([&] {
      auto runs = store_->ListRuns(domain_id_, task_id, 1);
      if (!runs || runs->empty()) return false;
      run = runs->front();
      return true;
    });
    return run;
  }

  TempDir dir_;
  core::Clock& clock_ = core::SystemClock();  // X-Sdk-Date is checked
  server::Metrics metrics_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<server::AuthService> auth_;
  std::unique_ptr<server::TaskService> tasks_;
  std::unique_ptr<server::ResultService> results_;
  std::unique_ptr<server::ExportService> exports_;
  std::unique_ptr<server::Api> api_;
  std::unique_ptr<InProcessHttp> http_;
  std::string domain_id_;
  AgentConfig config_;
  std::unique_ptr<ServerClient> client_;
  std::unique_ptr<Daemon> daemon_;
  std::thread runner_;
  int exit_code_ = -1;
};

TEST_F(DaemonTest, RunsAQueuedCheckAndUploadsItsResult) {
  StartDaemon();
  const std::string task_id = QueueCheck("file://" + dir_.Join("dst"));
  auto run = WaitForRun(task_id);
  ASSERT_TRUE(run.has_value()) << "no run uploaded within a minute";
  EXPECT_EQ(run->check_result, "success");
  ASSERT_EQ(run->dirs.size(), 1u);
  EXPECT_EQ(run->dirs[0].dir_check, "/data");
  EXPECT_EQ(run->dirs[0].num_total_files, 2);
  EXPECT_EQ(run->dirs[0].num_different_files, 1);
  auto task = store_->GetTask(domain_id_, task_id);
  ASSERT_TRUE(task.has_value());
  EXPECT_EQ(task->state, TaskState::kReady);
  EXPECT_EQ(task->current_run_id, run->run_id);

  // The differing file's detail came with the run.
  storage::DetailQuery q;
  q.run_id = run->run_id;
  auto details = store_->ListDetails(domain_id_, q);
  ASSERT_TRUE(details.has_value());
  ASSERT_EQ(details->rows.size(), 1u);
  EXPECT_EQ(details->rows[0].file.path, "b.txt");
  EXPECT_EQ(details->rows[0].file.status, "different");

  daemon_->Stop();
  runner_.join();
  EXPECT_EQ(exit_code_, 0);
  // The source id is kept for the next start.
  EXPECT_EQ(::sms::testing::ReadFile(dir_.Join("state/source_id")).size(), 36u);
}

TEST_F(DaemonTest, ACheckThatCannotRunIsUploadedAsFailed) {
  StartDaemon();
  const std::string task_id = QueueCheck("file://" + dir_.Join("nowhere"));
  auto run = WaitForRun(task_id);
  ASSERT_TRUE(run.has_value()) << "no run uploaded within a minute";
  EXPECT_EQ(run->check_result, "failed");
  EXPECT_NE(run->error_msg.find("target " + dir_.Join("nowhere")),
            std::string::npos)
      << run->error_msg;
  auto task = store_->GetTask(domain_id_, task_id);
  ASSERT_TRUE(task.has_value());
  EXPECT_EQ(task->state, TaskState::kReady);
}

// The server hands out every queued command of the source, so a check of
// another task can arrive while one runs. Before, the agent dropped it (and
// the first check's report then finished the second's command): the second
// task stayed RUNNING for good.
TEST_F(DaemonTest, ACheckDeliveredWhileAnotherRunsRunsAfterIt) {
  // 3 MB read at 1 MB/s: the first check runs for seconds.
  for (const std::string side : {"src", "dst"})
    WriteFile(dir_.Join(side + "/data/big.bin"), std::string(3 << 20, 'x'));
  StartDaemon();
  const std::string first =
      QueueCheck("file://" + dir_.Join("dst"), "first", "1");
  ASSERT_TRUE(WaitFor([&] {
    auto c = store_->LatestTaskCommand(domain_id_, first);
    return c && c->state == storage::CommandState::kDelivered;
  }));
  const std::string second = QueueCheck("file://" + dir_.Join("dst"), "second");
  std::vector<std::string> run_ids;
  for (const std::string& task_id : {first, second}) {
    std::optional<storage::Task> task;
    ASSERT_TRUE(WaitFor([&] {
      task = *store_->GetTask(domain_id_, task_id);
      return task->state != TaskState::kRunning;
    })) << "task "
        << task_id << " still RUNNING after a minute";
    EXPECT_EQ(task->state, TaskState::kReady);
    auto run = WaitForRun(task_id);
    ASSERT_TRUE(run.has_value());
    EXPECT_EQ(run->check_result, "success");
    EXPECT_EQ(run->dirs[0].num_different_files, 1);
    EXPECT_EQ(task->current_run_id, run->run_id);
    // Each command is finished by its own run.
    auto command = store_->LatestTaskCommand(domain_id_, task_id);
    ASSERT_TRUE(command.has_value());
    EXPECT_EQ(command->state, storage::CommandState::kDone);
    EXPECT_EQ(command->run_id, run->run_id);
    run_ids.push_back(run->run_id);
  }
  // The first check's report did not finish the second's command.
  auto second_command = store_->LatestTaskCommand(domain_id_, second);
  EXPECT_EQ(second_command->result_detail.find(run_ids[0]), std::string::npos)
      << second_command->result_detail;
}

// A STOP of a task whose check waits in the agent's queue drops it: the
// task ends ABORT with no run, and the running check is not disturbed.
TEST_F(DaemonTest, AStopDropsAQueuedCheck) {
  for (const std::string side : {"src", "dst"})
    WriteFile(dir_.Join(side + "/data/big.bin"), std::string(3 << 20, 'x'));
  StartDaemon();
  const std::string first =
      QueueCheck("file://" + dir_.Join("dst"), "first", "1");
  auto delivered = [&](const std::string& task_id) {
    return WaitFor([&] {
      auto c = store_->LatestTaskCommand(domain_id_, task_id);
      return c && c->state == storage::CommandState::kDelivered;
    });
  };
  ASSERT_TRUE(delivered(first));
  const std::string second = QueueCheck("file://" + dir_.Join("dst"), "second");
  ASSERT_TRUE(delivered(second));
  ASSERT_TRUE(tasks_->RunAction(Operator(), second, {"stop"}));
  ASSERT_TRUE(WaitFor([&] {
    return store_->GetTask(domain_id_, second)->state == TaskState::kAbort;
  })) << "the STOP was not acknowledged";
  auto run = WaitForRun(first);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->check_result, "success");
  EXPECT_EQ(store_->GetTask(domain_id_, first)->state, TaskState::kReady);
  // Past the first check's end, the dropped one never ran.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(store_->ListRuns(domain_id_, second, 1)->empty());
  EXPECT_EQ(store_->GetTask(domain_id_, second)->state, TaskState::kAbort);
}

TEST_F(DaemonTest, RefusedCredentialsStopTheAgentWithAnError) {
  config_.sk = "not-the-secret-key-at-all";
  StartDaemon();
  runner_.join();  // Run() returns by itself
  EXPECT_EQ(exit_code_, kExitError);
  auto page = store_->ListSources(domain_id_, {});
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->count, 0);
}

}  // namespace
}  // namespace sms::agent
