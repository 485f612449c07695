// sms-fleet: plays a fleet of agents against sms-server replicas, to measure
// what "past one machine" costs (issue 14.1).
//
// Each simulated agent keeps one keep-alive connection to one server (agents
// are spread over the --server URLs in turn) and behaves as `sms-agent run`
// does on the wire: it registers its source (POST /v3/sources), polls
// GET /v3/sources/{id}/command every --interval seconds with +-20 % jitter,
// and when told CONSISTENCY_CHECK uploads a run of --dirs directories with
// --files file details (POST .../details, POST .../consistency-result) and
// its command result. Every request is signed with AK/SK exactly as
// sms-agent signs it (SDK-HMAC-SHA256 over content-type, host, x-request-id
// and x-sdk-date; the fleet shares one agent credential and registers one
// source per agent). A controller, signed with an operator credential,
// creates a task per source, then triggers checks on random tasks at
// --trigger-rate per second.
//
// Counted: every triggered run id must reach exactly one agent once and be
// uploaded; polls/s held, latency percentiles per request kind, statuses.
// Loopback only: a server address outside 127.0.0.0/8 and ::1 is refused.
// Bounded: the run stops after --duration + --drain seconds whatever happens.
//
// Single-threaded (one io_context): the load generator takes little of the
// cores the servers and the database share with it.
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/crypto.h"
#include "auth/sdk_signer.h"

namespace sms::fleet {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<std::string> servers;  // "http://127.0.0.1:8080"
  int agents = 100;
  double interval_s = 5;
  double duration_s = 60;
  double drain_s = -1;  // default: 2 intervals + 10 s
  double ramp_s = -1;   // registration spread; default: one interval
  double trigger_rate = 5;
  int dirs = 30;
  int files = 100;
  int setup_concurrency = 32;
  std::string agent_ak, agent_sk, op_ak, op_sk;
  std::string prefix = "fleet";
  // Processes whose CPU is reported over the run window (servers, database).
  std::vector<std::pair<std::string, std::vector<int>>> watch;
};

// CPU seconds (user + system) of a process so far, from /proc (0 when gone).
double ProcessCpuSeconds(int pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return 0;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = 0;
  // Fields after the command (which may hold spaces) start past its ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return 0;
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(p + 2,
                  "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                  &utime, &stime) != 2)
    return 0;
  return static_cast<double>(utime + stime) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The ids of the processes whose parent is `pid` (PostgreSQL's backends).
std::vector<int> ChildrenOf(int pid) {
  std::vector<int> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    int child = std::atoi(e->d_name);
    if (child <= 0) continue;
    std::string path = "/proc/" + std::to_string(child) + "/stat";
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) continue;
    char buf[512];
    size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
    buf[n] = 0;
    const char* p = std::strrchr(buf, ')');
    int ppid = 0;
    if (p != nullptr && std::sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == pid)
      out.push_back(child);
  }
  closedir(d);
  return out;
}

double OwnCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

std::string LoadAverage() {
  FILE* f = std::fopen("/proc/loadavg", "r");
  if (f == nullptr) return "";
  char buf[64] = {0};
  if (std::fgets(buf, sizeof(buf), f) == nullptr) buf[0] = 0;
  std::fclose(f);
  std::string s(buf);
  // "1.23 0.98 0.50 2/345 6789": the three averages
  size_t cut = 0;
  for (int spaces = 0; cut < s.size() && spaces < 3; ++cut)
    if (s[cut] == ' ') ++spaces;
  return s.substr(0, cut ? cut - 1 : 0);
}

struct Endpoint {
  std::string host;  // "127.0.0.1"
  std::string port;  // "8080"
  std::string host_header;
};

// Latencies in microseconds, by request kind.
struct Samples {
  std::map<std::string, std::vector<double>> by_kind;
  std::map<int, int64_t> statuses;
  int64_t transport_errors = 0;
  void Add(const std::string& kind, double us, int status) {
    by_kind[kind].push_back(us);
    ++statuses[status];
  }
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" ||
         host.rfind("127.", 0) == 0;
}

// One HTTP/1.1 keep-alive connection, reconnected on error.
class Connection {
 public:
  Connection(asio::io_context& io, Endpoint ep)
      : stream_(io), ep_(std::move(ep)) {}

  // Sends a request signed with (ak, sk); returns the status (0 on a
  // transport error) and fills `body`.
  awaitable<int> Call(const std::string& method, const std::string& target,
                      const std::string& body, const std::string& ak,
                      const std::string& sk, std::string* reply) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        if (!open_) {
          asio::ip::tcp::resolver resolver(stream_.get_executor());
          auto results = co_await resolver.async_resolve(ep_.host, ep_.port,
                                                         use_awaitable);
          stream_.expires_after(std::chrono::seconds(30));
          co_await stream_.async_connect(results, use_awaitable);
          open_ = true;
        }
        http::request<http::string_body> req{method == "GET" ? http::verb::get
                                             : method == "POST"
                                                 ? http::verb::post
                                                 : http::verb::delete_,
                                             target, 11};
        const std::string date = auth::FormatSdkDate(
            std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count());
        const std::string request_id = auth::NewUuid();
        auth::SignableRequest s;
        s.method = method;
        size_t q = target.find('?');
        s.path = target.substr(0, q);
        s.query = q == std::string::npos ? "" : target.substr(q + 1);
        s.headers = {{"content-type", "application/json"},
                     {"host", ep_.host_header},
                     {"x-request-id", request_id},
                     {"x-sdk-date", date}};
        s.body = body;
        const std::vector<std::string> signed_headers = {
            "content-type", "host", "x-request-id", "x-sdk-date"};
        req.set(http::field::host, ep_.host_header);
        req.set(http::field::content_type, "application/json");
        req.set("X-Request-Id", request_id);
        req.set("X-Sdk-Date", date);
        req.set(http::field::authorization,
                "SDK-HMAC-SHA256 Access=" + ak +
                    ", SignedHeaders=content-type;host;x-request-id;"
                    "x-sdk-date, Signature=" +
                    auth::SdkSignature(s, signed_headers, date, sk));
        req.body() = body;
        req.prepare_payload();
        stream_.expires_after(std::chrono::seconds(30));
        co_await http::async_write(stream_, req, use_awaitable);
        http::response<http::string_body> res;
        co_await http::async_read(stream_, buffer_, res, use_awaitable);
        if (!res.keep_alive()) Close();
        *reply = std::move(res.body());
        co_return static_cast<int>(res.result_int());
      } catch (const std::exception&) {
        Close();
      }
    }
    co_return 0;
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    stream_.close();
    buffer_.clear();
    open_ = false;
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  Endpoint ep_;
  bool open_ = false;
};

class Fleet {
 public:
  Fleet(asio::io_context& io, Options o, std::vector<Endpoint> eps)
      : io_(io), o_(std::move(o)), eps_(std::move(eps)), rng_(12345) {}

  int Run() {
    asio::co_spawn(io_, Main(), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    io_.run();
    return Report();
  }

 private:
  struct Agent {
    int index = 0;
    std::string source_id;
    std::string task_id;
    std::unique_ptr<Connection> conn;
  };

  static double Seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  }

  awaitable<void> Sleep(double seconds) {
    asio::steady_timer t(io_);
    t.expires_after(std::chrono::microseconds(
        static_cast<int64_t>(std::max(0.0, seconds) * 1e6)));
    co_await t.async_wait(use_awaitable);
  }

  // A timed call; `kind` names its latency series.
  awaitable<int> Timed(Connection& c, const std::string& kind,
                       const std::string& method, const std::string& target,
                       const std::string& body, bool as_operator,
                       std::string* reply) {
    auto t0 = Clock::now();
    int status = co_await c.Call(method, target, body,
                                 as_operator ? o_.op_ak : o_.agent_ak,
                                 as_operator ? o_.op_sk : o_.agent_sk, reply);
    double us =
        std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    if (status == 0) {
      ++samples_.transport_errors;
    } else {
      samples_.Add(kind, us, status);
      if (status >= 400 && errors_shown_ < 5) {
        ++errors_shown_;
        std::fprintf(stderr, "sms-fleet: %s %s -> %d %s\n", method.c_str(),
                     target.c_str(), status, reply->substr(0, 200).c_str());
      }
    }
    co_return status;
  }

  static std::string Field(const std::string& body, const char* key) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return "";
    const json::value* f = v.as_object().if_contains(key);
    if (f == nullptr || !f->is_string()) return "";
    return std::string(f->as_string());
  }

  // Registers agent i's source and creates its task (setup phase).
  awaitable<void> SetUp(int first, int step) {
    Connection c(io_, eps_[first % eps_.size()]);
    std::string reply;
    for (int i = first; i < o_.agents; i += step) {
      Agent& a = agents_[i];
      std::string name = o_.prefix + "-" + std::to_string(i);
      int st =
          co_await Timed(c, "setup", "POST", "/v3/sources",
                         R"({"name":")" + name + R"(","hostname":")" + name +
                             R"(","ip":"127.0.0.1","os_type":"LINUX",)"
                             R"("os_version":"fleet","agent_version":"0.1.0"})",
                         false, &reply);
      a.source_id = st == 200 ? Field(reply, "id") : "";
      if (a.source_id.empty()) continue;
      st = co_await Timed(
          c, "setup", "POST", "/v3/tasks",
          R"({"name":")" + name +
              R"(","type":"MIGRATE_FILE","os_type":"LINUX",)"
              R"("source_server":{"id":")" +
              a.source_id +
              R"("},"target_server":{"name":"t","verify_uri":"file:///mnt/t"}})",
          true, &reply);
      a.task_id = st == 200 ? Field(reply, "id") : "";
      if (a.task_id.empty()) continue;
      co_await Timed(c, "setup", "POST",
                     "/v3/tasks/" + a.task_id + "/configuration-setting",
                     R"({"configurations":[{"config_key":"CONSISTENCY_DIR",)"
                     R"("config_value":"/data"}]})",
                     true, &reply);
      ++ready_;
    }
  }

  std::string RunBody(const std::string& run_id) {
    std::string dirs;
    for (int d = 0; d < o_.dirs; ++d) {
      char buf[256];
      std::snprintf(buf, sizeof(buf),
                    R"(%s{"dir_check":"/data/d%02d","num_total_files":%d,)"
                    R"("num_different_files":%d,"num_target_miss_files":0,)"
                    R"("num_target_more_files":0})",
                    d ? "," : "", d, 1000 + d, d == 0 ? o_.files : 0);
      dirs += buf;
    }
    return R"({"run_id":")" + run_id +
           R"(","check_result":"success","mode":"hash",)"
           R"("hash_algorithm":"xxh128","consistency_result":[)" +
           dirs + "]}";
  }

  std::string DetailsBody(const std::string& run_id) {
    std::string files;
    for (int f = 0; f < o_.files; ++f) {
      char buf[320];
      std::snprintf(buf, sizeof(buf),
                    R"(%s{"dir_check":"/data/d00","path":"f%06d.bin",)"
                    R"("status":"different","reason":"content",)"
                    R"("source":{"type":"file","size":%d},)"
                    R"("target":{"type":"file","size":%d}})",
                    f ? "," : "", f, 4096 + f, 4096 + f);
      files += buf;
    }
    return R"({"run_id":")" + run_id + R"(","seq":0,"files":[)" + files + "]}";
  }

  // One agent: polls until the run ends, uploads what it is told to check.
  awaitable<void> AgentLoop(Agent& a) {
    std::uniform_real_distribution<double> first(0, o_.interval_s);
    co_await Sleep(first(rng_));
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    std::string reply;
    const std::string poll = "/v3/sources/" + a.source_id + "/command";
    while (Clock::now() < stop_at_) {
      int st = co_await Timed(*a.conn, "poll", "GET", poll, "", false, &reply);
      if (st == 200) {
        ++polls_ok_;
        if (Field(reply, "command_name") == "CONSISTENCY_CHECK") {
          boost::system::error_code ec;
          json::value v = json::parse(reply, ec);
          std::string run_id, task_id;
          if (!ec) {
            const json::value* p = v.as_object().if_contains("command_param");
            if (p && p->is_object()) {
              if (auto* r = p->as_object().if_contains("run_id"))
                run_id = r->is_string() ? std::string(r->as_string()) : "";
              if (auto* t = p->as_object().if_contains("task_id"))
                task_id = t->is_string() ? std::string(t->as_string()) : "";
            }
          }
          ++delivered_[run_id];
          co_await Upload(a, task_id, run_id);
        }
      }
      co_await Sleep(o_.interval_s * jitter(rng_));
    }
  }

  awaitable<void> Upload(Agent& a, const std::string& task_id,
                         const std::string& run_id) {
    std::string reply;
    const std::string base = "/v3/tasks/" + task_id + "/consistency-result";
    auto t0 = Clock::now();
    int st = 200;
    if (o_.files > 0)
      st = co_await Timed(*a.conn, "upload_details", "POST", base + "/details",
                          DetailsBody(run_id), false, &reply);
    if (st == 200)
      st = co_await Timed(*a.conn, "upload_run", "POST", base, RunBody(run_id),
                          false, &reply);
    if (st == 200) {
      st = co_await Timed(
          *a.conn, "command_result", "POST",
          "/v3/sources/" + a.source_id + "/command_result",
          R"({"command_name":"CONSISTENCY_CHECK","result":"success",)"
          R"("result_detail":{"task_id":")" +
              task_id + R"(","run_id":")" + run_id + R"("}})",
          false, &reply);
      samples_.by_kind["upload_total"].push_back(
          std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      ++uploaded_[run_id];
    }
  }

  awaitable<void> Controller() {
    Connection c(io_, eps_[0]);
    std::string reply;
    std::uniform_int_distribution<int> pick(0, o_.agents - 1);
    const double gap = o_.trigger_rate > 0 ? 1.0 / o_.trigger_rate : 1e9;
    auto next = Clock::now();
    while (Clock::now() < trigger_until_ && o_.trigger_rate > 0) {
      const Agent& a = agents_[pick(rng_)];
      if (!a.task_id.empty()) {
        int st = co_await Timed(
            c, "trigger", "POST", "/v3/tasks/" + a.task_id + "/action",
            R"({"operation":"consistency_check"})", true, &reply);
        if (st == 200) {
          std::string run_id = Field(reply, "run_id");
          if (!run_id.empty()) triggered_.push_back(run_id);
        } else if (st == 400) {
          ++busy_;  // a check of that task is still queued or running
        }
      }
      next += std::chrono::microseconds(static_cast<int64_t>(gap * 1e6));
      // Never past the end of the window (--trigger-rate 0: one trigger).
      co_await Sleep(Seconds(Clock::now(), std::min(next, trigger_until_)));
    }
  }

  awaitable<void> Main() {
    agents_.resize(o_.agents);
    for (int i = 0; i < o_.agents; ++i) agents_[i].index = i;
    // Setup: sources and tasks, a bounded number of requests in flight.
    auto t0 = Clock::now();
    {
      using namespace asio::experimental::awaitable_operators;
      const int workers = std::min(o_.setup_concurrency, o_.agents);
      auto done = std::make_shared<int>(0);
      asio::steady_timer all(io_, Clock::time_point::max());
      for (int w = 0; w < workers; ++w) {
        asio::co_spawn(io_, SetUp(w, workers), [&, done](std::exception_ptr) {
          if (++*done == workers) all.cancel();
        });
      }
      boost::system::error_code ec;
      co_await all.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    setup_s_ = Seconds(t0, Clock::now());
    std::fprintf(stderr, "sms-fleet: %d of %d agents set up in %.1f s\n",
                 ready_, o_.agents, setup_s_);
    samples_.by_kind.erase("setup");
    // Run: every agent on its own connection, spread over the servers.
    const double drain = o_.drain_s >= 0 ? o_.drain_s : 2 * o_.interval_s + 10;
    run_start_ = Clock::now();
    SampleCpu(&cpu_start_);
    load_start_ = LoadAverage();
    trigger_until_ =
        run_start_ +
        std::chrono::microseconds(static_cast<int64_t>(o_.duration_s * 1e6));
    stop_at_ = trigger_until_ +
               std::chrono::microseconds(static_cast<int64_t>(drain * 1e6));
    for (Agent& a : agents_) {
      if (a.task_id.empty()) continue;
      a.conn = std::make_unique<Connection>(io_, eps_[a.index % eps_.size()]);
      asio::co_spawn(io_, AgentLoop(a), asio::detached);
    }
    asio::co_spawn(io_, Controller(), asio::detached);
    co_await Sleep(o_.duration_s);
    polls_in_window_ = polls_ok_;
    run_end_ = Clock::now();
    SampleCpu(&cpu_end_);
    load_end_ = LoadAverage();
  }

  // CPU seconds of this process, then of each watched group, now.
  void SampleCpu(std::vector<double>* out) {
    out->clear();
    out->push_back(OwnCpuSeconds());
    for (const auto& [name, pids] : o_.watch) {
      double total = 0;
      for (int pid : pids) {
        // -PID: that process and its children (a postmaster's backends;
        // a backend that ended inside the window is not counted)
        if (pid < 0)
          for (int child : ChildrenOf(-pid)) total += ProcessCpuSeconds(child);
        total += ProcessCpuSeconds(pid < 0 ? -pid : pid);
      }
      out->push_back(total);
    }
  }

  int Report() {
    int64_t lost = 0, doubled = 0, not_uploaded = 0;
    for (const std::string& run : triggered_) {
      auto it = delivered_.find(run);
      if (it == delivered_.end()) {
        ++lost;
      } else if (it->second > 1) {
        ++doubled;
      }
      if (uploaded_.find(run) == uploaded_.end()) ++not_uploaded;
    }
    int64_t unknown = 0;  // delivered but never triggered by us
    for (const auto& [run, n] : delivered_) {
      if (std::find(triggered_.begin(), triggered_.end(), run) ==
          triggered_.end())
        ++unknown;
    }
    const double window = Seconds(run_start_, run_end_);
    json::object out;
    out["agents"] = o_.agents;
    out["agents_ready"] = ready_;
    out["servers"] = static_cast<int64_t>(eps_.size());
    out["interval_s"] = o_.interval_s;
    out["duration_s"] = window;
    out["setup_s"] = setup_s_;
    out["polls_per_s"] = window > 0 ? polls_in_window_ / window : 0;
    out["polls_expected_per_s"] = ready_ / o_.interval_s;
    out["triggered"] = static_cast<int64_t>(triggered_.size());
    out["busy_refused"] = busy_;
    out["delivered_once"] =
        static_cast<int64_t>(triggered_.size()) - lost - doubled;
    out["lost"] = lost;
    out["doubled"] = doubled;
    out["not_uploaded"] = not_uploaded;
    out["delivered_unknown"] = unknown;
    out["transport_errors"] = samples_.transport_errors;
    json::object statuses;
    for (const auto& [st, n] : samples_.statuses)
      statuses[std::to_string(st)] = n;
    out["statuses"] = statuses;
    json::object lat;
    for (const auto& [kind, v] : samples_.by_kind) {
      lat[kind] = json::object{{"n", static_cast<int64_t>(v.size())},
                               {"p50_ms", Percentile(v, 50) / 1000},
                               {"p99_ms", Percentile(v, 99) / 1000},
                               {"max_ms", Percentile(v, 100) / 1000}};
    }
    out["latency"] = lat;
    // CPU over the run window (polls and uploads, without the set-up), in
    // % of one core; the load average when the window began and ended.
    json::object cpu;
    if (window > 0 && cpu_end_.size() == cpu_start_.size() &&
        !cpu_start_.empty()) {
      cpu["sms-fleet"] = (cpu_end_[0] - cpu_start_[0]) / window * 100;
      for (size_t i = 0; i < o_.watch.size(); ++i)
        cpu[o_.watch[i].first] =
            (cpu_end_[i + 1] - cpu_start_[i + 1]) / window * 100;
    }
    out["cpu_pct"] = cpu;
    out["loadavg_start"] = load_start_;
    out["loadavg_end"] = load_end_;
    std::printf("%s\n", json::serialize(out).c_str());
    const bool exact =
        lost == 0 && doubled == 0 && not_uploaded == 0 && ready_ == o_.agents;
    return exact ? 0 : 1;
  }

  asio::io_context& io_;
  const Options o_;
  const std::vector<Endpoint> eps_;
  std::mt19937_64 rng_;
  std::vector<Agent> agents_;
  Samples samples_;
  int errors_shown_ = 0;
  int ready_ = 0;
  int64_t polls_ok_ = 0, polls_in_window_ = 0, busy_ = 0;
  double setup_s_ = 0;
  Clock::time_point run_start_, run_end_, trigger_until_, stop_at_;
  std::vector<double> cpu_start_, cpu_end_;
  std::string load_start_, load_end_;
  std::vector<std::string> triggered_;
  std::unordered_map<std::string, int> delivered_, uploaded_;
};

int Usage(const char* why) {
  std::fprintf(stderr,
               "sms-fleet: %s\n"
               "usage: sms-fleet --server http://127.0.0.1:PORT [--server ...]"
               " [--agents N] [--interval S] [--duration S] [--drain S]"
               " [--trigger-rate R] [--dirs N] [--files N] [--prefix NAME]"
               " [--watch NAME=PID[,PID...]]\n"
               "credentials from the environment: SMS_FLEET_AGENT_AK/SK"
               " (an agent user's), SMS_FLEET_OP_AK/SK (an operator's)\n",
               why);
  return 2;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      return i + 1 < argc ? argv[++i] : nullptr;
    };
    const char* v = next();
    if (v == nullptr) return Usage(("missing value for " + a).c_str());
    if (a == "--server")
      o.servers.push_back(v);
    else if (a == "--agents")
      o.agents = std::atoi(v);
    else if (a == "--interval")
      o.interval_s = std::atof(v);
    else if (a == "--duration")
      o.duration_s = std::atof(v);
    else if (a == "--drain")
      o.drain_s = std::atof(v);
    else if (a == "--trigger-rate")
      o.trigger_rate = std::atof(v);
    else if (a == "--dirs")
      o.dirs = std::atoi(v);
    else if (a == "--files")
      o.files = std::atoi(v);
    else if (a == "--prefix")
      o.prefix = v;
    else if (a == "--watch") {
      // NAME=PID[,PID...]: report that group's CPU over the run window;
      // -PID counts the process and its children
      std::string w = v;
      size_t eq = w.find('=');
      if (eq == std::string::npos || eq == 0)
        return Usage(("--watch must be NAME=PID[,PID...]: " + w).c_str());
      std::vector<int> pids;
      for (size_t at = eq + 1; at < w.size();) {
        size_t comma = w.find(',', at);
        if (comma == std::string::npos) comma = w.size();
        int pid = std::atoi(w.substr(at, comma - at).c_str());
        if (pid == 0) return Usage(("--watch: bad pid in " + w).c_str());
        pids.push_back(pid);
        at = comma + 1;
      }
      o.watch.emplace_back(w.substr(0, eq), std::move(pids));
    } else
      return Usage(("unknown option " + a).c_str());
  }
  auto env = [](const char* k) {
    const char* v = std::getenv(k);
    return std::string(v ? v : "");
  };
  o.agent_ak = env("SMS_FLEET_AGENT_AK");
  o.agent_sk = env("SMS_FLEET_AGENT_SK");
  o.op_ak = env("SMS_FLEET_OP_AK");
  o.op_sk = env("SMS_FLEET_OP_SK");
  if (o.servers.empty()) return Usage("no --server");
  if (o.agent_ak.empty() || o.op_ak.empty())
    return Usage("credentials missing");
  if (o.agents < 1 || o.agents > 100000) return Usage("--agents: 1..100000");
  if (o.interval_s < 0.05 || o.duration_s <= 0 || o.duration_s > 3600)
    return Usage("--interval >= 0.05, --duration in (0, 3600]");
  if (o.dirs < 1 || o.dirs > 30) return Usage("--dirs: 1..30");
  if (o.files < 0 || o.files > 10000) return Usage("--files: 0..10000");
  std::vector<Endpoint> eps;
  for (const std::string& url : o.servers) {
    if (url.rfind("http://", 0) != 0)
      return Usage(("--server must be http://HOST:PORT: " + url).c_str());
    std::string hp = url.substr(7);
    hp = hp.substr(0, hp.find('/'));
    size_t colon = hp.rfind(':');
    if (colon == std::string::npos) return Usage("--server needs a port");
    Endpoint ep{hp.substr(0, colon), hp.substr(colon + 1), hp};
    if (!IsLoopback(ep.host))
      return Usage(("only loopback servers: " + ep.host).c_str());
    eps.push_back(ep);
  }
  // One socket per agent: lift the descriptor limit as far as allowed.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  asio::io_context io(1);
  Fleet fleet(io, o, eps);
  return fleet.Run();
}

}  // namespace
}  // namespace sms::fleet

int main(int argc, char** argv) { return sms::fleet::Main(argc, argv); }
