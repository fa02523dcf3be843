// The CLI's command groups, one file each; cli_main.cc registers them all.
#ifndef OTPGATE_TOOLS_COMMANDS_H_
#define OTPGATE_TOOLS_COMMANDS_H_

#include <CLI/CLI.hpp>

#include "cli.h"

namespace otpgate::cli {

void AddSetupCommands(CLI::App& app, Cli& cli);   // init, config, selftest (cmd_setup.cc)
void AddTokenCommands(CLI::App& app, Cli& cli);   // token new, token import (cmd_token.cc)
void AddFlowCommands(CLI::App& app, Cli& cli);    // register, verify, stop, resync (cmd_flows.cc)
void AddAdminCommands(CLI::App& app, Cli& cli);   // unlock ... assign, show, list (cmd_admin.cc)
void AddCodeCommand(CLI::App& app, Cli& cli);     // code (cmd_code.cc)
void AddEnableCommands(CLI::App& app, Cli& cli);  // enable, disable (cmd_enable.cc)
void AddDoctorCommand(CLI::App& app, Cli& cli);   // doctor (cmd_doctor.cc)
void AddAuditCommand(CLI::App& app, Cli& cli);    // audit (cmd_audit.cc)
void AddBackupCommands(CLI::App& app, Cli& cli);  // backup, restore (cmd_backup.cc)
void AddMigrateCommands(CLI::App& app,
                        Cli& cli);  // migrate google-authenticator, pam-oath (cmd_migrate.cc)

}  // namespace otpgate::cli

#endif  // OTPGATE_TOOLS_COMMANDS_H_
