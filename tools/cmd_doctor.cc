// SPDX-License-Identifier: GPL-2.0-or-later
//
// doctor: does this host's otpgate installation work, for root (PAM, the
// CLI) and for the FreeRADIUS user? Each problem is printed with its fix;
// exit 0 only when there is none, 1 otherwise.
#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <vector>

#include "commands.h"
#include "host_commands.h"
#include "otpgate/host_check.h"
#include "otpgate/store.h"

#ifndef OTPGATE_PAM_MODULE_DIR
#error "OTPGATE_PAM_MODULE_DIR: where libpam loads pam_otpgate.so from"
#endif
#ifndef OTPGATE_RADIUS_MODULE_DIR
#error "OTPGATE_RADIUS_MODULE_DIR: where FreeRADIUS loads rlm_otpgate.so from"
#endif

namespace otpgate::cli {
namespace {

constexpr const char* kRadiusUser = "freerad";

struct DoctorArgs {
  std::string root = "/";
};

class Findings {
 public:
  void Ok(const std::string& what) { std::cout << "ok: " << what << "\n"; }
  void Problem(const HostProblem& p) {
    ++problems_;
    std::cout << "problem: " << p.what << "\n  fix: " << p.fix << "\n";
  }
  void Check(const Status& status, const std::string& what, const std::string& fix) {
    if (status.ok()) {
      Ok(what);
    } else {
      Problem({what + ": " + status.message(), fix});
    }
  }
  int problems() const { return problems_; }

 private:
  int problems_ = 0;
};

// The config as the host's programs see it, with its paths under the root.
Result<Config> HostConfig(const Globals& g, const HostLayout& host) {
  Config config;
  OTPGATE_RETURN_IF_ERROR(LoadConfigFile(config, host.Path(g.config_path), !g.config_given));
  if (!g.store.empty()) config.store = g.store;
  if (!g.master_key.empty()) config.master_key = g.master_key;
  for (const std::string& option : g.options)
    OTPGATE_RETURN_IF_ERROR(ApplyArgument(config, option));
  // A PostgreSQL location names a server, not a file under the root.
  if (!IsPostgresLocation(config.store)) config.store = host.Path(config.store);
  config.master_key = host.Path(config.master_key);
  return config;
}

Status OpenAsThisProcess(const Config& config, const Clock& clock) {
  auto service = OtpService::Open(config, clock);
  return service.ok() ? Status::Ok() : service.status();
}

// Opens the store with the key and store as `user` does: in a child that
// takes the user's uid, gid and groups. The child's message comes back
// through a pipe.
Status OpenAs(const struct passwd& user, const Config& config, const Clock& clock) {
  int fds[2];
  if (::pipe(fds) != 0) return Status::Internal("pipe failed");
  pid_t child = ::fork();
  if (child < 0) return Status::Internal("fork failed");
  if (child == 0) {
    ::close(fds[0]);
    Status status = Status::Internal("cannot switch to user " + std::string(user.pw_name));
    if (::initgroups(user.pw_name, user.pw_gid) == 0 && ::setgid(user.pw_gid) == 0 &&
        ::setuid(user.pw_uid) == 0) {
      status = OpenAsThisProcess(config, clock);
    }
    std::string message = status.ok() ? "" : status.message();
    (void)!::write(fds[1], message.data(), message.size());
    ::_exit(status.ok() ? 0 : 10 + static_cast<int>(status.code()));
  }
  ::close(fds[1]);
  std::string message;
  char buffer[1024];
  ssize_t n;
  while ((n = ::read(fds[0], buffer, sizeof(buffer))) > 0) message.append(buffer, n);
  ::close(fds[0]);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return Status::Ok();
  int code =
      WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) - 10 : static_cast<int>(StatusCode::kInternal);
  return Status(static_cast<StatusCode>(code), message);
}

bool InGroup(const struct passwd& user, const char* group_name) {
  struct group* group = ::getgrnam(group_name);
  if (group == nullptr) return false;
  if (user.pw_gid == group->gr_gid) return true;
  for (char** member = group->gr_mem; *member != nullptr; ++member) {
    if (std::string(*member) == user.pw_name) return true;
  }
  return false;
}

void CheckFiles(Findings& findings, const Config& config, const Clock& clock,
                const HostLayout& host) {
  findings.Check(OpenAsThisProcess(config, clock),
                 "config, key " + config.master_key + " and store " + config.store + " for root",
                 IsPostgresLocation(config.store)
                     ? "as the message says: start the PostgreSQL server or make it reachable; "
                       "otpgate init creates a missing key and the tables"
                     : "as the message says; otpgate init creates a missing key and store");
  struct passwd* radius_user = ::getpwnam(kRadiusUser);
  bool radius_installed =
      ::access(host.Path(std::string(OTPGATE_RADIUS_MODULE_DIR) + "/rlm_otpgate.so").c_str(),
               F_OK) == 0;
  if (radius_user == nullptr || (!radius_installed && !RadiusModuleEnabled(host))) return;
  struct passwd user = *radius_user;
  std::string fix = InGroup(user, "otpgate")
                        ? "as the message says (shared model: key root:otpgate 0640, store "
                          "directory root:otpgate 2770, its files 0660)"
                        : "adduser freerad otpgate (freeradius-otpgate's postinst does), then "
                          "restart FreeRADIUS";
  findings.Check(OpenAs(user, config, clock),
                 "key and store for the FreeRADIUS user " + std::string(kRadiusUser), fix);
}

int RunDoctor(Cli& cli, const DoctorArgs& args) {
  HostLayout host{args.root};
  Findings findings;
  auto config = HostConfig(cli.globals(), host);
  if (!config.ok()) {
    findings.Problem(
        {"configuration " + host.Path(cli.globals().config_path) + ": " + config.status().message(),
         "correct it; otpgate.conf(5) lists the options"});
  } else {
    CheckFiles(findings, *config, cli.clock(), host);
  }
  for (const auto& problems : {CheckPamStacks(host, OTPGATE_PAM_MODULE_DIR), CheckSshd(host),
                               CheckRadius(host, OTPGATE_RADIUS_MODULE_DIR)}) {
    for (const HostProblem& p : problems) findings.Problem(p);
  }
  if (host.IsRealHost()) {
    if (IsEnabled(host, HostTarget::kSshd) && HostParserInstalled(HostTarget::kSshd)) {
      findings.Check(CheckWithHostParser(HostTarget::kSshd), "sshd -t",
                     "correct /etc/ssh/sshd_config or otpgate disable sshd");
    }
    if (RadiusModuleEnabled(host) && HostParserInstalled(HostTarget::kRadius)) {
      findings.Check(CheckWithHostParser(HostTarget::kRadius), "freeradius -XC",
                     "correct what it names, or otpgate disable radius");
    }
  }
  std::cout << (findings.problems() == 0
                    ? "otpgate doctor: no problems\n"
                    : "otpgate doctor: " + std::to_string(findings.problems()) + " problem(s)\n");
  return findings.problems() == 0 ? 0 : 1;
}

}  // namespace

void AddDoctorCommand(CLI::App& app, Cli& cli) {
  static DoctorArgs args;
  auto* doctor = app.add_subcommand(
      "doctor", "check files, modes, modules and enabled stacks; print each problem's fix");
  doctor->add_option("--root", args.root, "check the tree under DIR instead of / (tests)");
  cli.Run(
      doctor, [&cli] { return RunDoctor(cli, args); }, false);
}

}  // namespace otpgate::cli
