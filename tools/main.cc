// otpgate: the administrator's command line, on the same core API as the
// PAM and FreeRADIUS modules. Global options here; each command group in its
// own cmd_*.cc (commands.h); exit codes in cli.h.
#include <sys/prctl.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "cli.h"
#include "commands.h"

namespace otpgate::cli {

constexpr int64_t kMaxTime = 253402300799;  // 9999-12-31T23:59:59Z

int Main(int argc, char** argv) {
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
  app.add_option("--time", g.time, "evaluate at this Unix time instead of now")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            ParsedTime t = ParseTime(value);
            return t.ok && t.value <= kMaxTime
                       ? ""
                       : "must be a Unix time from 0 to " + std::to_string(kMaxTime);
          },
          "TIME"));

  Cli cli(g);
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

int main(int argc, char** argv) {
  // The CLI holds the master key and token secrets: it never writes a core
  // file (and, not dumpable, cannot be ptraced by another process of the
  // same user). The modules leave this to their hosts (docs/security.md).
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  try {
    return otpgate::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "otpgate: " << e.what() << "\n";
    return 21;
  }
}
