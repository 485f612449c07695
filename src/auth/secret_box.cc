#include "auth/secret_box.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "auth/crypto.h"

namespace sms::auth {
namespace {

constexpr std::string_view kPrefix = "sealed:v1:";
constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

using CipherCtx =
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

core::Error Bad(const std::string& what) {
  return core::InvalidArgument("sealed secret: " + what);
}

core::Result<std::string> ReadKey(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return core::Fail(core::Unavailable("secret key file " + path + ": " +
                                        std::strerror(errno)));
  char buf[130];
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  auto key = HexDecode(text);
  if (!key || key->size() != kKeyBytes)
    return core::Fail(core::InvalidArgument(
        "secret key file " + path +
        ": expected 64 hex characters (openssl rand -hex 32)"));
  return std::move(*key);
}

// Makes a new key file; false (without error) when it exists already.
core::Result<bool> CreateKey(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    return core::Fail(core::Unavailable("create secret key file " + path +
                                        ": " + std::strerror(errno)));
  }
  const std::string text = HexEncode(RandomBytes(kKeyBytes)) + "\n";
  const bool ok = write(fd, text.data(), text.size()) ==
                      static_cast<ssize_t>(text.size()) &&
                  fsync(fd) == 0;
  const int err = errno;
  close(fd);
  if (!ok) {
    unlink(path.c_str());
    return core::Fail(core::Unavailable("write secret key file " + path + ": " +
                                        std::strerror(err)));
  }
  return true;
}

}  // namespace

core::Result<SecretBox> SecretBox::FromKeyFile(const std::string& path,
                                               bool create_if_missing) {
  if (create_if_missing && access(path.c_str(), F_OK) != 0) {
    SMS_RETURN_IF_ERROR(CreateKey(path));
  }
  SMS_ASSIGN_OR_RETURN(std::string key, ReadKey(path));
  return SecretBox(std::move(key));
}

SecretBox::SecretBox(std::string key) : key_(std::move(key)) {}

bool SecretBox::IsSealed(std::string_view stored) {
  return stored.substr(0, kPrefix.size()) == kPrefix;
}

std::string SecretBox::Seal(std::string_view context,
                            std::string_view secret) const {
  const std::string nonce = RandomBytes(kNonceBytes);
  std::string out = nonce;
  out.resize(kNonceBytes + secret.size() + kTagBytes);
  auto* cipher = reinterpret_cast<unsigned char*>(out.data()) + kNonceBytes;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                     reinterpret_cast<const unsigned char*>(key_.data()),
                     reinterpret_cast<const unsigned char*>(nonce.data()));
  EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                    reinterpret_cast<const unsigned char*>(context.data()),
                    static_cast<int>(context.size()));
  EVP_EncryptUpdate(ctx.get(), cipher, &len,
                    reinterpret_cast<const unsigned char*>(secret.data()),
                    static_cast<int>(secret.size()));
  EVP_EncryptFinal_ex(ctx.get(), cipher + len, &len);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                      cipher + secret.size());
  return std::string(kPrefix) + Base64UrlEncode(out);
}

core::Result<std::string> SecretBox::Open(std::string_view context,
                                          std::string_view sealed) const {
  if (!IsSealed(sealed)) return core::Fail(Bad("not sealed"));
  auto raw = Base64Decode(sealed.substr(kPrefix.size()));
  if (!raw || raw->size() < kNonceBytes + kTagBytes)
    return core::Fail(Bad("malformed"));
  const size_t n = raw->size() - kNonceBytes - kTagBytes;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw->data());
  std::string secret(n, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                     reinterpret_cast<const unsigned char*>(key_.data()),
                     bytes);
  EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                    reinterpret_cast<const unsigned char*>(context.data()),
                    static_cast<int>(context.size()));
  EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(secret.data()),
                    &len, bytes + kNonceBytes, static_cast<int>(n));
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                      const_cast<unsigned char*>(bytes + kNonceBytes + n));
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(),
                          reinterpret_cast<unsigned char*>(secret.data()) + len,
                          &final_len) != 1)
    return core::Fail(
        Bad("does not open with this key (another key file, or "
            "altered)"));
  return secret;
}

}  // namespace sms::auth
