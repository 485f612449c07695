// VectorStream: an EntryStream over items held in memory, for table tests of
// the marcher and the manifest codec.
#pragma once

#include <string>
#include <vector>

#include "core/entry_stream.h"

namespace sms::testing {

class VectorStream final : public core::EntryStream {
 public:
  explicit VectorStream(std::vector<core::Item> items)
      : items_(std::move(items)) {}
  core::Result<const core::Item*> Next() override {
    if (next_ == items_.size()) return nullptr;
    return &items_[next_++];
  }

 private:
  std::vector<core::Item> items_;
  size_t next_ = 0;
};

// Builders for the items of a stream.
core::Item SectionStart(const std::string& dir,
                        core::RootState state = core::RootState::kOk);
core::Item SectionEnd();
core::Item File(const std::string& path, const std::string& content,
                int64_t mtime_sec = 1600000000);
core::Item Dir(const std::string& path);
core::Item Link(const std::string& path, const std::string& target);
// `base` with its state set (kChanged or kError with `error`).
core::Item WithState(core::Item base, core::EntryState state,
                     const std::string& error = {});

}  // namespace sms::testing
