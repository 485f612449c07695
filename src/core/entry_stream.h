// EntryStream: one side of a verification as an ordered stream of items.
//
// For each directory to verify, in the order given: a kSectionStart item
// (the section's root state), the entries under it in walk order
// (core/path_order.h), then a kSectionEnd item. The local Scanner and the
// ManifestReader (a remote side over ssh) both implement it.
// Thread-safety: one consumer thread.
#pragma once

#include "core/entry.h"
#include "core/result.h"

namespace sms::core {

enum class ItemKind : uint8_t {
  kSectionStart = 1,
  kEntry = 2,
  kSectionEnd = 3
};

struct Item {
  ItemKind kind = ItemKind::kEntry;
  Section section;  // kSectionStart only
  Entry entry;      // kEntry only
};

// Whether the content is read (hash) or only metadata compared (quick).
enum class CompareMode : uint8_t { kHash = 1, kQuick = 2 };

class EntryStream {
 public:
  virtual ~EntryStream() = default;
  // Returns the next item, or nullptr once every section has ended. The item
  // stays valid until the next call. An error ends the stream: the check
  // cannot be completed (for example a truncated manifest).
  [[nodiscard]] virtual Result<const Item*> Next() = 0;
};

}  // namespace sms::core
