// `otpgate code`: a software token on the command line; prints the code of a
// key URI or of a stored token.
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "otpgate/otpauth_uri.h"
#include "otpgate/secret.h"

namespace otpgate::cli {
namespace {

struct CodeArgs {
  std::string uri, credential_id;
  uint64_t counter = 0;
  bool counter_given = false;
  bool next_step = false, quiet = false;
  int64_t drift_seconds = 0;  // a stored TOTP token's clock offset
  AsOf as_of;
};

// The key of --uri or of the stored token --id.
Result<KeyUri> LoadKey(Cli& cli, CodeArgs& a) {
  if (!a.uri.empty()) {
    auto parsed = ParseKeyUri(a.uri);
    WipeString(a.uri);
    return parsed;
  }
  if (a.credential_id.empty()) return Status::InvalidArgument("give --uri or --id");
  OTPGATE_RETURN_IF_ERROR(cli.OpenStore());  // the config is loaded by the caller
  OTPGATE_ASSIGN_OR_RETURN(TokenInfo info, cli.service().Show(a.credential_id));
  OTPGATE_ASSIGN_OR_RETURN(SecretBytes secret, cli.service().RevealSecret(a.credential_id));
  KeyUri key;
  key.params = info.params;
  key.secret = std::move(secret);
  // The code the token itself shows now: its next counter, or its T0,
  // period and known clock drift.
  if (info.params.kind == OtpKind::kHotp) {
    key.counter = static_cast<uint64_t>(info.last_accepted + 1);
  } else {
    a.drift_seconds = info.drift * info.params.period;
  }
  return key;
}

int PrintCode(Cli& cli, CodeArgs& a) {
  Status status = cli.LoadConfig();
  if (!status.ok()) return cli.Error(status);
  auto key = LoadKey(cli, a);
  if (!key.ok()) return cli.Error(key.status());
  int64_t now = cli.Now(a.as_of) + a.drift_seconds + (a.next_step ? key->params.period : 0);
  Result<OtpCode> otp =
      key->params.kind == OtpKind::kTotp
          ? GenerateTotp(key->params, key->secret, now)
          : GenerateHotp(key->params.algorithm, key->secret,
                         a.counter_given ? a.counter : key->counter, key->params.digits);
  if (!otp.ok()) return cli.Error(otp.status());
  if (a.quiet) {
    std::cout << *otp << "\n";  // for scripts: code=$(otpgate code -q ...)
    return 0;
  }
  Fields f;
  f.Add("code", *otp);
  if (key->params.kind == OtpKind::kTotp) {
    int64_t elapsed = (now - key->params.t0) % key->params.period;
    f.Add("seconds_left", key->params.period - elapsed);
  }
  return cli.Print(f, 0);
}

}  // namespace

void AddCodeCommand(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<CodeArgs>();
  auto* code = app.add_subcommand(
      "code", "print the current code of a key URI or stored token (a soft token)");
  code->add_option("--uri", a->uri, "otpauth:// key URI");
  code->add_option("--id", a->credential_id, "stored token (reveals its secret: admin only)");
  code->add_option_function<uint64_t>(
      "--counter",
      [a](uint64_t counter) {
        a->counter = counter;
        a->counter_given = true;
      },
      "HOTP counter (default: the URI's)");
  code->add_flag("-q,--quiet", a->quiet, "print only the code");
  code->add_flag("--next-step", a->next_step,
                 "the code of the next TOTP step (for demos and tests)");
  AddAsOfOption(code, a->as_of);
  cli.Run(
      code, [&cli, a] { return PrintCode(cli, *a); }, false);
}

}  // namespace otpgate::cli
