// SPDX-License-Identifier: GPL-2.0-or-later
//
// enable, disable: put otpgate into sshd or FreeRADIUS in one step, and take
// it out again byte for byte (host_integration.h says what changes where).
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "host_commands.h"
#include "otpgate/host_integration.h"

namespace otpgate::cli {
namespace {

struct HostArgs {
  std::string target;
  std::string root = "/";
  bool publickey = false;
  bool no_check = false;
  bool if_enabled = false;
};

std::string Describe(const HostChange& change, HostTarget target) {
  switch (change.kind) {
    case HostChange::Kind::kCreate:
      return "created " + change.path;
    case HostChange::Kind::kEdit:
      return "added otpgate to " + change.path + " (original kept in " + EnableBackupDir(target) +
             "/orig" + change.path + ")";
    case HostChange::Kind::kLink:
      return "linked " + change.path + " -> " + change.content;
  }
  return change.path;
}

std::string NextStep(HostTarget target) {
  return target == HostTarget::kSshd
             ? "reload sshd to apply: systemctl reload ssh"
             : "restart FreeRADIUS to apply: systemctl restart freeradius (the otpgate site "
               "listens on port 1645, see /etc/freeradius/3.0/sites-available/otpgate)";
}

int RunEnable(Cli& cli, const HostArgs& args) {
  auto target = ParseHostTarget(args.target);
  if (!target.ok()) return cli.Error(target.status());
  HostLayout host{args.root};
  EnableOptions options;
  options.publickey = args.publickey;
  if (options.publickey && *target != HostTarget::kSshd) {
    return cli.Error(Status::InvalidArgument("--publickey applies to sshd only"));
  }
  auto changes = Enable(host, *target, options);
  if (!changes.ok()) return cli.Error(changes.status());
  // The host's own parser has the last word; a refusal undoes everything.
  if (host.IsRealHost() && !args.no_check) {
    Status checked = CheckWithHostParser(*target);
    if (!checked.ok()) {
      (void)Disable(host, *target);
      return cli.Error(Status(checked.code(), checked.message() + "; nothing was changed"));
    }
  }
  for (const HostChange& change : *changes) std::cout << Describe(change, *target) << "\n";
  if (*target == HostTarget::kSshd &&
      std::none_of(changes->begin(), changes->end(),
                   [](const HostChange& c) { return c.path == kPamSshd; })) {
    std::cout << kPamSshd
              << " unchanged: common-auth requires the one-time password already "
                 "(pam-auth-update's otpgate profile); ssh follows that profile: disabled, ssh "
                 "logins go without a code (otpgate doctor reports it)\n";
  }
  std::cout << HostTargetName(*target) << ": enabled; " << NextStep(*target) << "\n";
  return 0;
}

int RunDisable(Cli& cli, const HostArgs& args) {
  auto target = ParseHostTarget(args.target);
  if (!target.ok()) return cli.Error(target.status());
  HostLayout host{args.root};
  if (args.if_enabled && !IsEnabled(host, *target)) return 0;
  auto report = Disable(host, *target);
  if (!report.ok()) return cli.Error(report.status());
  for (const std::string& line : report->lines) std::cout << line << "\n";
  std::cout << HostTargetName(*target) << ": disabled";
  if (report->backup_kept) std::cout << "; copies kept in " << EnableBackupDir(*target);
  std::cout << "\n";
  return 0;
}

CLI::App* AddTarget(CLI::App* sub, HostArgs& args) {
  sub->add_option("target", args.target, "sshd or radius")->required();
  sub->add_option("--root", args.root, "apply to the tree under DIR instead of / (tests)");
  return sub;
}

}  // namespace

void AddEnableCommands(CLI::App& app, Cli& cli) {
  static HostArgs args;
  auto* enable = AddTarget(
      app.add_subcommand("enable", "make sshd or FreeRADIUS ask for the one-time password"), args);
  enable->add_flag("--publickey", args.publickey,
                   "sshd: public key, then the code (instead of password, then the code)");
  enable->add_flag("--no-check", args.no_check,
                   "skip the check with sshd -t / freeradius -XC afterwards");
  cli.Run(
      enable, [&cli] { return RunEnable(cli, args); }, false);

  auto* disable = AddTarget(
      app.add_subcommand("disable", "undo otpgate enable: restore the files it changed"), args);
  disable->add_flag("--if-enabled", args.if_enabled,
                    "do nothing (exit 0) when the target is not enabled");
  cli.Run(
      disable, [&cli] { return RunDisable(cli, args); }, false);
}

}  // namespace otpgate::cli
