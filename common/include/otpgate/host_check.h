// SPDX-License-Identifier: GPL-2.0-or-later
//
// The file-level checks of `otpgate doctor`: do the PAM stacks, sshd and
// FreeRADIUS that name otpgate find what they load, and do their options
// parse. Each problem comes with the command or edit that fixes it. Reads
// only; every path is under HostLayout::root. (The checks that need another
// user's credentials or an external program live in the CLI.)
#ifndef OTPGATE_HOST_CHECK_H_
#define OTPGATE_HOST_CHECK_H_

#include <string>
#include <string_view>
#include <vector>

#include "otpgate/host_integration.h"

namespace otpgate {

struct HostProblem {
  std::string what;  // what is wrong, naming the file
  std::string fix;   // what to run or change
};

// An active "pam_otpgate.so" line of a PAM service file.
struct PamModuleLine {
  int line_number = 0;
  std::string type;     // lower case, without a leading '-': "auth", "account", ...
  std::string control;  // lower case: "required", ...; "[...]" unbracketed, as written
  std::string module;   // as written: "pam_otpgate.so" or an absolute path
  std::vector<std::string> arguments;  // "[a b]" arguments unbracketed

  // An auth line no login passes without: required or requisite.
  bool RequiresTheCode() const;
};

// The lines of a pam.d file that load pam_otpgate, parsed as libpam does
// (comments, "[...]" controls and arguments, "\" continuations).
std::vector<PamModuleLine> FindPamOtpgateLines(std::string_view text);

// Every /etc/pam.d service that loads pam_otpgate: the module exists
// (bare names under `module_dir`, e.g. /lib/x86_64-linux-gnu/security) and
// every argument is a valid option.
std::vector<HostProblem> CheckPamStacks(const HostLayout& host, std::string_view module_dir);

// How sshd's PAM stack comes to ask for a one-time password.
struct SshdCodeSources {
  bool own_line = false;     // an auth pam_otpgate line in /etc/pam.d/sshd
  bool common_auth = false;  // one in common-auth, which sshd's stack includes
  // ... and that one is required or requisite, as pam-auth-update's otpgate
  // profile writes it: no login passes without the code.
  bool common_auth_requires = false;
  bool any() const { return own_line || common_auth; }
};
SshdCodeSources SshdCodeSourcesOf(const HostLayout& host);

// sshd: if its PAM stack asks for a code, sshd must run keyboard-interactive
// (the drop-in of `otpgate enable sshd`), and the reverse; the stack must
// not ask twice.
std::vector<HostProblem> CheckSshd(const HostLayout& host);

// FreeRADIUS: an enabled otpgate module finds rlm_otpgate.so in
// `module_dir` (/usr/lib/freeradius) and its dictionary; the site needs the
// module.
std::vector<HostProblem> CheckRadius(const HostLayout& host, std::string_view module_dir);

// True when FreeRADIUS is set up to load rlm_otpgate.
bool RadiusModuleEnabled(const HostLayout& host);

}  // namespace otpgate

#endif  // OTPGATE_HOST_CHECK_H_
