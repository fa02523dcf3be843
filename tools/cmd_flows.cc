// The bank's flows from the command line: register, verify, stop; resync.
#include <memory>
#include <string>

#include "commands.h"

namespace otpgate::cli {
namespace {

struct FlowArgs {
  std::string user, credential_id, code, code2;
};

}  // namespace

void AddFlowCommands(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<FlowArgs>();

  auto* reg = app.add_subcommand("register", "bind a token to a user with its current code");
  reg->add_option("user", a->user)->required();
  reg->add_option("credential_id", a->credential_id)->required();
  reg->add_option("code", a->code)->required();
  cli.Run(reg, [&cli, a] {
    return cli.ReportVerdict(cli.service().Register(a->user, a->credential_id, a->code),
                             "registration complete");
  });

  auto* verify = app.add_subcommand("verify", "check a user's code (consumes it)");
  verify->add_option("user", a->user)->required();
  verify->add_option("code", a->code)->required();
  cli.Run(verify, [&cli, a] {
    return cli.ReportVerdict(cli.service().Verify(a->user, a->code), "login accepted");
  });

  auto* stop = app.add_subcommand("stop", "unbind the user's token with its current code");
  stop->add_option("user", a->user)->required();
  stop->add_option("code", a->code)->required();
  cli.Run(stop, [&cli, a] {
    return cli.ReportVerdict(cli.service().Stop(a->user, a->code), "one-time password stopped");
  });

  auto* resync = app.add_subcommand("resync", "re-anchor a token from two consecutive codes");
  resync->add_option("credential_id", a->credential_id)->required();
  resync->add_option("code1", a->code)->required();
  resync->add_option("code2", a->code2)->required();
  cli.Run(resync, [&cli, a] {
    return cli.ReportVerdict(cli.service().Resync(a->credential_id, a->code, a->code2),
                             "resynchronised");
  });
}

}  // namespace otpgate::cli
