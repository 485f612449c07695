// Identity and roles: who is calling, and what their role lets them do
// (spec/API.md §2, "Roles").
#pragma once

#include <string>
#include <string_view>

#include "server/api_error.h"
#include "storage/states.h"
#include "storage/store.h"

namespace sms::server {

struct Identity {
  std::string domain_id;
  std::string domain_name;
  std::string user_id;
  std::string user_name;
  storage::Role role = storage::Role::kViewer;
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
  // The details of a run: every reader, and an agent for the tasks of the
  // source it registered (a re-check of scope "inconsistent" pages the base
  // run's details; the service checks the ownership).
  kDetailsRead,
};

// The IAM-style action name, for 403 messages ("sms:task:create").
std::string_view ActionName(Action a);

using storage::Role;

// Whether `role` may perform `a` (the table of spec/API.md §2).
bool RoleAllows(Role role, Action a);

// The identity of `user` in `domain`, authenticated by `method` (token |
// aksk). 403 SMS.9004 when the stored role is not one of the four (a row
// edited by hand): such a user may do nothing, as before roles were typed.
ApiResult<Identity> IdentityOf(const storage::Domain& domain,
                               const storage::User& user, std::string method);

// Succeeds if the identity's role allows `a`, else 403 SMS.9004.
ApiStatus Require(const Identity& who, Action a);

}  // namespace sms::server
