// Integration tests: the real build/bin/sms-server on a loopback port picked
// by the kernel, driven over HTTP with a tiny blocking client, set up with
// the real `sms-server admin` commands.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "auth/crypto.h"
#include "auth/sdk_signer.h"
#include "server/json_fields.h"
#include "testing/temp_dir.h"
#include "webhook/webhook.h"

namespace sms::server {

using auth::FormatSdkDate;
using auth::NewUuid;
using auth::SdkSignature;
using auth::SignableRequest;
namespace {

using ::testing::HasSubstr;

std::string ServerBinary() {
  const char* dir = std::getenv("SMS_BIN_DIR");
  return std::string(dir ? dir : "build/bin") + "/sms-server";
}

struct Output {
  int exit_code = -1;
  std::string out;
};

// Runs argv with `input` on stdin; returns exit code and stdout.
Output RunProgram(const std::vector<std::string>& argv,
                  const std::string& input) {
  int in_pipe[2], out_pipe[2];
  if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    close(in_pipe[1]);
    close(out_pipe[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  if (!input.empty()) {
    ssize_t n = write(in_pipe[1], input.data(), input.size());
    (void)n;
  }
  close(in_pipe[1]);
  Output o;
  char buf[4096];
  ssize_t n;
  while ((n = read(out_pipe[0], buf, sizeof(buf))) > 0) o.out.append(buf, n);
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  json::value Json() const {
    boost::system::error_code ec;
    return json::parse(body, ec);
  }
};

// A blocking HTTP/1.1 connection to 127.0.0.1:port.
class Conn {
 public:
  explicit Conn(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Conn() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  Response Send(const std::string& method, const std::string& target,
                const std::string& body,
                const std::vector<std::pair<std::string, std::string>>& hdrs) {
    std::string req =
        method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : hdrs) req += k + ": " + v + "\r\n";
    if (!body.empty()) {
      req += "Content-Type: application/json\r\n";
    }
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    req += body;
    size_t off = 0;
    while (off < req.size()) {
      ssize_t n = send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      // The server may answer (413) and close before reading everything.
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    return ReadResponse();
  }

  // Writes raw bytes (no framing).
  bool Raw(const std::string& bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  Response ReadResponse() {
    Response r;
    size_t header_end;
    while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return r;
    }
    std::istringstream head(buf_.substr(0, header_end));
    std::string line;
    std::getline(head, line);
    if (line.size() > 12) r.status = std::atoi(line.c_str() + 9);
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string k = line.substr(0, colon);
      for (char& c : k) c = static_cast<char>(std::tolower(c));
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(v.begin());
      r.headers[k] = v;
    }
    buf_.erase(0, header_end + 4);
    size_t len = std::stoul(
        r.headers.count("content-length") ? r.headers["content-length"] : "0");
    while (buf_.size() < len)
      if (!Fill()) break;
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }
  bool Fill() {
    char tmp[65536];
    ssize_t n = read(fd_, tmp, sizeof(tmp));
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buf_;
};

// One sms-server process on its own database.
class ServerProcess {
 public:
  ServerProcess(std::string db, std::string log)
      : db_(std::move(db)), log_(std::move(log)) {}
  ~ServerProcess() { Kill(SIGKILL); }

  // Starts `serve` on 127.0.0.1:0 and waits for its "listening" line.
  bool Start() {
    std::ofstream(log_, std::ios::trunc).close();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = open(log_.c_str(), O_WRONLY | O_APPEND);
      dup2(fd, 2);
      execl(ServerBinary().c_str(), "sms-server", "serve", "--listen",
            "127.0.0.1:0", "--db", db_.c_str(), "--io-threads", "2",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      std::ifstream in(log_);
      std::string line;
      while (std::getline(in, line)) {
        size_t at = line.find("\"address\":\"127.0.0.1:");
        if (at != std::string::npos) {
          port_ = std::atoi(line.c_str() + at + 21);
          return port_ > 0;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // Sends `sig` and waits; returns the exit status (or -signal).
  int Kill(int sig) {
    if (pid_ <= 0) return 0;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return -WTERMSIG(status);
  }
  // Sends `sig` without waiting.
  void Signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  int port() const { return port_; }
  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string db_, log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

class ServerIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    setenv("SMS_PBKDF2_ITERATIONS", "1000", 1);
    db_ = "sqlite:" + dir_.Join("var/sms.db");
    for (const char* d : {"acme", "other"})
      ASSERT_EQ(Admin({"create-domain", d}).exit_code, 0);
    for (const char* d : {"acme", "other"}) {
      for (const char* role : {"admin", "operator", "viewer", "agent"}) {
        Output o = Admin(
            {"create-user", "--domain", d, "--name", role, "--role", role},
            std::string("pw-") + d + "-" + role + "\n");
        ASSERT_EQ(o.exit_code, 0) << o.out;
      }
    }
    Output cred =
        Admin({"create-credential", "--domain", "acme", "--user", "agent"});
    ASSERT_EQ(cred.exit_code, 0);
    std::istringstream in(cred.out);
    in >> ak_ >> sk_;
    ASSERT_EQ(ak_.size(), 20u);
    ASSERT_GE(sk_.size(), 32u);
    server_ = std::make_unique<ServerProcess>(db_, dir_.Join("server.log"));
    ASSERT_TRUE(server_->Start()) << server_->Log();
  }

  Output Admin(std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv = {ServerBinary(), "admin", "--db", db_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, input);
  }

  Response Call(const std::string& method, const std::string& target,
                const std::string& body, const std::string& token,
                std::vector<std::pair<std::string, std::string>> hdrs = {}) {
    Conn c(server_->port());
    EXPECT_TRUE(c.ok());
    if (!token.empty()) hdrs.push_back({"X-Auth-Token", token});
    return c.Send(method, target, body, hdrs);
  }

  std::string Token(const std::string& domain, const std::string& user) {
    std::string body =
        R"({"auth":{"identity":{"methods":["password"],"password":{"user":{"name":")" +
        user + R"(","password":"pw-)" + domain + "-" + user +
        R"(","domain":{"name":")" + domain +
        R"("}}}},"scope":{"domain":{"name":")" + domain + R"("}}}})";
    Response r = Call("POST", "/v3/auth/tokens", body, "");
    EXPECT_EQ(r.status, 201) << r.body;
    return r.headers["x-subject-token"];
  }

  // An AK/SK-signed request, as the official SDKs send it.
  Response Signed(const std::string& method, const std::string& path,
                  const std::string& query, const std::string& body) {
    std::string date =
        FormatSdkDate(std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
    std::vector<std::pair<std::string, std::string>> hdrs = {
        {"X-Sdk-Date", date}};
    SignableRequest s{method, path, query, {{"host", "127.0.0.1"}}, body};
    s.headers.push_back({"x-sdk-date", date});
    std::vector<std::string> signed_headers = {"host", "x-sdk-date"};
    if (!body.empty()) {
      s.headers.push_back({"content-type", "application/json"});
      signed_headers = {"content-type", "host", "x-sdk-date"};
    }
    std::string sig = SdkSignature(s, signed_headers, date, sk_);
    std::string list;
    for (const auto& h : signed_headers) list += (list.empty() ? "" : ";") + h;
    hdrs.push_back({"Authorization", "SDK-HMAC-SHA256 Access=" + ak_ +
                                         ", SignedHeaders=" + list +
                                         ", Signature=" + sig});
    return Call(method, query.empty() ? path : path + "?" + query, body, "",
                hdrs);
  }

  static std::string Upload(const std::string& run_id, int total) {
    return R"({"run_id":")" + run_id +
           R"(","check_result":"success","finished_time":1736854315000,)"
           R"("consistency_result":[{"dir_check":"/root/sync",)"
           R"("num_total_files":)" +
           std::to_string(total) +
           R"(,"num_different_files":0,"num_target_miss_files":0,)"
           R"("num_target_more_files":0}]})";
  }

  sms::testing::TempDir dir_;
  std::string db_;
  std::string ak_, sk_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ServerIntegrationTest, EndToEndOverHttp) {
  // The agent registers with its AK/SK signature.
  Response src = Signed("POST", "/v3/sources", "",
                        R"({"name":"web01","hostname":"web01","ip":"10.0.0.5",)"
                        R"("os_type":"LINUX","agent_version":"0.1.0"})");
  ASSERT_EQ(src.status, 200) << src.body;
  std::string source_id(src.Json().at("id").as_string());

  std::string op = Token("acme", "operator");
  Response task =
      Call("POST", "/v3/tasks",
           R"({"name":"migrate web01","type":"MIGRATE_FILE","os_type":"LINUX",)"
           R"("source_server":{"id":")" +
               source_id +
               R"("},"target_server":{"name":"web01-new","ip":"10.0.0.6",)"
               R"("verify_uri":"file:///mnt/target"}})",
           op);
  ASSERT_EQ(task.status, 200) << task.body;
  std::string task_id(task.Json().at("id").as_string());

  // The agent uploads a run, signed.
  std::string run_id = NewUuid();
  Response up = Signed("POST", "/v3/tasks/" + task_id + "/consistency-result",
                       "", Upload(run_id, 1));
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(up.body, R"("update consistency result succeeded")");
  // A signature over other bytes than those sent fails.
  Response tampered = Call(
      "GET", "/v3/tasks", "", "",
      {{"X-Sdk-Date", "20991115T033655Z"},
       {"Authorization", "SDK-HMAC-SHA256 Access=" + ak_ +
                             ", SignedHeaders=host;x-sdk-date, Signature=00"}});
  EXPECT_EQ(tampered.status, 403);
  EXPECT_THAT(tampered.body, HasSubstr("SMS.9003"));

  // A viewer reads it back in the exact shape of the original page.
  std::string viewer = Token("acme", "viewer");
  Response get =
      Call("GET", "/v3/tasks/" + task_id + "/consistency-result", "", viewer);
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(get.headers["content-type"], "application/json");
  json::value v = get.Json();
  json::object page = v.as_object();
  EXPECT_EQ(page.at("task_id").as_string(), task_id);
  json::object run = page.at("result_list").as_array().at(0).as_object();
  // The SMS fields exactly as in the page's example (plus extensions).
  json::value original = json::parse(
      R"({"finished_time":1736854315000,"check_result":"success",
          "consistency_result":[{"dir_check":"/root/sync","num_total_files":1,
          "num_different_files":0,"num_target_miss_files":0,
          "num_target_more_files":0}]})");
  for (const auto& [k, want] : original.as_object()) {
    if (k == "consistency_result") {
      for (const auto& [dk, dv] : want.as_array()[0].as_object())
        EXPECT_EQ(run.at("consistency_result").as_array()[0].at(dk), dv) << dk;
    } else {
      EXPECT_EQ(run.at(k), want) << k;
    }
  }

  // Tenant isolation: the other domain's admin gets exactly the answer for
  // a task that does not exist.
  std::string other = Token("other", "admin");
  Response foreign =
      Call("GET", "/v3/tasks/" + task_id + "/consistency-result", "", other);
  Response missing =
      Call("GET", "/v3/tasks/" + NewUuid() + "/consistency-result", "", other);
  EXPECT_EQ(foreign.status, 404);
  EXPECT_THAT(foreign.body, HasSubstr("SMS.2252"));
  EXPECT_EQ(foreign.body, missing.body);
  EXPECT_EQ(Call("GET", "/v3/tasks/" + task_id, "", other).status, 404);

  // Export as XLSX is a real zip; CSV carries the row.
  Response csv =
      Call("POST", "/v3/tasks/consistency-results/export",
           R"({"task_info":[{"task_id":")" + task_id + R"("}]})", viewer);
  ASSERT_EQ(csv.status, 200);
  EXPECT_THAT(csv.body, HasSubstr(run_id));

  // XLSX opened with a real reader (Python's zipfile + XML): the run is
  // there, and the formula-looking directory is a plain string.
  Response xlsx = Call(
      "POST", "/v3/tasks/consistency-results/export",
      R"({"task_info":[{"task_id":")" + task_id + R"("}]})", viewer,
      {{"Accept",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}});
  ASSERT_EQ(xlsx.status, 200);
  std::string path = dir_.Join("export.xlsx");
  std::ofstream(path, std::ios::binary) << xlsx.body;
  Output py = RunProgram(
      {"/usr/bin/env", "python3", "-c",
       "import sys, zipfile, re\n"
       "z = zipfile.ZipFile(sys.argv[1])\n"
       "names = z.namelist()\n"
       "shared = z.read('xl/sharedStrings.xml').decode() \\\n"
       "    if 'xl/sharedStrings.xml' in names else ''\n"
       "sheet = z.read('xl/worksheets/sheet1.xml').decode()\n"
       "print('formula' if '<f>' in sheet else 'noformula')\n"
       "# Strings are inline in the sheet (constant-memory writer) or\n"
       "# shared.\n"
       "print(' '.join(re.findall(r'<t[^>]*>([^<]*)</t>', shared + sheet)))\n",
       path},
      "");
  ASSERT_EQ(py.exit_code, 0) << py.out;
  EXPECT_THAT(py.out, HasSubstr("noformula"));
  EXPECT_THAT(py.out, HasSubstr(run_id));
  EXPECT_THAT(py.out, HasSubstr("num_target_more_files"));
  EXPECT_THAT(py.out, HasSubstr("/root/sync"));

  // Metrics and the log.
  Response metrics = Call("GET", "/metrics", "", "");
  EXPECT_THAT(metrics.body, HasSubstr("sms_runs_committed_total 1"));
  std::string log = server_->Log();
  EXPECT_THAT(
      log, HasSubstr("\"route\":\"/v3/tasks/{task_id}/consistency-result\""));
  EXPECT_EQ(log.find(sk_), std::string::npos);
  EXPECT_EQ(log.find(viewer), std::string::npos);
}

TEST_F(ServerIntegrationTest, KeepAliveServesManyRequestsOnOneConnection) {
  std::string viewer = Token("acme", "viewer");
  Conn c(server_->port());
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 20; ++i) {
    Response r = c.Send("GET", "/v3/tasks", "", {{"X-Auth-Token", viewer}});
    ASSERT_EQ(r.status, 200) << i;
  }
}

TEST_F(ServerIntegrationTest, TransportLimits) {
  std::string viewer = Token("acme", "viewer");
  Response big_header = Call("GET", "/v3/tasks", "", viewer,
                             {{"X-Pad", std::string(40000, 'a')}});
  EXPECT_EQ(big_header.status, 431);
  Response long_url =
      Call("GET", "/v3/tasks?x=" + std::string(9000, 'a'), "", viewer);
  EXPECT_EQ(long_url.status, 414);
  Response big_body =
      Call("POST", "/v3/tasks", std::string(2 << 20, ' '), viewer);
  EXPECT_EQ(big_body.status, 413);
  EXPECT_THAT(big_body.body, HasSubstr("SMS.1006"));
}

TEST_F(ServerIntegrationTest, AcknowledgedWritesSurviveKill9) {
  Response src =
      Signed("POST", "/v3/sources", "", R"({"name":"db01","os_type":"LINUX"})");
  ASSERT_EQ(src.status, 200) << src.body;
  std::string source_id(src.Json().at("id").as_string());
  std::string op = Token("acme", "operator");
  Response task =
      Call("POST", "/v3/tasks",
           R"({"name":"t","os_type":"LINUX","source_server":{"id":")" +
               source_id + R"("},"target_server":{"name":"n"}})",
           op);
  ASSERT_EQ(task.status, 200) << task.body;
  std::string task_id(task.Json().at("id").as_string());
  const int kRuns = 25;
  for (int i = 0; i < kRuns; ++i) {
    Response up = Signed("POST", "/v3/tasks/" + task_id + "/consistency-result",
                         "", Upload(NewUuid(), i));
    ASSERT_EQ(up.status, 200) << up.body;
  }
  // kill -9 right after the last acknowledgement: no clean shutdown.
  EXPECT_EQ(server_->Kill(SIGKILL), -SIGKILL);
  ASSERT_TRUE(server_->Start()) << server_->Log();
  std::string viewer = Token("acme", "viewer");
  Response get =
      Call("GET", "/v3/tasks/" + task_id + "/consistency-result", "", viewer);
  ASSERT_EQ(get.status, 200);
  json::value got = get.Json();
  const auto& list = got.at("result_list").as_array();
  ASSERT_EQ(list.size(), static_cast<size_t>(kRuns));
  EXPECT_EQ(
      list[0].at("consistency_result").as_array()[0].at("num_total_files"),
      kRuns - 1);
  // Tokens are in the database too: the operator's survives the restart.
  EXPECT_EQ(Call("GET", "/v3/tasks/" + task_id, "", op).status, 200);
}

// Issue 13.4: a webhook receiver on loopback sees every event, signed, by
// its idempotency id, across a server kill -9 in the middle of a delivery
// and a spell of 500 answers.
class HookReceiver {
 public:
  HookReceiver() : acceptor_(io_) {
    namespace asio = boost::asio;
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~HookReceiver() {
    stop_ = true;
    release_ = true;
    boost::beast::error_code ec;
    boost::asio::ip::tcp::socket poke(io_);
    poke.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/hook";
  }
  std::map<std::string, int> ids() {
    std::lock_guard lock(mu_);
    return ids_;
  }
  std::atomic<int> requests{0};
  std::atomic<int> bad_signatures{0};
  std::atomic<bool> holding{false};  // the third request is being held
  std::atomic<bool> release_{false};

 private:
  void Serve() {
    namespace http = boost::beast::http;
    while (!stop_) {
      boost::asio::ip::tcp::socket s(io_);
      boost::beast::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stop_) continue;
      boost::beast::flat_buffer buf;
      http::request<http::string_body> req;
      http::read(s, buf, req, ec);
      if (ec) continue;
      const int n = requests++;
      const int64_t now_s =
          std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
      if (!webhook::Verify("whsec-integration-secret",
                           std::string(req["X-Sms-Signature"]), req.body(),
                           now_s))
        bad_signatures++;
      const std::string id(req["Idempotency-Key"]);
      int status = n < 2 ? 500 : 200;
      if (n == 2) {  // hold it while the test kills the server
        holding = true;
        while (!release_)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (status == 200) {
        std::lock_guard lock(mu_);
        ids_[id]++;
      }
      http::response<http::string_body> res{static_cast<http::status>(status),
                                            11};
      res.body() = "ok";
      res.prepare_payload();
      http::write(s, res, ec);
    }
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<std::string, int> ids_;
  std::thread thread_;
};

TEST_F(ServerIntegrationTest, WebhookEventsSurviveKill9MidDeliveryAnd500s) {
  // Restart with the test-only fast retries (delays / 1000, lease 3 s).
  EXPECT_EQ(server_->Kill(SIGKILL), -SIGKILL);
  setenv("SMS_TEST_WEBHOOK_FAST", "1", 1);
  ASSERT_TRUE(server_->Start()) << server_->Log();
  HookReceiver rx;
  std::string admin = Token("acme", "admin");
  Response hook = Call("POST", "/v3/webhooks",
                       R"({"url":")" + rx.url() +
                           R"(","events":["run.finished","run.inconsistent"],)"
                           R"("secret":"whsec-integration-secret"})",
                       admin);
  ASSERT_EQ(hook.status, 201) << hook.body;
  std::string hook_id(hook.Json().at("id").as_string());
  EXPECT_EQ(Call("POST", "/v3/webhooks",
                 R"({"url":"ftp://x/","events":["run.finished"]})", admin)
                .status,
            400);
  EXPECT_EQ(Call("GET", "/v3/webhooks", "", Token("acme", "viewer")).status,
            403);
  Response src =
      Signed("POST", "/v3/sources", "", R"({"name":"db01","os_type":"LINUX"})");
  ASSERT_EQ(src.status, 200) << src.body;
  std::string source_id(src.Json().at("id").as_string());
  Response task =
      Call("POST", "/v3/tasks",
           R"({"name":"t","os_type":"LINUX","source_server":{"id":")" +
               source_id + R"("},"target_server":{"name":"n"}})",
           Token("acme", "operator"));
  ASSERT_EQ(task.status, 200) << task.body;
  std::string task_id(task.Json().at("id").as_string());
  std::set<std::string> want;
  for (int i = 0; i < 3; ++i) {
    const std::string run = NewUuid();
    std::string body = Upload(run, 10);
    if (i == 1) {  // one inconsistent run
      body = R"({"run_id":")" + run +
             R"(","check_result":"success","finished_time":1736854315000,)"
             R"("consistency_result":[{"dir_check":"/root/sync",)"
             R"("num_total_files":10,"num_different_files":2,)"
             R"("num_target_miss_files":0,"num_target_more_files":0}]})";
      want.insert(run + "/run.inconsistent");
    }
    want.insert(run + "/run.finished");
    Response up = Signed("POST", "/v3/tasks/" + task_id + "/consistency-result",
                         "", body);
    ASSERT_EQ(up.status, 200) << up.body;
  }
  // Two 500s, then the third request is held: kill -9 the server mid-way.
  for (int i = 0; i < 300 && !rx.holding; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(rx.holding) << server_->Log();
  EXPECT_EQ(server_->Kill(SIGKILL), -SIGKILL);
  rx.release_ = true;
  ASSERT_TRUE(server_->Start()) << server_->Log();
  unsetenv("SMS_TEST_WEBHOOK_FAST");  // read at start; the next tests' servers
                                      // run as usual
  for (int i = 0; i < 400 && rx.ids().size() < want.size(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::set<std::string> got;
  for (const auto& [id, n] : rx.ids()) got.insert(id);
  EXPECT_EQ(got, want);  // every event, none invented
  EXPECT_EQ(rx.bad_signatures, 0);
  // The log: 2 failures + 4 deliveries (the last is recorded just after
  // the receiver answered it).
  int64_t attempts = 0;
  for (int i = 0; i < 100 && attempts < 6; ++i) {
    Response log =
        Call("GET", "/v3/webhooks/" + hook_id + "/deliveries", "", admin);
    ASSERT_EQ(log.status, 200) << log.body;
    attempts = log.Json().at("count").as_int64();
    if (attempts < 6)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(attempts, 6);
}

TEST_F(ServerIntegrationTest, SigtermStopsGracefully) {
  EXPECT_EQ(Call("GET", "/healthz", "", "").status, 200);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server_->Kill(SIGTERM), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_THAT(server_->Log(), HasSubstr("\"msg\":\"stopped\""));
}

TEST_F(ServerIntegrationTest, SigtermLetsAnInFlightRequestFinish) {
  std::string admin = Token("acme", "admin");
  Conn c(server_->port());
  ASSERT_TRUE(c.ok());
  const std::string body = R"({"name":"late","os_type":"LINUX"})";
  // Headers and half of the body, then SIGTERM, then the rest.
  ASSERT_TRUE(
      c.Raw("POST /v3/sources HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nX-Auth-Token: " +
            admin + "\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n\r\n" + body.substr(0, 10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server_->Signal(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(c.Raw(body.substr(10)));
  Response r = c.ReadResponse();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"id\""));
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_EQ(server_->Kill(0), 0);  // already exiting: just wait for it
  // New connections are refused once it stopped; the write is durable.
  ASSERT_TRUE(server_->Start());
  std::string viewer = Token("acme", "viewer");
  EXPECT_THAT(Call("GET", "/v3/sources?name=late", "", viewer).body,
              HasSubstr("\"count\":1"));
}

TEST_F(ServerIntegrationTest, ConfigFileRejectsUnknownKeys) {
  std::string cfg = dir_.Join("bad.json");
  std::ofstream(cfg) << R"({"listen":"127.0.0.1:0","colour":"blue"})";
  Output o = RunProgram({ServerBinary(), "serve", "--config", cfg}, "");
  EXPECT_EQ(o.exit_code, 2);
}

TEST_F(ServerIntegrationTest, ServesTlsWhenGivenACertificate) {
  std::string key = dir_.Join("key.pem"), cert = dir_.Join("cert.pem");
  Output gen = RunProgram(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
       "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"},
      "");
  if (gen.exit_code != 0) GTEST_SKIP() << "openssl CLI not available";
  server_->Kill(SIGTERM);
  pid_t pid = fork();
  std::string log = dir_.Join("tls.log");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    execl(ServerBinary().c_str(), "sms-server", "serve", "--listen",
          "127.0.0.1:0", "--db", db_.c_str(), "--tls-cert", cert.c_str(),
          "--tls-key", key.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Stopped on every way out of the test, a failed ASSERT too.
  struct Reap {
    pid_t pid;
    ~Reap() {
      if (pid <= 0) return;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } reap{pid};
  int port = 0;
  for (int i = 0; i < 100 && port == 0; ++i) {
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      size_t at = line.find("\"address\":\"127.0.0.1:");
      if (at != std::string::npos) port = std::atoi(line.c_str() + at + 21);
    }
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(port, 0);
  Output curl =
      RunProgram({"/usr/bin/curl", "-s", "--cacert", cert,
                  "https://127.0.0.1:" + std::to_string(port) + "/healthz"},
                 "");
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  reap.pid = -1;
  if (curl.exit_code == 127) GTEST_SKIP() << "curl not available";
  EXPECT_EQ(curl.out, R"({"status":"ok"})");
  // Plain HTTP on the TLS port gets no answer.
  Conn plain(port);
  if (plain.ok()) {
    Response r = plain.Send("GET", "/healthz", "", {});
    EXPECT_NE(r.status, 200);
  }
}

// The server keeps hot reads in memory, so a second server on the same
// SQLite database (which would not see the first's writes) is refused;
// `admin` commands still run beside the server (AdminRevokesCredentials).
TEST_F(ServerIntegrationTest, ASecondServerOnTheSameSqliteDatabaseIsRefused) {
  Output second =
      RunProgram({"/bin/sh", "-c",
                  "exec timeout 20 '" + ServerBinary() +
                      "' serve --listen 127.0.0.1:0 --db '" + db_ + "' 2>&1"},
                 "");
  EXPECT_NE(second.exit_code, 0);
  EXPECT_NE(second.exit_code, 124) << "the second server kept running";
  EXPECT_THAT(second.out, HasSubstr("is served by another sms-server (pid"));
  EXPECT_THAT(second.out, HasSubstr("use PostgreSQL"));
  // The first one still answers.
  EXPECT_EQ(Call("GET", "/readyz", "", "").status, 200);
}

// The SK that admin printed is nowhere in the database's files: it is
// sealed under var/sms.db.secret, which admin made at first use (0600) and
// the server reads (every Signed() call here verifies with it).
TEST_F(ServerIntegrationTest, SecretKeysAreSealedUnderTheKeyFileBesideTheDb) {
  const std::string key_file = dir_.Join("var/sms.db.secret");
  struct stat st {};
  ASSERT_EQ(stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(Signed("GET", "/v3/sources", "limit=5", "").status, 403);  // role
  EXPECT_THAT(Signed("GET", "/v3/sources", "limit=5", "").body,
              HasSubstr("SMS.9004"));  // the key verified
  std::stringstream bytes;             // the database and its WAL
  for (const char* f : {"var/sms.db", "var/sms.db-wal"}) {
    std::ifstream in(dir_.Join(f), std::ios::binary);
    bytes << in.rdbuf();
  }
  EXPECT_NE(bytes.str().find(ak_), std::string::npos);  // the right files
  EXPECT_EQ(bytes.str().find(sk_), std::string::npos);
}

TEST_F(ServerIntegrationTest, AdminRevokesCredentials) {
  Response ok = Signed("GET", "/v3/sources", "limit=5", "");
  EXPECT_EQ(ok.status, 403);  // agents may not list sources...
  EXPECT_THAT(ok.body, HasSubstr("SMS.9004"));  // ...but the key is valid
  ASSERT_EQ(Admin({"revoke-credential", ak_}).exit_code, 0);
  Response revoked = Signed("GET", "/v3/sources", "limit=5", "");
  EXPECT_THAT(revoked.body, HasSubstr("SMS.9003"));
  EXPECT_NE(Admin({"revoke-credential", ak_}).exit_code, 0);
  EXPECT_NE(Admin({"create-domain", "acme"}).exit_code, 0);  // duplicate
}

}  // namespace
}  // namespace sms::server
