#include "testing/vector_stream.h"

#include "core/hasher.h"

namespace sms::testing {

core::Item SectionStart(const std::string& dir, core::RootState state) {
  core::Item item;
  item.kind = core::ItemKind::kSectionStart;
  item.section.dir_check = dir;
  item.section.state = state;
  return item;
}

core::Item SectionEnd() {
  core::Item item;
  item.kind = core::ItemKind::kSectionEnd;
  return item;
}

core::Item File(const std::string& path, const std::string& content,
                int64_t mtime_sec) {
  core::Item item;
  item.entry.path = path;
  item.entry.type = core::FileType::kRegular;
  item.entry.size = content.size();
  item.entry.mode = 0644;
  item.entry.mtime_ns = mtime_sec * 1000000000;
  core::ContentHasher hasher(core::HashAlgorithm::kXxh128,
                             core::kDefaultChunkSize);
  item.entry.digest = hasher.HashWhole(
      {reinterpret_cast<const uint8_t*>(content.data()), content.size()});
  return item;
}

core::Item Dir(const std::string& path) {
  core::Item item;
  item.entry.path = path;
  item.entry.type = core::FileType::kDirectory;
  item.entry.mode = 0755;
  return item;
}

core::Item Link(const std::string& path, const std::string& target) {
  core::Item item;
  item.entry.path = path;
  item.entry.type = core::FileType::kSymlink;
  item.entry.size = target.size();
  item.entry.link_target = target;
  return item;
}

core::Item WithState(core::Item base, core::EntryState state,
                     const std::string& error) {
  base.entry.state = state;
  base.entry.error = error;
  if (state != core::EntryState::kOk) base.entry.digest = core::Digest{};
  return base;
}

}  // namespace sms::testing
