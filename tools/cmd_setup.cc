// init, config, selftest: commands about the installation itself.
#include <sys/stat.h>

#include "commands.h"
#include "otpgate/self_test.h"

namespace otpgate::cli {
namespace {

// The files read, then every option with its JSON type (numbers as numbers,
// booleans as booleans, an empty value as null).
Fields ConfigFields(const Cli& cli) {
  Fields f;
  struct stat st;
  const std::string& path = cli.globals().config_path;
  const bool read = ::stat(path.c_str(), &st) == 0;
  f.AddRaw("config_files", read ? "[" + JsonEscape(path) + "]" : "[]",
           read ? path : "none (" + path + " is absent: built-in defaults)");
  for (const OptionSpec& spec : OptionTable()) {
    std::string value = OptionValue(cli.config(), spec.name);
    if (value.empty()) {
      f.AddOptional(spec.name, value);
    } else if (spec.type == OptionType::kInt) {
      f.AddRaw(spec.name, value, value);
    } else if (spec.type == OptionType::kBool) {
      f.AddRaw(spec.name, value == "true" || value == "yes" || value == "1" ? "true" : "false",
               value);
    } else {
      f.Add(spec.name, value);
    }
  }
  return f;
}

}  // namespace

void AddSetupCommands(CLI::App& app, Cli& cli) {
  auto* init = app.add_subcommand("init", "create the master key and the store (idempotent)");
  cli.Run(
      init,
      [&cli] {
        Status status = cli.LoadConfig();
        bool changed = false;
        if (status.ok()) status = InitializeDeployment(cli.config(), &changed);
        return cli.Done(status, (changed ? "initialised " : "already initialised: nothing changed in ") +
                                    cli.config().store);
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
        Fields f = ConfigFields(cli);
        return cli.Print(f, 0);
      },
      false);
}

}  // namespace otpgate::cli
