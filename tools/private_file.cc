#include "private_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "otpgate/secret.h"
#include "qr.h"

namespace otpgate::cli {

Status WritePrivateFile(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Unavailable("cannot create " + path + ": " + std::strerror(errno));
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  ok = ::fsync(fd) == 0 && ok;  // a backup's key and manifest must be on disk when it says so
  ok = ::close(fd) == 0 && ok;
  return ok ? Status::Ok() : Status::Unavailable("cannot write " + path);
}

Status WriteQrFiles(const QrFiles& files, const std::string& uri) {
  if (!files.png.empty()) {
    OTPGATE_ASSIGN_OR_RETURN(std::string png, RenderQrPng(uri));
    Status written = WritePrivateFile(files.png, png);
    WipeString(png);
    OTPGATE_RETURN_IF_ERROR(written);
  }
  if (!files.svg.empty()) {
    OTPGATE_ASSIGN_OR_RETURN(std::string svg, RenderQrSvg(uri));
    Status written = WritePrivateFile(files.svg, svg);
    WipeString(svg);
    OTPGATE_RETURN_IF_ERROR(written);
  }
  return Status::Ok();
}

}  // namespace otpgate::cli
