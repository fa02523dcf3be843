// SPDX-License-Identifier: GPL-2.0-or-later
#include "otpgate/host_integration.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>

#include "file_util.h"
#include "otpgate/host_check.h"

namespace otpgate {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxHostFileBytes = 1024 * 1024;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// The file's bytes; nullopt when it does not exist.
Result<std::optional<std::string>> ReadIfExists(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Status::Unavailable(Errno("cannot read " + path));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::FailedPrecondition(path + " is not a regular file");
  }
  if (static_cast<size_t>(st.st_size) > kMaxHostFileBytes) {
    return Status::FailedPrecondition(path + " is larger than 1 MiB");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  ssize_t n = ReadFully(fd.get(), text.data(), text.size());
  if (n < 0) return Status::Unavailable(Errno("cannot read " + path));
  text.resize(static_cast<size_t>(n));
  return std::optional<std::string>(std::move(text));
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Status MakeDirectories(const std::string& dir, mode_t mode) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Unavailable("cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), mode);
  return Status::Ok();
}

// Replaces `path` atomically with `content`. The new file takes the owner
// and mode of the file it replaces, or `mode` (owner: this process) when
// there is none.
Status WriteAtomically(const std::string& path, std::string_view content, mode_t mode) {
  struct stat old;
  bool replacing = ::stat(path.c_str(), &old) == 0;
  std::string temp = path + ".otpgate-new";
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return Status::Unavailable(Errno("cannot write " + temp));
  bool ok = WriteFully(fd.get(), content.data(), content.size()) == 0;
  if (ok && replacing) {
    ok = ::fchown(fd.get(), old.st_uid, old.st_gid) == 0 &&
         ::fchmod(fd.get(), old.st_mode & 07777) == 0;
  } else if (ok) {
    ok = ::fchmod(fd.get(), mode) == 0;
  }
  ok = ok && ::fsync(fd.get()) == 0;
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    Status failed = Status::Unavailable(Errno("cannot write " + path));
    ::unlink(temp.c_str());
    return failed;
  }
  return Status::Ok();
}

Status WriteBackupFile(const std::string& path, std::string_view content) {
  size_t slash = path.find_last_of('/');
  OTPGATE_RETURN_IF_ERROR(MakeDirectories(path.substr(0, slash), 0700));
  return WriteAtomically(path, content, 0600);
}

std::string_view KindName(HostChange::Kind kind) {
  switch (kind) {
    case HostChange::Kind::kCreate:
      return "create";
    case HostChange::Kind::kEdit:
      return "edit";
    case HostChange::Kind::kLink:
      return "link";
  }
  return "?";
}

// Inserts `block` after the first line equal to `anchor` (surrounding
// blanks ignored); nullopt when there is no such line.
std::optional<std::string> InsertAfterLine(const std::string& text, std::string_view anchor,
                                           std::string_view block) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    size_t next = end == std::string::npos ? text.size() : end + 1;
    std::string line = text.substr(start, next - start);
    std::istringstream words(line);
    std::string first, second, rest;
    words >> first >> second >> rest;
    if (rest.empty() && first + " " + second == anchor) {
      std::string out = text.substr(0, next);
      if (end == std::string::npos) out += "\n";
      out.append(block);
      out.append(text.substr(next));
      return out;
    }
    start = next;
  }
  return std::nullopt;
}

// True when a non-comment line of `text` mentions `word`.
bool HasActiveLineWith(const std::string& text, std::string_view word) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    if (line.find(word) != std::string::npos) return true;
  }
  return false;
}

// sshd reads the drop-in only when sshd_config includes its directory
// (Debian 12's does, on its first active line).
bool IncludesDropInDirectory(const std::string& sshd_config) {
  std::istringstream lines(sshd_config);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string keyword, argument;
    words >> keyword >> argument;
    for (char& c : keyword) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (keyword == "include" && argument.rfind("/etc/ssh/sshd_config.d/", 0) == 0) return true;
  }
  return false;
}

std::string SshdDropIn(const EnableOptions& options) {
  return std::string(
             "# Added by `otpgate enable sshd`; `otpgate disable sshd` removes it.\n"
             "# Every login goes through PAM's prompts (keyboard-interactive):\n"
             "# /etc/pam.d/sshd asks for the password (common-auth), then the\n"
             "# one-time password (pam_otpgate). The \"password\" method is off so that\n"
             "# no client sends the login password where the code is expected.\n"
             "KbdInteractiveAuthentication yes\n"
             "PasswordAuthentication no\n"
             "AuthenticationMethods ") +
         (options.publickey ? "publickey,keyboard-interactive" : "keyboard-interactive") + "\n";
}

Status RequireAbsent(const HostLayout& host, const std::string& path, std::string_view fix) {
  if (Exists(host.Path(path))) {
    return Status::AlreadyExists(path + " already exists and was not made by otpgate enable; " +
                                 std::string(fix));
  }
  return Status::Ok();
}

Result<std::string> RequireFile(const HostLayout& host, const std::string& path,
                                std::string_view what) {
  OTPGATE_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadIfExists(host.Path(path)));
  if (!text.has_value()) {
    return Status::NotFound(path + " does not exist: " + std::string(what));
  }
  return std::move(*text);
}

Result<std::vector<HostChange>> PlanSshd(const HostLayout& host, const EnableOptions& options) {
  OTPGATE_ASSIGN_OR_RETURN(std::string sshd_config,
                           RequireFile(host, kSshdConfig, "install openssh-server"));
  if (!IncludesDropInDirectory(sshd_config)) {
    return Status::FailedPrecondition(std::string(kSshdConfig) +
                                      " does not read /etc/ssh/sshd_config.d: add "
                                      "'Include /etc/ssh/sshd_config.d/*.conf' as its first line");
  }
  OTPGATE_RETURN_IF_ERROR(RequireAbsent(host, kSshdDropIn, "move it away first"));
  OTPGATE_ASSIGN_OR_RETURN(std::string pam, RequireFile(host, kPamSshd, "install openssh-server"));
  if (HasActiveLineWith(pam, "pam_otpgate")) {
    return Status::AlreadyExists(std::string(kPamSshd) +
                                 " already calls pam_otpgate.so (added by hand?): remove that "
                                 "line first, or keep it and leave sshd as it is");
  }
  HostChange drop_in{HostChange::Kind::kCreate, kSshdDropIn, SshdDropIn(options), ""};
  // With pam-auth-update's otpgate profile, common-auth requires the code
  // already: a line of our own would decide every login twice. (A line
  // there that does not require it, e.g. optional, gets ours after it.)
  if (SshdCodeSourcesOf(host).common_auth_requires) {
    return std::vector<HostChange>{std::move(drop_in)};
  }
  const std::string block =
      "# otpgate: added by `otpgate enable sshd`; `otpgate disable sshd` removes it.\n"
      "auth       required     pam_otpgate.so\n";
  std::optional<std::string> edited = InsertAfterLine(pam, "@include common-auth", block);
  if (!edited.has_value()) {
    return Status::FailedPrecondition(std::string(kPamSshd) +
                                      " has no '@include common-auth' line to put otpgate after; "
                                      "add 'auth required pam_otpgate.so' after the password "
                                      "check by hand");
  }
  return std::vector<HostChange>{
      std::move(drop_in),
      {HostChange::Kind::kEdit, kPamSshd, std::move(*edited), block},
  };
}

Result<std::vector<HostChange>> PlanRadius(const HostLayout& host) {
  const std::string raddb = kRaddbDir;
  const std::string dictionary = raddb + "/dictionary";
  OTPGATE_ASSIGN_OR_RETURN(std::string text, RequireFile(host, dictionary, "install freeradius"));
  for (const char* shipped : {"/mods-available/otpgate", "/sites-available/otpgate"}) {
    OTPGATE_RETURN_IF_ERROR(
        RequireFile(host, raddb + shipped, "install freeradius-otpgate").status());
  }
  OTPGATE_RETURN_IF_ERROR(
      RequireFile(host, kOtpgateDictionary, "install freeradius-otpgate").status());
  if (HasActiveLineWith(text, "dictionary.otpgate")) {
    return Status::AlreadyExists(dictionary +
                                 " already includes dictionary.otpgate (added by hand?): "
                                 "remove that line first");
  }
  for (const char* link : {"/mods-enabled/otpgate", "/sites-enabled/otpgate"}) {
    OTPGATE_RETURN_IF_ERROR(RequireAbsent(host, raddb + link, "remove it first"));
  }
  std::string block = std::string(text.empty() || text.back() == '\n' ? "" : "\n") +
                      "# otpgate: added by `otpgate enable radius`; `otpgate disable radius` "
                      "removes it.\n$INCLUDE " +
                      kOtpgateDictionary + "\n";
  return std::vector<HostChange>{
      {HostChange::Kind::kEdit, dictionary, text + block, block},
      {HostChange::Kind::kLink, raddb + "/mods-enabled/otpgate", "../mods-available/otpgate", ""},
      {HostChange::Kind::kLink, raddb + "/sites-enabled/otpgate", "../sites-available/otpgate", ""},
  };
}

std::string BackupPath(const HostLayout& host, HostTarget target, std::string_view part,
                       const std::string& path) {
  return host.Path(EnableBackupDir(target)) + "/" + std::string(part) + path;
}

// Writes one change to the host; the backup is already recorded.
Status Apply(const HostLayout& host, const HostChange& change) {
  const std::string path = host.Path(change.path);
  if (change.kind == HostChange::Kind::kLink) {
    if (::symlink(change.content.c_str(), path.c_str()) != 0) {
      return Status::Unavailable(Errno("cannot create the link " + change.path));
    }
    return Status::Ok();
  }
  if (change.kind == HostChange::Kind::kCreate) {
    size_t slash = path.find_last_of('/');
    OTPGATE_RETURN_IF_ERROR(MakeDirectories(path.substr(0, slash), 0755));
  }
  return WriteAtomically(path, change.content, 0644);
}

Result<std::vector<std::pair<HostChange::Kind, std::string>>> ReadManifest(const HostLayout& host,
                                                                           HostTarget target) {
  OTPGATE_ASSIGN_OR_RETURN(std::optional<std::string> text,
                           ReadIfExists(host.Path(EnableBackupDir(target)) + "/manifest"));
  if (!text.has_value()) {
    return Status::NotFound(std::string(HostTargetName(target)) + " is not enabled by otpgate");
  }
  std::vector<std::pair<HostChange::Kind, std::string>> entries;
  std::istringstream lines(*text);
  std::string kind, path;
  while (lines >> kind >> path) {
    if (kind == "create")
      entries.emplace_back(HostChange::Kind::kCreate, path);
    else if (kind == "edit")
      entries.emplace_back(HostChange::Kind::kEdit, path);
    else if (kind == "link")
      entries.emplace_back(HostChange::Kind::kLink, path);
    else
      return Status::Corrupt("unknown change '" + kind + "' in the enable manifest");
  }
  return entries;
}

// Undoes one change; appends what happened to the report.
Status Undo(const HostLayout& host, HostTarget target, HostChange::Kind kind,
            const std::string& path, DisableReport& report) {
  const std::string live = host.Path(path);
  OTPGATE_ASSIGN_OR_RETURN(std::optional<std::string> ours,
                           ReadIfExists(BackupPath(host, target, "ours", path)));
  if (kind == HostChange::Kind::kLink) {
    char target_text[4096];
    ssize_t n = ::readlink(live.c_str(), target_text, sizeof(target_text) - 1);
    if (n >= 0 && ours.has_value() && std::string(target_text, static_cast<size_t>(n)) == *ours) {
      if (::unlink(live.c_str()) != 0) return Status::Unavailable(Errno("cannot remove " + path));
      report.lines.push_back("removed the link " + path);
    } else if (n >= 0) {
      report.lines.push_back("left " + path + ": it no longer points where enable made it point");
      report.backup_kept = true;
    }
    return Status::Ok();
  }
  OTPGATE_ASSIGN_OR_RETURN(std::optional<std::string> now, ReadIfExists(live));
  if (!now.has_value()) {
    report.lines.push_back(path + " is gone already");
    return Status::Ok();
  }
  if (kind == HostChange::Kind::kCreate) {
    if (ours.has_value() && *now != *ours) {
      OTPGATE_RETURN_IF_ERROR(WriteBackupFile(BackupPath(host, target, "changed", path), *now));
      report.lines.push_back("removed " + path +
                             " (it was changed since enable; that version is "
                             "kept under " +
                             EnableBackupDir(target) + "/changed)");
      report.backup_kept = true;
    } else {
      report.lines.push_back("removed " + path);
    }
    if (::unlink(live.c_str()) != 0) return Status::Unavailable(Errno("cannot remove " + path));
    return Status::Ok();
  }
  OTPGATE_ASSIGN_OR_RETURN(std::optional<std::string> orig,
                           ReadIfExists(BackupPath(host, target, "orig", path)));
  OTPGATE_ASSIGN_OR_RETURN(std::optional<std::string> block,
                           ReadIfExists(BackupPath(host, target, "block", path)));
  if (!orig.has_value() || !block.has_value()) {
    return Status::Corrupt("the backup of " + path + " is missing from " + EnableBackupDir(target));
  }
  if (ours.has_value() && *now == *ours) {
    OTPGATE_RETURN_IF_ERROR(WriteAtomically(live, *orig, 0644));
    report.lines.push_back("restored " + path + " as it was before enable");
    return Status::Ok();
  }
  size_t at = now->find(*block);
  if (at == std::string::npos) {
    report.lines.push_back("left " + path +
                           ": the lines enable added are no longer there; the "
                           "original is kept under " +
                           EnableBackupDir(target) + "/orig");
    report.backup_kept = true;
    return Status::Ok();
  }
  now->erase(at, block->size());
  OTPGATE_RETURN_IF_ERROR(WriteAtomically(live, *now, 0644));
  report.lines.push_back("took the otpgate lines out of " + path +
                         " (other changes made since "
                         "enable stay; the original is kept under " +
                         EnableBackupDir(target) + "/orig)");
  report.backup_kept = true;
  return Status::Ok();
}

}  // namespace

std::string HostLayout::Path(std::string_view absolute) const {
  if (IsRealHost()) return std::string(absolute);
  std::string base = root;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return base + std::string(absolute);
}

Result<HostTarget> ParseHostTarget(std::string_view name) {
  if (name == "sshd") return HostTarget::kSshd;
  if (name == "radius") return HostTarget::kRadius;
  return Status::InvalidArgument("unknown target '" + std::string(name) +
                                 "': expected sshd or radius");
}

std::string_view HostTargetName(HostTarget target) {
  return target == HostTarget::kSshd ? "sshd" : "radius";
}

std::string EnableBackupDir(HostTarget target) {
  return std::string(kEnableBackupDir) + "/" + std::string(HostTargetName(target));
}

Result<std::vector<HostChange>> PlanEnable(const HostLayout& host, HostTarget target,
                                           const EnableOptions& options) {
  if (IsEnabled(host, target)) {
    return Status::FailedPrecondition(std::string(HostTargetName(target)) +
                                      " is already enabled (otpgate disable " +
                                      std::string(HostTargetName(target)) + " undoes it)");
  }
  return target == HostTarget::kSshd ? PlanSshd(host, options) : PlanRadius(host);
}

bool IsEnabled(const HostLayout& host, HostTarget target) {
  return Exists(host.Path(EnableBackupDir(target)) + "/manifest");
}

Result<std::vector<HostChange>> Enable(const HostLayout& host, HostTarget target,
                                       const EnableOptions& options) {
  OTPGATE_ASSIGN_OR_RETURN(std::vector<HostChange> changes, PlanEnable(host, target, options));
  // Copies kept by an earlier disable move aside (one generation), never lost
  // to this run.
  const std::string backup = host.Path(EnableBackupDir(target));
  if (Exists(backup)) {
    std::error_code ignored;
    fs::remove_all(backup + ".previous", ignored);
    if (::rename(backup.c_str(), (backup + ".previous").c_str()) != 0) {
      return Status::Unavailable(Errno("cannot move " + EnableBackupDir(target) + " aside"));
    }
  }
  std::string manifest;
  for (const HostChange& change : changes) {
    manifest += std::string(KindName(change.kind)) + " " + change.path + "\n";
    OTPGATE_RETURN_IF_ERROR(
        WriteBackupFile(BackupPath(host, target, "ours", change.path), change.content));
    if (change.kind == HostChange::Kind::kEdit) {
      OTPGATE_ASSIGN_OR_RETURN(std::optional<std::string> orig,
                               ReadIfExists(host.Path(change.path)));
      OTPGATE_RETURN_IF_ERROR(
          WriteBackupFile(BackupPath(host, target, "orig", change.path), orig.value_or("")));
      OTPGATE_RETURN_IF_ERROR(
          WriteBackupFile(BackupPath(host, target, "block", change.path), change.block));
    }
  }
  // The manifest last: it is what makes the target count as enabled.
  OTPGATE_RETURN_IF_ERROR(
      WriteBackupFile(host.Path(EnableBackupDir(target)) + "/manifest", manifest));
  for (size_t i = 0; i < changes.size(); ++i) {
    Status applied = Apply(host, changes[i]);
    if (!applied.ok()) {
      (void)Disable(host, target);  // undoes the changes before i; the rest are no-ops
      return applied;
    }
  }
  return changes;
}

Result<DisableReport> Disable(const HostLayout& host, HostTarget target) {
  OTPGATE_ASSIGN_OR_RETURN(auto entries, ReadManifest(host, target));
  DisableReport report;
  for (const auto& [kind, path] : entries) {
    OTPGATE_RETURN_IF_ERROR(Undo(host, target, kind, path, report));
  }
  if (!report.backup_kept) {
    std::error_code ec;
    fs::remove_all(host.Path(EnableBackupDir(target)), ec);
    if (ec) return Status::Unavailable("cannot remove " + EnableBackupDir(target));
  } else {
    // Not enabled any more, but the copies stay for the administrator.
    ::unlink((host.Path(EnableBackupDir(target)) + "/manifest").c_str());
  }
  return report;
}

}  // namespace otpgate
