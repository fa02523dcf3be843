// SPDX-License-Identifier: GPL-2.0-or-later
//
// The host's own configuration checkers, shared by enable and doctor:
// `sshd -t` and `freeradius -XC`. Only meaningful on the real host (/).
#ifndef OTPGATE_TOOLS_HOST_COMMANDS_H_
#define OTPGATE_TOOLS_HOST_COMMANDS_H_

#include <string>

#include "otpgate/host_integration.h"
#include "otpgate/status.h"

namespace otpgate::cli {

// True when the checker of target is installed.
bool HostParserInstalled(HostTarget target);

// OK when the checker accepts the host's configuration, or is not installed;
// otherwise FailedPrecondition with the end of its output.
Status CheckWithHostParser(HostTarget target);

}  // namespace otpgate::cli

#endif  // OTPGATE_TOOLS_HOST_COMMANDS_H_
