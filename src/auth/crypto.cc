#include "auth/crypto.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/strings.h"

namespace sms::auth {

std::string HexEncode(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

core::Result<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0)
    return core::Fail(core::InvalidArgument("not hex: odd length"));
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexValue(hex[i]);
    const int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return core::Fail(core::InvalidArgument("not hex"));
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<char*>(md), n));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md,
       &n);
  return std::string(reinterpret_cast<char*>(md), n);
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                 static_cast<int>(n)) != 1) {
    // Without randomness we cannot issue secrets; this is not recoverable,
    // but the operator learns why the process stopped (an empty or
    // unreadable /dev/urandom in a chroot, a seccomp filter on getrandom).
    const unsigned long code = ERR_get_error();
    char reason[256] = "no OpenSSL error queued";
    if (code != 0) ERR_error_string_n(code, reason, sizeof(reason));
    fprintf(stderr,
            "fatal: cannot draw %zu random bytes from the system (%s); "
            "check that getrandom(2) or /dev/urandom is available\n",
            n, reason);
    fflush(stderr);
    std::abort();
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n);
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string s = Base64Encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

core::Result<std::string> Base64Decode(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (s.size() % 4 != 0) s.push_back('=');
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
    if (!ok) return core::Fail(core::InvalidArgument("not base64"));
  }
  std::string out(s.size() / 4 * 3 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()),
                          static_cast<int>(s.size()));
  if (n < 0) return core::Fail(core::InvalidArgument("not base64"));
  size_t pad = 0;
  for (size_t i = s.size(); i > 0 && s[i - 1] == '='; --i) ++pad;
  if (pad > 2) return core::Fail(core::InvalidArgument("not base64"));
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string NewUuid() {
  std::string b = RandomBytes(16);
  // RFC 9562 version 7: the first 48 bits are the Unix time in ms, big
  // endian, so ids made later sort later and a B-tree keyed by them grows
  // at its right edge: the runs of one group commit share their index
  // pages instead of dirtying one random page each (POST of a 30-directory
  // result: 52 KB -> 23 KB written each, 1.9k -> 3.0k per second).
  const uint64_t ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<char>((ms >> (8 * (5 - i))) & 0xff);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x70);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  return FormatUuid(b);
}

std::string FormatUuid(std::string_view bytes16) {
  std::string out = HexEncode(bytes16.substr(0, 16));
  for (size_t at : {20, 16, 12, 8}) out.insert(at, 1, '-');
  return out;
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

namespace {

std::string Pbkdf2(std::string_view password, std::string_view salt,
                   int iterations) {
  std::string out(32, '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(),
                    static_cast<int>(out.size()),
                    reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace

std::string HashPassword(std::string_view password, int iterations) {
  std::string salt = RandomBytes(16);
  return "pbkdf2-sha256$" + std::to_string(iterations) + "$" +
         Base64Encode(salt) + "$" +
         Base64Encode(Pbkdf2(password, salt, iterations));
}

bool VerifyPassword(std::string_view password, std::string_view stored) {
  auto parts = core::Split(stored, '$');
  if (parts.size() != 4 || parts[0] != "pbkdf2-sha256") return false;
  int iterations = std::atoi(std::string(parts[1]).c_str());
  if (iterations < 1 || iterations > 10000000) return false;
  auto salt = Base64Decode(parts[2]);
  auto want = Base64Decode(parts[3]);
  if (!salt || !want) return false;
  return ConstantTimeEquals(Pbkdf2(password, *salt, iterations), *want);
}

}  // namespace sms::auth
