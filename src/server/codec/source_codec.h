// Source codec: the JSON of the source routes and of the agent's command
// loop (spec/API.md §4: POST/GET /v3/sources, .../command,
// .../command_result), and the command_param a queued command carries to
// the agent. The services never see JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/codec/query.h"
#include "server/json_fields.h"
#include "storage/store.h"

namespace sms::server {

// POST /v3/sources
struct RegisterSourceRequest {
  std::string name;
  std::string hostname;  // defaults to `name`
  std::string ip;
  std::string os_type;  // LINUX | WINDOWS
  std::string os_version;
  std::string agent_version;
};
[[nodiscard]] ApiResult<RegisterSourceRequest> DecodeRegisterSource(
    const json::object& body);

// GET /v3/sources: name filter and paging.
[[nodiscard]] ApiResult<storage::SourceFilter> DecodeSourceListQuery(
    const QueryParams& q);

// A source as the API shows it; `now` (epoch ms) decides "connected"
// (polled within the last 60 s).
json::value EncodeSource(const storage::Source& s, int64_t now);
// -> {"count", "source_servers"}
json::value EncodeSourceList(const storage::Page<storage::Source>& page,
                             int64_t now);

// POST /v3/sources/{id}/command_result
struct CommandResultRequest {
  storage::CommandName name = storage::CommandName::kConsistencyCheck;
  bool success = true;               // "success" | "fail"
  std::string result_detail = "{}";  // JSON text, at most 64 KiB
};
[[nodiscard]] ApiResult<CommandResultRequest> DecodeCommandResult(
    const json::object& body);

// GET /v3/sources/{id}/command: {"command_name": "NONE"} when nothing is
// queued, else the command's name and its param.
json::value EncodePolledCommand(const std::optional<storage::Command>& c);

// The command_param of a CONSISTENCY_CHECK, as the agent reads it
// (src/agent/daemon.cc).
struct CheckCommandParam {
  std::string task_id;
  std::string run_id;
  std::vector<std::string> dirs;
  std::string mode;
  std::string hash_algorithm;
  std::vector<std::string> exclude;
  int64_t io_limit = 0;
  std::string verify_uri;
  // Issue 12 (docs/hash-cache.md, "server contract"); each is sent only
  // when set, so a task without them gets the same param as before.
  std::string scope;               // "inconsistent": re-check base_run_id's
  std::string base_run_id;         // differences only
  std::optional<bool> cache;       // CONSISTENCY_CACHE
  std::optional<bool> push_agent;  // CONSISTENCY_PUSH_AGENT
};
std::string EncodeCheckParam(const CheckCommandParam& p);
// The command_param of a STOP.
std::string EncodeStopParam(const std::string& task_id,
                            const std::string& run_id);

}  // namespace sms::server
