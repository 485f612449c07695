#include "agent/name_resolver.h"

#include <ares.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

namespace sms::agent {
namespace {

namespace ip = boost::asio::ip;
using Clock = std::chrono::steady_clock;

bool EqualFold(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool IsLocalhost(std::string_view host) {
  constexpr std::string_view kSuffix = ".localhost";
  return EqualFold(host, "localhost") ||
         (host.size() > kSuffix.size() &&
          EqualFold(host.substr(host.size() - kSuffix.size()), kSuffix));
}

// One DNS lookup's outcome, filled by c-ares' callback.
struct Answer {
  bool done = false;
  int status = ARES_SUCCESS;
  std::vector<ip::address> addresses;
};

void OnAnswer(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  auto* answer = static_cast<Answer*>(arg);
  answer->done = true;
  answer->status = status;
  if (result == nullptr) return;
  for (ares_addrinfo_node* n = result->nodes; n != nullptr; n = n->ai_next) {
    if (n->ai_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(n->ai_addr);
      ip::address_v4::bytes_type b;
      std::memcpy(b.data(), &sin->sin_addr, b.size());
      answer->addresses.push_back(ip::address_v4(b));
    } else if (n->ai_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(n->ai_addr);
      ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &sin6->sin6_addr, b.size());
      answer->addresses.push_back(ip::address_v6(b, sin6->sin6_scope_id));
    }
  }
  ares_freeaddrinfo(result);
}

// Owns one c-ares channel.
class Channel {
 public:
  Channel() = default;
  ~Channel() {
    if (channel_ != nullptr) ares_destroy(channel_);
  }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  core::Status Init(const ResolverOptions& options,
                    std::chrono::milliseconds timeout) {
    static std::once_flag once;
    static int library = ARES_SUCCESS;
    std::call_once(once,
                   [] { library = ares_library_init(ARES_LIB_INIT_ALL); });
    if (library != ARES_SUCCESS) return Failed("c-ares", library);
    ares_options o{};
    int mask = 0;
    // DNS only: the hosts file was read already, nsswitch.conf is not read.
    char lookups[] = "b";
    o.lookups = lookups;
    mask |= ARES_OPT_LOOKUPS;
    // Each try waits a fraction of the budget (resolv.conf's default is 5 s,
    // more than a 10 s connect budget leaves for a second server).
    o.timeout =
        static_cast<int>(std::clamp<int64_t>(timeout.count() / 4, 250, 5000));
    mask |= ARES_OPT_TIMEOUTMS;
    std::string resolv_conf = options.resolv_conf;
    if (resolv_conf != "/etc/resolv.conf") {
      o.resolvconf_path = resolv_conf.data();
      mask |= ARES_OPT_RESOLVCONF;
    }
    int rc = ares_init_options(&channel_, &o, mask);
    if (rc != ARES_SUCCESS) {
      channel_ = nullptr;
      return Failed("reading " + options.resolv_conf, rc);
    }
    if (!options.dns_servers.empty()) {
      rc = ares_set_servers_ports_csv(channel_, options.dns_servers.c_str());
      if (rc != ARES_SUCCESS)
        return Failed("name servers '" + options.dns_servers + "'", rc);
    }
    return core::Ok();
  }

  // Runs c-ares until `answer` is done or `deadline` passes (then the query
  // is cancelled and answered ARES_ECANCELLED).
  void Wait(Answer& answer, Clock::time_point deadline) {
    while (!answer.done) {
      ares_socket_t socks[ARES_GETSOCK_MAXNUM];
      const int bits = ares_getsock(channel_, socks, ARES_GETSOCK_MAXNUM);
      pollfd fds[ARES_GETSOCK_MAXNUM];
      nfds_t n = 0;
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
        if (events != 0) fds[n++] = pollfd{socks[i], events, 0};
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - Clock::now());
      if (left.count() <= 0) {
        ares_cancel(channel_);
        continue;
      }
      timeval max{static_cast<time_t>(left.count() / 1000),
                  static_cast<suseconds_t>(left.count() % 1000 * 1000)};
      timeval tv{};
      ares_timeout(channel_, &max, &tv);
      const int wait_ms =
          static_cast<int>(tv.tv_sec * 1000 + tv.tv_usec / 1000);
      const int ready = poll(fds, n, std::max(wait_ms, 1));
      if (ready <= 0) {
        ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        continue;
      }
      for (nfds_t i = 0; i < n; ++i) {
        ares_process_fd(
            channel_,
            (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0
                ? fds[i].fd
                : ARES_SOCKET_BAD,
            (fds[i].revents & POLLOUT) != 0 ? fds[i].fd : ARES_SOCKET_BAD);
      }
    }
  }

  ares_channel get() { return channel_; }

 private:
  static core::Status Failed(const std::string& what, int rc) {
    return core::Fail(
        core::Unavailable(what + ": " + std::string(ares_strerror(rc))));
  }

  ares_channel channel_ = nullptr;
};

}  // namespace

std::vector<ip::address> LookupHostsFile(std::string_view contents,
                                         std::string_view host) {
  std::vector<ip::address> out;
  std::istringstream lines{std::string(contents)};
  std::string line;
  while (std::getline(lines, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string address;
    if (!(words >> address)) continue;
    boost::system::error_code ec;
    const ip::address a = ip::make_address(address, ec);
    if (ec) continue;
    for (std::string name; words >> name;) {
      if (EqualFold(name, host)) {
        if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
        break;
      }
    }
  }
  return out;
}

core::Result<std::vector<ip::address>> Resolve(
    const ResolverOptions& options, const std::string& host,
    std::chrono::milliseconds timeout) {
  boost::system::error_code ec;
  const ip::address literal = ip::make_address(host, ec);
  if (!ec) return std::vector<ip::address>{literal};

  std::vector<ip::address> found =
      LookupHostsFile(ReadFile(options.hosts_file), host);
  if (!found.empty()) return found;
  if (IsLocalhost(host)) {
    return std::vector<ip::address>{ip::address_v4::loopback(),
                                    ip::address_v6::loopback()};
  }

  Channel channel;
  if (auto s = channel.Init(options, timeout); !s) {
    return core::Fail(core::Unavailable("could not resolve host '" + host +
                                        "': " + s.error().message));
  }
  Answer answer;
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  ares_getaddrinfo(channel.get(), host.c_str(), nullptr, &hints, OnAnswer,
                   &answer);
  channel.Wait(answer, Clock::now() + timeout);
  if (answer.status == ARES_SUCCESS && !answer.addresses.empty())
    return std::move(answer.addresses);
  const std::string why = answer.status == ARES_ECANCELLED ? "timed out"
                          : answer.status == ARES_SUCCESS
                              ? "no address"
                              : ares_strerror(answer.status);
  return core::Fail(
      core::Unavailable("could not resolve host '" + host + "': " + why));
}

}  // namespace sms::agent
