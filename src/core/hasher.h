// Content digests: XXH3-128 (default, fast) and SHA-256 (audits).
//
// A file's digest is defined so both sides hash alike whatever their thread
// count: files of at most `chunk_size` bytes get the plain digest of their
// bytes; longer files get the digest of the concatenated digests of their
// `chunk_size` chunks. The chunk size travels in the manifest header.
// Thread-safety: a ContentHasher is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "core/entry.h"

namespace sms::core {

enum class HashAlgorithm : uint8_t { kXxh128 = 1, kSha256 = 2 };

// Returns "xxh128" or "sha256".
std::string_view HashAlgorithmName(HashAlgorithm algorithm);
// Parses "xxh128" / "sha256"; nullopt for anything else.
std::optional<HashAlgorithm> ParseHashAlgorithm(std::string_view name);

inline constexpr uint64_t kDefaultChunkSize = 64ull << 20;

class ContentHasher final {
 public:
  ContentHasher(HashAlgorithm algorithm, uint64_t chunk_size);
  ~ContentHasher();
  ContentHasher(const ContentHasher&) = delete;
  ContentHasher& operator=(const ContentHasher&) = delete;

  // Starts a new file.
  void Reset();
  // Feeds the next bytes of the file.
  void Update(std::span<const uint8_t> data);
  // Returns the file's digest. Reset() before the next file.
  Digest Finish();

  // The digest of a whole file held in memory (same value as
  // Reset/Update/Finish), without the streaming state's overhead.
  Digest HashWhole(std::span<const uint8_t> data);

 private:
  class Engine;
  const HashAlgorithm algorithm_;
  const uint64_t chunk_size_;
  std::unique_ptr<Engine> chunk_;  // digest of the current chunk
  std::unique_ptr<Engine> outer_;  // digest of the chunk digests
  uint64_t in_chunk_ = 0;          // bytes fed into the current chunk
  uint64_t chunks_done_ = 0;       // completed chunks of this file
};

}  // namespace sms::core
