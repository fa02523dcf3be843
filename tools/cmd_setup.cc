// init, config, selftest: commands about the installation itself.
#include "commands.h"
#include "otpgate/self_test.h"

namespace otpgate::cli {

void AddSetupCommands(CLI::App& app, Cli& cli) {
  auto* init = app.add_subcommand("init", "create the master key and the store (idempotent)");
  cli.Run(
      init,
      [&cli] {
        Status status = cli.LoadConfig();
        if (status.ok()) status = InitializeDeployment(cli.config());
        return cli.Done(status, "initialised " + cli.config().store);
      },
      false);

  auto* selftest =
      app.add_subcommand("selftest", "check this build against the RFC 4226/6238 vectors");
  cli.Run(
      selftest,
      [&cli] {
        return cli.Done(RunSelfTest(), "RFC 4226 and RFC 6238 vectors, base32, AES-256-GCM: ok");
      },
      false);

  auto* config_cmd = app.add_subcommand("config", "print the effective configuration");
  cli.Run(
      config_cmd,
      [&cli] {
        Status status = cli.LoadConfig();
        if (!status.ok()) return cli.Error(status);
        Fields f;
        for (const OptionSpec& spec : OptionTable())
          f.Add(spec.name, OptionValue(cli.config(), spec.name));
        return cli.Print(f, 0);
      },
      false);
}

}  // namespace otpgate::cli
