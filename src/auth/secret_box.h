// SecretBox: the SKs at rest. HMAC verification needs each SK itself, so
// the server cannot keep only a hash of it (as it does for tokens and
// passwords); it keeps it sealed instead, under a key kept outside the
// database, as Keystone does with its credential keys. A copy of the
// database alone (a backup, a dump, a stolen disk image without the key
// file) then holds no usable SK.
//
// Sealing: AES-256-GCM, a fresh 96-bit nonce per seal, the access key as
// authenticated context (a sealed SK copied onto another access key's row
// does not open). Stored text: "sealed:v1:" + base64url(nonce|ciphertext|tag).
// The key file: 64 hex characters and a newline, mode 0600.
// Thread-safety: const methods are safe to call concurrently.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace sms::auth {

class SecretBox final {
 public:
  // Reads the key at `path`; when the file does not exist and
  // `create_if_missing`, makes a new random key there first (O_EXCL, 0600:
  // of two processes starting at once, one creates and both read it).
  // Errors name the file.
  [[nodiscard]] static core::Result<SecretBox> FromKeyFile(
      const std::string& path, bool create_if_missing);
  // A box with this 32-byte key (tests).
  explicit SecretBox(std::string key);

  // `secret` sealed, bound to `context`.
  std::string Seal(std::string_view context, std::string_view secret) const;
  // The secret from Seal's output. kInvalidArgument when the text is not
  // sealed, was sealed under another key or context, or was altered.
  [[nodiscard]] core::Result<std::string> Open(std::string_view context,
                                               std::string_view sealed) const;

  // True when `stored` is Seal's output (else: a secret kept in the clear
  // by an older version).
  static bool IsSealed(std::string_view stored);

 private:
  std::string key_;  // 32 bytes
};

}  // namespace sms::auth
