#include "file_util.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <mutex>
#include <vector>

namespace otpgate {
namespace {

// The permission bits each role may have in each model.
struct RoleRule {
  mode_t private_allowed;  // model (a): owner bits only
  mode_t group_allowed;    // model (b): with group `otpgate`
  const char* private_mode;
  const char* group_mode;
};

RoleRule RuleFor(FileRole role) {
  switch (role) {
    case FileRole::kSecret:
      return {0700, 0740, "0600", "0640"};
    case FileRole::kPolicy:
      return {0755, 0755, "0644", "0640"};
    case FileRole::kStoreDirectory:
      return {02700, 02770, "0700", "2770"};
    case FileRole::kStoreFile:
      return {0700, 0760, "0600", "0660"};
  }
  return {0700, 0700, "0600", "0600"};
}

std::string ModeString(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// The exact commands that put `path` into either model.
std::string FixFor(const std::string& path, FileRole role) {
  RoleRule rule = RuleFor(role);
  return std::string("run 'chown root:root ") + path + " && chmod " + rule.private_mode + " " +
         path + "' (root only) or 'chown root:" + kAccessGroupName + " " + path + " && chmod " +
         rule.group_mode + " " + path + "' (shared with the " + kAccessGroupName + " group)";
}

}  // namespace

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

// A lookup goes through NSS (about 150,000 instructions with "files
// systemd"), and opening a store checks nine files: in a process per login
// that was 14-23% of the instructions the module added (callgrind). A gid found is reused for
// a second, so that one open looks it up once while a long-lived process
// still sees the group removed or renumbered; "no such group" is not reused.
std::optional<gid_t> AccessGroupId() {
  using Clock = std::chrono::steady_clock;
  constexpr Clock::duration kReuseFor = std::chrono::seconds(1);
  static std::mutex mutex;
  static std::optional<gid_t> found_gid;
  static Clock::time_point found_at;
  std::lock_guard<std::mutex> lock(mutex);
  const Clock::time_point now = Clock::now();
  if (found_gid.has_value() && now - found_at < kReuseFor) return found_gid;
  struct group entry;
  struct group* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getgrnam_r(kAccessGroupName, &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    found_gid.reset();
    return std::nullopt;
  }
  found_gid = found->gr_gid;
  found_at = now;
  return found_gid;
}

bool InGroupModel(const struct stat& st) {
  if ((st.st_mode & 070) == 0) return false;  // no group access: no lookup needed
  std::optional<gid_t> group = AccessGroupId();
  return group.has_value() && st.st_gid == *group;
}

Status CheckAccess(const struct stat& st, const std::string& path, std::string_view what,
                   FileRole role) {
  std::string name = std::string(what) + " " + path;
  bool want_dir = role == FileRole::kStoreDirectory;
  if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
    return Status::PermissionDenied(name +
                                    (want_dir ? " is not a directory" : " is not a regular file"));
  }
  RoleRule rule = RuleFor(role);
  mode_t mode = st.st_mode & 07777;
  bool group_model = InGroupModel(st);
  // A store file in the group model may belong to any member (FreeRADIUS
  // recreates lock.mdb as freerad): its owner can do no more than the group.
  bool any_owner = group_model && role == FileRole::kStoreFile;
  if (st.st_uid != 0 && st.st_uid != ::geteuid() && !any_owner) {
    return Status::PermissionDenied(
        name + " must be owned by root (or the user running otpgate): " + FixFor(path, role));
  }
  mode_t allowed = group_model ? rule.group_allowed : rule.private_allowed;
  if ((mode & ~allowed) != 0) {
    std::string why = group_model
                          ? "others must have no access and the " + std::string(kAccessGroupName) +
                                " group at most " + rule.group_mode
                          : "group and others must have no access";
    return Status::PermissionDenied(name + " has mode " + ModeString(mode) + ": " + why + "; " +
                                    FixFor(path, role));
  }
  return Status::Ok();
}

Status CheckAccess(int fd, const std::string& path, std::string_view what, FileRole role) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Status::Unavailable(std::string(what) + " " + path + ": " + std::strerror(errno));
  }
  return CheckAccess(st, path, what, role);
}

Status CheckPathIsSafe(const std::string& path, std::string_view what) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    return Status::PermissionDenied(std::string(what) + " " + path +
                                    " is a symbolic link; give the real path");
  }
  char resolved[PATH_MAX];
  size_t slash = path.find_last_of('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (::realpath(parent.c_str(), resolved) == nullptr) {
    return Status::Unavailable(std::string(what) + " " + path + ": " + std::strerror(errno));
  }
  // Walk up from the resolved parent to "/".
  std::string dir = resolved;
  while (true) {
    if (::lstat(dir.c_str(), &st) != 0) {
      return Status::Unavailable(std::string(what) + " " + path + ": " + dir + ": " +
                                 std::strerror(errno));
    }
    bool others_write = (st.st_mode & 022) != 0;
    if ((st.st_uid != 0 && st.st_uid != ::geteuid()) ||
        (others_write && (st.st_mode & S_ISVTX) == 0 && !InGroupModel(st))) {
      return Status::PermissionDenied(std::string(what) + " " + path + ": directory " + dir +
                                      " could be replaced by another user (owner " +
                                      std::to_string(st.st_uid) + ", mode " +
                                      ModeString(st.st_mode) +
                                      "); keep otpgate's files under directories owned by root "
                                      "and not writable by others");
    }
    if (dir == "/") break;
    slash = dir.find_last_of('/');
    dir = slash == 0 ? "/" : dir.substr(0, slash);
  }
  return Status::Ok();
}

Result<UniqueFd> OpenCheckedFile(const std::string& path, std::string_view what, FileRole role,
                                 size_t max_bytes) {
  OTPGATE_RETURN_IF_ERROR(CheckPathIsSafe(path, what));
  // O_NONBLOCK: opening a FIFO must not wait for a writer; reading a regular
  // file ignores the flag.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    int saved = errno;
    if (saved == ELOOP) {
      return Status::PermissionDenied(std::string(what) + " " + path + " is a symbolic link");
    }
    if (saved == EACCES || saved == EPERM) {
      return Status::Unavailable(std::string(what) + " " + path +
                                 " is not readable by this process (otpgate needs root or "
                                 "membership of the " +
                                 kAccessGroupName + " group)");
    }
    return Status::Unavailable(std::string(what) + " " + path + ": " + std::strerror(saved));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return Status::Unavailable(std::string(what) + " " + path + ": " + std::strerror(errno));
  }
  OTPGATE_RETURN_IF_ERROR(CheckAccess(st, path, what, role));
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    return Status::InvalidArgument(std::string(what) + " " + path + " is larger than " +
                                   std::to_string(max_bytes / 1024) + " KiB");
  }
  return fd;
}

Result<UniqueFd> OpenPrivateFile(const std::string& path, std::string_view what) {
  return OpenCheckedFile(path, what, FileRole::kSecret, 64 * 1024);
}

ssize_t ReadFully(int fd, void* buffer, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, static_cast<char*>(buffer) + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

int WriteFully(int fd, const void* buffer, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, static_cast<const char*>(buffer) + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    done += static_cast<size_t>(n);
  }
  return 0;
}

Status MakeParentDirectory(const std::string& path, mode_t mode) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) {
    return Status::Ok();
  }
  std::string parent = path.substr(0, slash);
  if (::mkdir(parent.c_str(), mode) != 0 && errno != EEXIST) {
    return Status::Unavailable("cannot create directory " + parent + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace otpgate
