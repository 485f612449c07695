#include "server/identity.h"

namespace sms::server {

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kTaskRead:
      return "sms:task:get";
    case Action::kTaskWrite:
      return "sms:task:update";
    case Action::kSourceRead:
      return "sms:server:get";
    case Action::kSourceRegister:
      return "sms:server:register";
    case Action::kAgentLoop:
      return "sms:server:command";
    case Action::kResultUpload:
      return "sms:task:uploadResult";
    case Action::kResultRead:
      return "sms:task:getResult";
  }
  return "sms:unknown";
}

bool IsValidRole(std::string_view role) {
  return role == "admin" || role == "operator" || role == "viewer" ||
         role == "agent";
}

bool RoleAllows(std::string_view role, Action a) {
  if (role == "admin") return true;
  if (role == "operator") {
    return a == Action::kTaskRead || a == Action::kTaskWrite ||
           a == Action::kSourceRead || a == Action::kResultRead;
  }
  if (role == "viewer") {
    return a == Action::kTaskRead || a == Action::kSourceRead ||
           a == Action::kResultRead;
  }
  if (role == "agent") {
    return a == Action::kSourceRegister || a == Action::kAgentLoop ||
           a == Action::kResultUpload;
  }
  return false;
}

ApiStatus Require(const Identity& who, Action a) {
  if (RoleAllows(who.role, a)) return {};
  return ApiFail(ApiCode::kForbidden,
                 "You do not have permission to perform action " +
                     std::string(ActionName(a)) + " with role " + who.role +
                     ".");
}

}  // namespace sms::server
