// SPDX-License-Identifier: GPL-2.0-or-later
//
// Host integration: what `otpgate enable sshd|radius` changes on a Debian
// host, and how `otpgate disable` puts every file back byte for byte.
//
// Every change is one of three kinds: a file that did not exist is created,
// a block of lines is inserted into an existing file, a symbolic link is
// made. Before anything is written, the original bytes (or the fact that the
// path did not exist) and the bytes written are recorded under
// <root>/var/backups/otpgate/enable/<target>/:
//   manifest          one line per change: "create|edit|link <absolute path>"
//   orig/<path>       the file as it was before `enable` (edit only)
//   ours/<path>       what `enable` wrote (edit, create), or the link target
//   block/<path>      the lines `enable` inserted (edit only)
// `disable` restores each file from orig/ when it still holds exactly what
// `enable` wrote; when an administrator changed it since, only the inserted
// block is taken out (the rest of their change stays) and the report says
// so. The backup directory is removed once everything is restored.
//
// All paths are below HostLayout::root, so tests run on a throwaway tree.
// Not thread-safe; callers serialise (the CLI runs one command per process).
#ifndef OTPGATE_HOST_INTEGRATION_H_
#define OTPGATE_HOST_INTEGRATION_H_

#include <string>
#include <string_view>
#include <vector>

#include "otpgate/status.h"

namespace otpgate {

inline constexpr const char* kEnableBackupDir = "/var/backups/otpgate/enable";
inline constexpr const char* kSshdDropIn = "/etc/ssh/sshd_config.d/otpgate.conf";
inline constexpr const char* kSshdConfig = "/etc/ssh/sshd_config";
inline constexpr const char* kPamSshd = "/etc/pam.d/sshd";
inline constexpr const char* kRaddbDir = "/etc/freeradius/3.0";
inline constexpr const char* kOtpgateDictionary = "/usr/share/freeradius/dictionary.otpgate";

// A host's file tree: "/" for the real host, a directory for tests.
struct HostLayout {
  std::string root = "/";
  // `absolute` (starting with '/') under root.
  std::string Path(std::string_view absolute) const;
  bool IsRealHost() const { return root == "/" || root.empty(); }
};

enum class HostTarget { kSshd, kRadius };
Result<HostTarget> ParseHostTarget(std::string_view name);
std::string_view HostTargetName(HostTarget target);

struct EnableOptions {
  // sshd: require a public key and then the code
  // (AuthenticationMethods publickey,keyboard-interactive) instead of the
  // password and the code.
  bool publickey = false;
};

// One change `enable` makes. Paths are absolute, as on the host.
struct HostChange {
  enum class Kind { kCreate, kEdit, kLink };
  Kind kind;
  std::string path;
  std::string content;  // kCreate/kEdit: the whole new file; kLink: the link target
  std::string block;    // kEdit: the inserted lines
};

// The changes `enable` would make on this host, computed from its current
// files; writes nothing. Errors (FailedPrecondition, AlreadyExists, NotFound)
// say what on the host prevents it and how to fix it.
Result<std::vector<HostChange>> PlanEnable(const HostLayout& host, HostTarget target,
                                           const EnableOptions& options);

// True when `enable` recorded changes for target that `disable` has not undone.
bool IsEnabled(const HostLayout& host, HostTarget target);

// Records the backup, then applies PlanEnable's changes. If a write fails
// midway, what was already written is undone. FailedPrecondition when the
// target is already enabled.
Result<std::vector<HostChange>> Enable(const HostLayout& host, HostTarget target,
                                       const EnableOptions& options);

// What `disable` did, one line per path, for the administrator.
struct DisableReport {
  std::vector<std::string> lines;
  bool backup_kept = false;  // something could not be restored exactly
};

// Undoes Enable. NotFound when the target is not enabled.
Result<DisableReport> Disable(const HostLayout& host, HostTarget target);

// The backup directory of target, as on the host (without root).
std::string EnableBackupDir(HostTarget target);

}  // namespace otpgate

#endif  // OTPGATE_HOST_INTEGRATION_H_
