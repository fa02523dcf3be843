// File helpers shared by the key, config and store code (private header).
//
// The access model (README "File permissions"): otpgate's files are either
//  (a) private to root: owner root (or the user running otpgate), no group or
//      other access; or
//  (b) shared with the `otpgate` group, so that FreeRADIUS (user freerad, a
//      member of that group) and root use one store: owner root, group
//      otpgate, group read for the key, group read+write for the store
//      directory (0770 or 2770) and its files (0660), no access for others.
// Anything looser is refused with a message naming the exact chmod/chown.
// The config file is policy, not a secret: it may also be readable by
// others, but never writable by anyone but its owner.
#ifndef OTPGATE_SRC_FILE_UTIL_H_
#define OTPGATE_SRC_FILE_UTIL_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "otpgate/status.h"

namespace otpgate {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// The group of access model (b).
inline constexpr const char* kAccessGroupName = "otpgate";

// What a file is for decides the modes it may have (see the model above).
enum class FileRole {
  kSecret,          // master key, transport keys: 0600/0400, or 0640/0440 root:otpgate
  kPolicy,          // config file: not writable by group or others
  kStoreDirectory,  // 0700, or 0770/2770 root:otpgate
  kStoreFile,       // data.mdb, lock.mdb: 0600, or 0660 root:otpgate
};

// The gid of the `otpgate` group, if the host has one. A gid found is
// reused for up to a second (thread-safe).
std::optional<gid_t> AccessGroupId();
// True if `st` (a store directory) is in the shared model (b).
bool InGroupModel(const struct stat& st);

// Checks owner, type and mode of an open file or directory against `role`.
// `what` names it in errors. kPermissionDenied with the exact fix.
Status CheckAccess(int fd, const std::string& path, std::string_view what, FileRole role);
Status CheckAccess(const struct stat& st, const std::string& path, std::string_view what,
                   FileRole role);

// Refuses a path whose last component is a symbolic link, and one with an
// ancestor directory another user could swap: each directory on the way must
// be owned by root or by this user and, if group- or world-writable, sticky.
Status CheckPathIsSafe(const std::string& path, std::string_view what);

// Opens an existing regular file for reading, never blocking (a FIFO or a
// device is refused, not read) and never following a symbolic link, checks
// it against `role` and that it is at most `max_bytes` long.
Result<UniqueFd> OpenCheckedFile(const std::string& path, std::string_view what, FileRole role,
                                 size_t max_bytes);
// OpenCheckedFile for a secret of at most 64 KiB.
Result<UniqueFd> OpenPrivateFile(const std::string& path, std::string_view what);

ssize_t ReadFully(int fd, void* buffer, size_t size);     // -1 on error, else bytes read (<= size)
int WriteFully(int fd, const void* buffer, size_t size);  // 0 or -1
// Creates the parent directory of `path` (one level) with `mode` if missing.
Status MakeParentDirectory(const std::string& path, mode_t mode);

}  // namespace otpgate

#endif  // OTPGATE_SRC_FILE_UTIL_H_
