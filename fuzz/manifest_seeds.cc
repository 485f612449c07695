// Writes the seed corpus of manifest_fuzz: manifests of a few small streams
// (files, directories, a symlink, a device, error and missing-root states),
// written by the real encoder with the parameters the fuzzer expects.
// Usage: fuzz_manifest_seeds DIR
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/manifest.h"
#include "testing/vector_stream.h"

namespace {

using namespace sms;           // NOLINT: file-local
using namespace sms::testing;  // NOLINT: file-local

bool Write(const std::vector<core::Item>& items, const std::string& path) {
  const core::ManifestParams params{core::CompareMode::kHash,
                                    core::HashAlgorithm::kXxh128,
                                    core::kDefaultChunkSize,
                                    {"/etc", "/var"}};
  int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) return false;
  VectorStream stream(items);
  const bool ok = static_cast<bool>(core::WriteManifest(stream, params, fd));
  close(fd);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  core::Item dev;
  dev.entry.path = "dev/null";
  dev.entry.type = core::FileType::kCharDevice;
  dev.entry.rdev = 259;
  dev.entry.mtime_ns = -5;
  bool ok = true;
  ok &= Write(
      {SectionStart("/etc"), SectionEnd(), SectionStart("/var"), SectionEnd()},
      dir + "/empty");
  ok &= Write({SectionStart("/etc"), Dir("a"), File("a/x", "hello"),
               File("a/y\n\xff", "bytes"), Link("a/z", "../nowhere"),
               WithState(File("b", "q"), core::EntryState::kError,
                         "open: Permission denied"),
               dev, SectionEnd(),
               SectionStart("/var", core::RootState::kMissing), SectionEnd()},
              dir + "/mixed");
  std::vector<core::Item> many{SectionStart("/etc")};
  for (int i = 0; i < 40; ++i)
    many.push_back(File("d/sub/file" + std::to_string(i), std::to_string(i)));
  many.push_back(SectionEnd());
  many.push_back(SectionStart("/var"));
  many.push_back(WithState(File("changed", "c"), core::EntryState::kChanged));
  many.push_back(SectionEnd());
  ok &= Write(many, dir + "/shared_prefixes");
  return ok ? 0 : 1;
}
