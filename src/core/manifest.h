// The manifest stream: one side of a verification, serialised, so that an
// agent on the target (started through ssh) walks and hashes its tree at the
// same time as the source and sends only metadata and digests back.
//
// Binary, versioned and checksummed:
//   header  "SMSMANIF" u8 version, u8 mode, u8 hash, varint chunk_size,
//           varint n_dirs, n_dirs x string
//   records 'S' string dir_check, u8 root_state, string error
//           'E' varint shared_prefix, string path_suffix, u8 type, u8 state,
//               varint size, mode, uid, gid, zigzag mtime_ns,
//               [varint rdev: devices] [string target: symlinks]
//               u8 digest_len + digest, [u8 flags: digest_len > 0; bit 0
//               digest from the hash cache, bit 1 corrupt (core/hash_cache.h)]
//               [string error: state != ok]
//           'X' end of section
//           'F' string message: the remote side failed; the check cannot
//               be completed
//   trailer 'T' varint entries, 8 bytes XXH64 (little-endian) of every byte
//           before them (seed 0).
// Strings are varint length + bytes. A stream that ends before its trailer,
// or whose checksum or header does not match, is an error, never counts.
// Thread-safety: a writer or reader is used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/entry_stream.h"
#include "core/hasher.h"

namespace sms::core {

inline constexpr uint8_t kManifestVersion = 2;

// What both sides must agree on; the reader checks the header against it.
struct ManifestParams {
  CompareMode mode = CompareMode::kHash;
  HashAlgorithm hash = HashAlgorithm::kXxh128;
  uint64_t chunk_size = kDefaultChunkSize;
  std::vector<std::string> dirs;
};

// Writes the whole of `stream` to file descriptor `fd` (not owned).
// On a stream error, writes an 'F' record with its message and returns it.
[[nodiscard]] Status WriteManifest(EntryStream& stream,
                                   const ManifestParams& params, int fd);

// Reads a manifest from `fd` (not owned) as an EntryStream.
class ManifestReader final : public EntryStream {
 public:
  ManifestReader(int fd, ManifestParams expected);
  ~ManifestReader() override;
  ManifestReader(const ManifestReader&) = delete;
  ManifestReader& operator=(const ManifestReader&) = delete;

  Result<const Item*> Next() override;

 private:
  Status ReadHeader();
  Status Fill();  // refills buf_; DataLoss at end of input
  Result<uint8_t> Byte();
  Result<uint64_t> Varint();
  Status Bytes(std::string& out, size_t n);
  Result<std::string> String();
  Status ReadEntry();
  void HashConsumed();

  const int fd_;
  const ManifestParams expected_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  size_t hashed_ = 0;  // bytes of buf_ already fed to the checksum
  struct State;
  std::unique_ptr<State> state_;
  bool header_read_ = false;
  bool finished_ = false;
  uint64_t entries_ = 0;
  Item item_;
  std::string previous_path_;
};

}  // namespace sms::core
