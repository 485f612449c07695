// The directories to verify (`--dir`, CONSISTENCY_DIR): validated, normalised
// and reduced so that a directory listed together with its parent is
// verified once, as part of the parent.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace sms::core {

// Returns the normalised list in walk order: each item absolute, without
// "//", trailing '/', "." or ".." components; "/" stands for the whole root.
// An empty input yields {"/"}. Errors name the offending item.
[[nodiscard]] Result<std::vector<std::string>> NormalizeDirs(
    const std::vector<std::string>& dirs);

}  // namespace sms::core
