// Fuzzes the agent's configuration parsing (src/agent/agent_config.h): the
// `key = value` text of a config file, applied over the defaults and
// validated, as `sms-agent daemon --config FILE` does.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/agent_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto values = sms::agent::ParseConfigText(text, "fuzz.conf");
  if (!values) return 0;
  sms::agent::AgentConfig config;
  if (!sms::agent::ApplyConfig(*values, "fuzz.conf", config)) return 0;
  (void)sms::agent::ValidateConfig(config);
  return 0;
}
