// File helpers shared by the key, config and store code (private header).
#ifndef OTPGATE_SRC_FILE_UTIL_H_
#define OTPGATE_SRC_FILE_UTIL_H_

#include <sys/types.h>

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

// Opens an existing file for reading that holds secrets or policy: it must be
// a regular file (O_NOFOLLOW), owned by root or the effective user, and not
// accessible by group or others. `what` names it in errors.
Result<UniqueFd> OpenPrivateFile(const std::string& path, std::string_view what);
// The owner/mode rules of OpenPrivateFile for an open descriptor.
// `forbidden_mode` is the set of permission bits that must be clear.
Status CheckOwnerAndMode(int fd, const std::string& path, std::string_view what,
                         mode_t forbidden_mode);

ssize_t ReadFully(int fd, void* buffer, size_t size);  // -1 on error, else bytes read (<= size)
int WriteFully(int fd, const void* buffer, size_t size);  // 0 or -1
// Creates the parent directory of `path` (one level) with `mode` if missing.
Status MakeParentDirectory(const std::string& path, mode_t mode);

}  // namespace otpgate

#endif  // OTPGATE_SRC_FILE_UTIL_H_
