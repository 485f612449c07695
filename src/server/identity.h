// Identity and roles: who is calling, and what their role lets them do
// (spec/API.md §2, "Roles").
#pragma once

#include <string>
#include <string_view>

#include "server/api_error.h"

namespace sms::server {

struct Identity {
  std::string domain_id;
  std::string domain_name;
  std::string user_id;
  std::string user_name;
  std::string role;    // admin | operator | viewer | agent
  std::string method;  // token | aksk
};

enum class Action {
  kTaskRead,        // list/show tasks, configuration
  kTaskWrite,       // create/delete tasks, configuration, action
  kSourceRead,      // list/show sources
  kSourceRegister,  // POST /v3/sources
  kAgentLoop,       // poll commands, report command results
  kResultUpload,    // upload results and details
  kResultRead,      // results, details, export
};

// The IAM-style action name, for 403 messages ("sms:task:create").
std::string_view ActionName(Action a);

bool IsValidRole(std::string_view role);
bool RoleAllows(std::string_view role, Action a);

// Succeeds if the identity's role allows `a`, else 403 SMS.9004.
ApiStatus Require(const Identity& who, Action a);

}  // namespace sms::server
