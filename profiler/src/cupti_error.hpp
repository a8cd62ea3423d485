// The one-line text of a CUPTI failure, shared by the host, range and activity code.
#pragma once

#include <cupti_result.h>

#include <string>

namespace attnio::profiler {

// "<call>: <CUPTI's text>", with how to allow counter access for INSUFFICIENT_PRIVILEGES.
inline std::string cupti_error(const char* call, CUptiResult r) {
  if (r == CUPTI_ERROR_INSUFFICIENT_PRIVILEGES) {
    return std::string(call) +
           ": counter access denied (CUPTI_ERROR_INSUFFICIENT_PRIVILEGES); run as root, or load the nvidia module "
           "with NVreg_RestrictProfilingToAdminUsers=0 (e.g. in /etc/modprobe.d) and reboot";
  }
  const char* text = nullptr;
  cuptiGetResultString(r, &text);
  return std::string(call) + ": " + (text ? text : "CUPTI error " + std::to_string(static_cast<int>(r)));
}

}  // namespace attnio::profiler
