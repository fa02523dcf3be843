// SPDX-License-Identifier: GPL-2.0-or-later
//
// A throwaway host tree with the Debian 12 files otpgate enable/doctor read:
// sshd_config with its drop-in Include, the stock /etc/pam.d/sshd head, and
// FreeRADIUS 3.0's dictionary, module/site directories and our shipped files.
#ifndef OTPGATE_TESTS_HOST_TREE_H_
#define OTPGATE_TESTS_HOST_TREE_H_

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "otpgate/host_integration.h"
#include "test_util.h"

namespace otpgate::testing {

class HostTree {
 public:
  HostTree() {
    Write("/etc/ssh/sshd_config",
          "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n");
    std::filesystem::create_directories(Path("/etc/ssh/sshd_config.d"));
    Write("/etc/pam.d/sshd",
          "# PAM configuration for the Secure Shell service\n\n"
          "# Standard Un*x authentication.\n@include common-auth\n\n"
          "account    required     pam_nologin.so\n@include common-account\n");
    Write("/etc/pam.d/common-auth",
          "auth [success=1 default=ignore] pam_unix.so nullok\n"
          "auth requisite pam_deny.so\nauth required pam_permit.so\n");
    Write("/etc/freeradius/3.0/dictionary", "#\n# local dictionary\n#\n");
    Write("/etc/freeradius/3.0/mods-available/otpgate", "otpgate {\n}\n");
    Write("/etc/freeradius/3.0/sites-available/otpgate", "server otpgate {\n}\n");
    std::filesystem::create_directories(Path("/etc/freeradius/3.0/mods-enabled"));
    std::filesystem::create_directories(Path("/etc/freeradius/3.0/sites-enabled"));
    Write("/usr/share/freeradius/dictionary.otpgate", "VENDOR otpgate 32473\n");
  }

  const HostLayout& host() const { return host_; }
  std::string Path(const std::string& absolute) const { return host_.Path(absolute); }

  void Write(const std::string& absolute, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(Path(absolute)).parent_path());
    std::ofstream(Path(absolute), std::ios::binary | std::ios::trunc) << text;
  }
  std::string Read(const std::string& absolute) const {
    std::ifstream in(Path(absolute), std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }
  bool Exists(const std::string& absolute) const {
    struct stat st;
    return ::lstat(Path(absolute).c_str(), &st) == 0;
  }
  int Mode(const std::string& absolute) const {
    struct stat st;
    return ::stat(Path(absolute).c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
  }
  std::string LinkTarget(const std::string& absolute) const {
    char buffer[4096];
    ssize_t n = ::readlink(Path(absolute).c_str(), buffer, sizeof(buffer));
    return n < 0 ? "" : std::string(buffer, static_cast<size_t>(n));
  }

 private:
  TempDir dir_;
  HostLayout host_{dir_.path()};
};

}  // namespace otpgate::testing

#endif  // OTPGATE_TESTS_HOST_TREE_H_
