// Fuzzes the manifest decoder (src/core/manifest.h): the bytes an agent on
// the target sends back through ssh, read to the end as the marcher would.
//
// The trailer's XXH64 is recomputed over the input first, so mutations reach
// the record decoder instead of stopping at the checksum (inputs shorter
// than the trailer are decoded as they are).
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.size() > 8) {
    const uint64_t sum = XXH64(bytes.data(), bytes.size() - 8, 0);
    for (int i = 0; i < 8; ++i)
      bytes[bytes.size() - 8 + i] = static_cast<char>(sum >> (8 * i));
  }
  static const int fd = memfd_create("manifest-fuzz", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) return 0;
  if (!bytes.empty() && write(fd, bytes.data(), bytes.size()) !=
                            static_cast<ssize_t>(bytes.size()))
    return 0;
  lseek(fd, 0, SEEK_SET);
  sms::core::ManifestParams expected{sms::core::CompareMode::kHash,
                                     sms::core::HashAlgorithm::kXxh128,
                                     sms::core::kDefaultChunkSize,
                                     {"/etc", "/var"}};
  sms::core::ManifestReader reader(fd, expected);
  for (int i = 0; i < 1 << 20; ++i) {
    auto item = reader.Next();
    if (!item || *item == nullptr) break;
  }
  return 0;
}
