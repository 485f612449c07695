// The statements of a page of a run's file details (SqliteStore::
// ListDetails), one per filter shape, so that SQLite walks the index that
// holds the page's rows in (seq, idx) order: the primary key without a
// filter, file_details_by_dir or file_details_by_status (migration 0021)
// with one. A single statement with "(?3 IS NULL OR f.dir_check = ?3)"
// can only walk the primary key, so a selective filter read every row of
// the run after the marker: 0.1-0.6 s a page of a 1,000,000-row run
// (docs/server.md, "Paging a run's details").
//
// Parameters of every shape: ?1 domain_id, ?2 run_id, ?3 dir_check, ?4
// status (each ignored by the shapes without that filter), ?5 after_seq,
// ?6 after_idx, ?7 limit.
#pragma once

namespace sms::storage::sqlite {

enum class DetailPageShape {
  kAll,                   // no filter: the primary key
  kDir,                   // dir_check: file_details_by_dir
  kStatus,                // status: file_details_by_status
  kDirAndStatusByDir,     // both, walking the directory's rows
  kDirAndStatusByStatus,  // both, walking the run's rows of that status
};

// The SELECT of a page of `shape`; the text lives as long as the process.
const char* DetailPageSql(DetailPageShape shape);

}  // namespace sms::storage::sqlite
