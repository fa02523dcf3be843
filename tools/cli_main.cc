// otpgate: the administrator's command line, on the same core API as the
// PAM and FreeRADIUS modules. Global options here; each command group in its
// own cmd_*.cc (commands.h); exit codes in cli.h.
#include "cli_main.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "cli.h"
#include "commands.h"

namespace otpgate::cli {

int CliMain(int argc, char** argv, const Clock& clock) {
  Globals g;
  CLI::App app{"otpgate: one-time password second factor for PAM and RADIUS"};
  app.set_version_flag("--version", "otpgate 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand
  app.add_option_function<std::string>(
      "-c,--config",
      [&](const std::string& v) {
        g.config_path = v;
        g.config_given = true;
      },
      "configuration file (default /etc/otpgate/otpgate.conf)");
  app.add_option("--store", g.store, "store directory (overrides the config file)");
  app.add_option("--master-key", g.master_key, "master key file (overrides the config file)");
  app.add_option("-o,--option", g.options, "set any config option: -o name=value");
  app.add_flag("--json", g.json, "machine-readable output");

  Cli cli(g, clock);
  AddSetupCommands(app, cli);
  AddTokenCommands(app, cli);
  AddFlowCommands(app, cli);
  AddAdminCommands(app, cli);
  AddCodeCommand(app, cli);
  AddEnableCommands(app, cli);
  AddDoctorCommand(app, cli);
  AddAuditCommand(app, cli);
  AddBackupCommands(app, cli);
  AddMigrateCommands(app, cli);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A first word that is no command: say so, not "a subcommand is required".
    std::vector<std::string> rest = app.remaining();
    if (app.get_subcommands().empty() && !rest.empty() && rest.front().front() != '-') {
      std::cerr << "otpgate: unknown command '" << rest.front() << "' (see otpgate --help)\n";
      return kExitUsage;
    }
    app.exit(e);
    return kExitUsage;
  }
  return cli.exit_code();
}

}  // namespace otpgate::cli
