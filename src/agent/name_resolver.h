// Name resolution for the agent's HTTP client, without glibc's NSS: a fully
// static agent cannot load the NSS modules getaddrinfo(3) needs at run time
// (nor those of another glibc on an old target), so the agent resolves by
// itself, in the order of a default nsswitch.conf ("hosts: files dns"):
//   1. an IP literal is its own address;
//   2. the hosts file (/etc/hosts);
//   3. "localhost" and "*.localhost" are the loopback addresses (RFC 6761,
//      as curl does);
//   4. DNS, with the name servers, search list and options of resolv.conf
//      (c-ares; a missing resolv.conf means a name server on 127.0.0.1).
// NSS sources beyond files and DNS (LDAP, mDNS, nss-resolve) are not asked;
// systemd-resolved still answers through its stub in resolv.conf.
// Thread-safety: Resolve() is safe to call from several threads.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sms::agent {

struct ResolverOptions {
  std::string hosts_file = "/etc/hosts";
  std::string resolv_conf = "/etc/resolv.conf";
  // "ip:port" name servers replacing resolv.conf's (tests); empty: none.
  std::string dns_servers;
};

// The addresses of `host` (no brackets), in the order to try them; never
// empty on success. Unavailable names the host and the reason ("could not
// resolve host 'x': Domain name not found"). Gives up after `timeout`.
[[nodiscard]] core::Result<std::vector<boost::asio::ip::address>> Resolve(
    const ResolverOptions& options, const std::string& host,
    std::chrono::milliseconds timeout);

// The addresses `contents` (a hosts file) gives `host`, in file order.
std::vector<boost::asio::ip::address> LookupHostsFile(std::string_view contents,
                                                      std::string_view host);

}  // namespace sms::agent
