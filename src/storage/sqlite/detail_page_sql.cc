#include "storage/sqlite/detail_page_sql.h"

#include <string>

namespace sms::storage::sqlite {
namespace {

// `from` names the index a filtered shape must walk (INDEXED BY: without
// statistics SQLite would pick one of two equal-looking indexes for both
// filters, and the caller knows from detail_counts which is smaller).
std::string PageSql(const char* from, const char* filter) {
  return std::string(
             "SELECT f.seq, f.idx, f.dir_check, f.path, f.path_b64,"
             " f.status, f.reason, f.source_json, f.target_json,"
             " coalesce((SELECT fr.started_time FROM runs fr"
             "  WHERE fr.domain_id = f.domain_id"
             "  AND fr.run_id = f.first_seen_run), r.started_time)"
             " FROM ") +
         from +
         " JOIN runs r"
         " ON r.domain_id = f.domain_id AND r.run_id = f.run_id"
         " WHERE f.domain_id = ?1 AND f.run_id = ?2" +
         filter +
         " AND (f.seq > ?5 OR (f.seq = ?5 AND f.idx > ?6))"
         " ORDER BY f.seq, f.idx LIMIT ?7";
}

}  // namespace

const char* DetailPageSql(DetailPageShape shape) {
  static constexpr char kByDir[] =
      "file_details f INDEXED BY file_details_by_dir";
  static constexpr char kByStatus[] =
      "file_details f INDEXED BY file_details_by_status";
  static constexpr char kBoth[] = " AND f.dir_check = ?3 AND f.status = ?4";
  static const std::string kSql[] = {
      PageSql("file_details f", ""),
      PageSql(kByDir, " AND f.dir_check = ?3"),
      PageSql(kByStatus, " AND f.status = ?4"),
      PageSql(kByDir, kBoth),
      PageSql(kByStatus, kBoth),
  };
  return kSql[static_cast<int>(shape)].c_str();
}

}  // namespace sms::storage::sqlite
