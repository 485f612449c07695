// A run's directories as one column of its row (runs.dirs, migration
// 0019_run_dirs_in_runs): a JSON array with one array per directory, in
// order, holding rows::kDirColumns' values in that order, e.g.
//   [["/data/a",1000,0,0,0,0,0,0,4096,0,0,0,0,0],["/data/b",...]]
// One row per upload instead of one per directory (issue 14.3): a commit of
// 30 directories wrote 30 more heap tuples, primary-key entries and ~14 kB
// of WAL on PostgreSQL. Both dialects store this text (PostgreSQL as json,
// SQLite as TEXT); each has a view run_dirs that expands it into the rows
// the table of that name held, for the statements that search directories.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "storage/store.h"

namespace sms::storage {

// The column's text for `dirs` (the strings as UTF-8 JSON literals).
std::string EncodeDirs(const std::vector<DirResult>& dirs);

// The directories of a column's text: any JSON whitespace and string
// escapes, integers only. kDataLoss naming the offset when the text is not
// of that shape (a row edited by hand).
core::Result<std::vector<DirResult>> DecodeDirs(std::string_view text);

}  // namespace sms::storage
