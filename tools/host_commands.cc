// SPDX-License-Identifier: GPL-2.0-or-later
#include "host_commands.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace otpgate::cli {
namespace {

const char* ParserPath(HostTarget target) {
  return target == HostTarget::kSshd ? "/usr/sbin/sshd" : "/usr/sbin/freeradius";
}

const char* ParserCommand(HostTarget target) {
  return target == HostTarget::kSshd ? "/usr/sbin/sshd -t" : "/usr/sbin/freeradius -XC";
}

// The last `lines` lines of text.
std::string Tail(const std::string& text, int lines) {
  size_t at = text.size();
  for (int seen = 0; at > 0 && seen <= lines; --at) {
    if (text[at - 1] == '\n') ++seen;
  }
  return text.substr(at);
}

}  // namespace

bool HostParserInstalled(HostTarget target) { return ::access(ParserPath(target), X_OK) == 0; }

Status CheckWithHostParser(HostTarget target) {
  if (!HostParserInstalled(target)) return Status::Ok();
  // A fixed command line: nothing from the user reaches the shell.
  FILE* pipe = ::popen((std::string(ParserCommand(target)) + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return Status::Internal(std::string("cannot run ") + ParserPath(target));
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  int status = ::pclose(pipe);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  return Status::FailedPrecondition(std::string(ParserCommand(target)) +
                                    " refuses the configuration:\n" + Tail(output, 8));
}

}  // namespace otpgate::cli
