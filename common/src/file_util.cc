#include "file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace otpgate {

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

Status CheckOwnerAndMode(int fd, const std::string& path, std::string_view what,
                         mode_t forbidden_mode) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Status::Unavailable(std::string(what) + " " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    return Status::PermissionDenied(std::string(what) + " " + path + " is not a regular file");
  }
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return Status::PermissionDenied(std::string(what) + " " + path +
                                    " must be owned by root or by the user running otpgate");
  }
  if ((st.st_mode & forbidden_mode) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::PermissionDenied(std::string(what) + " " + path + " has mode " + mode +
                                    ": group and others must have no access (chmod " +
                                    (S_ISDIR(st.st_mode) ? "0700" : "0600") + ")");
  }
  return Status::Ok();
}

Result<UniqueFd> OpenPrivateFile(const std::string& path, std::string_view what) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    int saved = errno;
    if (saved == ELOOP) {
      return Status::PermissionDenied(std::string(what) + " " + path + " is a symbolic link");
    }
    if (saved == EACCES || saved == EPERM) {
      return Status::Unavailable(std::string(what) + " " + path +
                                 " is not readable by this process (otpgate needs root)");
    }
    return Status::Unavailable(std::string(what) + " " + path + ": " + std::strerror(saved));
  }
  OTPGATE_RETURN_IF_ERROR(CheckOwnerAndMode(fd.get(), path, what, 077));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::PermissionDenied(std::string(what) + " " + path + " is not a regular file");
  }
  return fd;
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
