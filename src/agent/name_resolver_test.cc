#include "agent/name_resolver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "testing/temp_dir.h"

namespace sms::agent {
namespace {

namespace ip = boost::asio::ip;
using std::chrono::milliseconds;

std::vector<std::string> Strings(const std::vector<ip::address>& v) {
  std::vector<std::string> out;
  for (const auto& a : v) out.push_back(a.to_string());
  return out;
}

TEST(NameResolverTest, HostsFileLinesMatchAnyNameCaseFolded) {
  const char* hosts =
      "127.0.0.1\tlocalhost\n"
      "# 10.0.0.9 commented.example\n"
      "10.0.0.5 sms.example.com sms   # the server\n"
      "fd00::5 sms.example.com\n"
      "not-an-address sms\n"
      "10.0.0.5 SMS\n";
  EXPECT_EQ(Strings(LookupHostsFile(hosts, "sms")),
            (std::vector<std::string>{"10.0.0.5"}));
  EXPECT_EQ(Strings(LookupHostsFile(hosts, "SMS.Example.com")),
            (std::vector<std::string>{"10.0.0.5", "fd00::5"}));
  EXPECT_TRUE(LookupHostsFile(hosts, "commented.example").empty());
  EXPECT_TRUE(LookupHostsFile(hosts, "example.com").empty());
}

TEST(NameResolverTest, LiteralsHostsFileAndLocalhostNeedNoDns) {
  testing::TempDir dir;
  testing::WriteFile(dir.Join("hosts"), "192.0.2.7 db.example\n");
  // A name server nobody answers on: any DNS query would time out.
  ResolverOptions o{.hosts_file = dir.Join("hosts"),
                    .resolv_conf = dir.Join("missing"),
                    .dns_servers = "127.0.0.1:9"};
  auto r = Resolve(o, "10.1.2.3", milliseconds(500));
  ASSERT_TRUE(r);
  EXPECT_EQ(Strings(*r), (std::vector<std::string>{"10.1.2.3"}));
  r = Resolve(o, "::1", milliseconds(500));
  ASSERT_TRUE(r);
  EXPECT_EQ(Strings(*r), (std::vector<std::string>{"::1"}));
  r = Resolve(o, "DB.example", milliseconds(500));
  ASSERT_TRUE(r);
  EXPECT_EQ(Strings(*r), (std::vector<std::string>{"192.0.2.7"}));
  r = Resolve(o, "localhost", milliseconds(500));
  ASSERT_TRUE(r);
  EXPECT_EQ(Strings(*r), (std::vector<std::string>{"127.0.0.1", "::1"}));
}

// A name server on loopback answering A queries for one name and NXDOMAIN
// for every other: just enough DNS for c-ares.
class TinyDns {
 public:
  TinyDns(std::string name, std::string address)
      : name_(std::move(name)), address_(std::move(address)) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TinyDns() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  int queries() const { return queries_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) != 1) continue;
      unsigned char q[512];
      sockaddr_in from{};
      socklen_t len = sizeof(from);
      const ssize_t n = recvfrom(fd_, q, sizeof(q), 0,
                                 reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 12) continue;
      ++queries_;
      // The question: labels from byte 12, then type and class.
      std::string qname;
      size_t i = 12;
      while (i < static_cast<size_t>(n) && q[i] != 0) {
        if (!qname.empty()) qname += '.';
        qname.append(reinterpret_cast<char*>(q + i + 1), q[i]);
        i += q[i] + 1;
      }
      const size_t qend = i + 5;  // zero label, type, class
      const int qtype = q[i + 1] << 8 | q[i + 2];
      std::string r(reinterpret_cast<char*>(q), qend);
      r[2] = static_cast<char>(0x81);  // response, recursion desired
      const bool known = qname == name_;
      r[3] = static_cast<char>(known ? 0x80 : 0x83);  // RA; NXDOMAIN
      r[6] = 0;
      r[7] = known && qtype == 1 ? 1 : 0;  // one answer to A
      r[8] = r[9] = r[10] = r[11] = 0;
      if (known && qtype == 1) {
        const unsigned char rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
        r.append(reinterpret_cast<const char*>(rr), sizeof(rr));
        in_addr a{};
        inet_pton(AF_INET, address_.c_str(), &a);
        r.append(reinterpret_cast<const char*>(&a), 4);
      }
      sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from),
             len);
    }
  }

  const std::string name_, address_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

TEST(NameResolverTest, AsksTheNameServerForOtherNames) {
  TinyDns dns("sms.example.test", "192.0.2.44");
  testing::TempDir dir;
  testing::WriteFile(dir.Join("hosts"), "127.0.0.1 localhost\n");
  testing::WriteFile(dir.Join("resolv.conf"), "options ndots:1\n");
  ResolverOptions o{.hosts_file = dir.Join("hosts"),
                    .resolv_conf = dir.Join("resolv.conf"),
                    .dns_servers = "127.0.0.1:" + std::to_string(dns.port())};
  auto r = Resolve(o, "sms.example.test", milliseconds(5000));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(Strings(*r), (std::vector<std::string>{"192.0.2.44"}));
  EXPECT_GE(dns.queries(), 1);

  auto missing = Resolve(o, "nothing.example.test", milliseconds(5000));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, core::ErrorCode::kUnavailable);
  EXPECT_NE(missing.error().message.find(
                "could not resolve host 'nothing.example.test'"),
            std::string::npos)
      << missing.error().message;
}

TEST(NameResolverTest, GivesUpWhenNoNameServerAnswers) {
  testing::TempDir dir;
  testing::WriteFile(dir.Join("resolv.conf"), "options ndots:1\n");
  // A bound UDP socket that never answers.
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ResolverOptions o{
      .hosts_file = dir.Join("no-hosts"),
      .resolv_conf = dir.Join("resolv.conf"),
      .dns_servers = "127.0.0.1:" + std::to_string(ntohs(a.sin_port))};
  auto r = Resolve(o, "sms.example.test", milliseconds(600));
  close(fd);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("could not resolve host"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace sms::agent
