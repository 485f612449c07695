// The webhook events a committed run raises (issue 13.4), decided once for
// both backends: every committed run is `run.finished`; a run that could
// not check is also `run.failed`; a successful run that found a difference
// (any file different, missing, extra, changed while hashed, unreadable,
// with other metadata) is also `run.inconsistent`. The event id, the
// idempotency id a receiver sees on every attempt, is "<run_id>/<event>":
// a run is committed once, and run ids are unique within a domain, which
// is all a webhook (one domain's) sees, so it is unique per webhook.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/store.h"

namespace sms::storage {

inline std::vector<std::string> RunEvents(const Run& run) {
  std::vector<std::string> out = {"run.finished"};
  if (run.check_result != "success") {
    out.push_back("run.failed");
    return out;
  }
  for (const DirResult& d : run.dirs) {
    if (d.num_different_files + d.num_target_miss_files +
            d.num_target_more_files + d.num_changed_files + d.num_error_files +
            d.num_metadata_different_files >
        0) {
      out.push_back("run.inconsistent");
      break;
    }
  }
  return out;
}

inline std::string EventId(std::string_view run_id, std::string_view event) {
  return std::string(run_id) + "/" + std::string(event);
}

// True when `events` (a webhook's comma-separated list) has `event`.
inline bool Subscribes(std::string_view events, std::string_view event) {
  size_t start = 0;
  while (start <= events.size()) {
    size_t end = events.find(',', start);
    if (end == std::string_view::npos) end = events.size();
    if (events.substr(start, end - start) == event) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace sms::storage
