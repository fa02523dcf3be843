// Administration of stored tokens: unlock (a token or a user), disable,
// enable, delete, unassign, assign, show, list (with filters).
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "otpgate/otpauth_uri.h"
#include "otpgate/secret.h"
#include "private_file.h"
#include "qr.h"

namespace otpgate::cli {
namespace {

struct AdminArgs {
  std::string credential_id, user, state;
  bool show_uri = false, show_qr = false;
  bool locked = false;
  std::string qr_terminal = "ansi";
  QrFiles qr_files;
  AsOf as_of;  // show, list
};

int ShowToken(Cli& cli, const AdminArgs& a) {
  auto info = cli.service().Show(a.credential_id);
  if (!info.ok()) return cli.Error(info.status());
  Fields f = InfoFields(*info, cli.Now(a.as_of));
  std::string uri;
  if (a.show_uri) {
    Status expressible = CheckExpressibleAsKeyUri(info->params);
    if (!expressible.ok()) return cli.Error(expressible);
    auto secret = cli.service().RevealSecret(a.credential_id);
    if (!secret.ok()) return cli.Error(secret.status());
    KeyUri key{info->params, std::move(secret).value(), info->issuer, info->credential_id,
               static_cast<uint64_t>(info->last_accepted + 1)};
    uri = FormatKeyUri(key);
    f.Add("uri", uri);
  }
  int rc = cli.Print(f, 0);
  if (a.show_uri) {
    if (a.show_qr && !cli.globals().json)
      std::cout << RenderQr(uri, ParseTerminalQr(a.qr_terminal).value());
    Status images = WriteQrFiles(a.qr_files, uri);
    if (!images.ok()) rc = cli.Error(images);
  }
  WipeString(uri);
  return rc;
}

// The filters of `list`; every given one must hold.
bool Selected(const TokenInfo& t, const AdminArgs& a, int64_t now) {
  if (a.locked && !(t.lock_until > now)) return false;
  return a.state.empty() || TokenStateName(t.state) == a.state;
}

int ListTokens(Cli& cli, const AdminArgs& a) {
  auto tokens =
      cli.service().List(a.user.empty() ? std::nullopt : std::optional<std::string>(a.user));
  if (!tokens.ok()) return cli.Error(tokens.status());
  const int64_t now = cli.Now(a.as_of);
  std::vector<Fields> rows;
  for (const TokenInfo& t : *tokens) {
    if (Selected(t, a, now)) rows.push_back(InfoFields(t, now));
  }
  if (cli.globals().json) {
    std::cout << JsonArray(rows) << "\n";
    return 0;
  }
  std::printf("%-16s %-5s %-10s %-20s %-8s %-20s %s\n", "CREDENTIAL_ID", "TYPE", "STATE", "OWNER",
              "FAILURES", "LOCKED_UNTIL", "LAST_USED");
  for (const TokenInfo& t : *tokens) {
    if (!Selected(t, a, now)) continue;
    std::printf("%-16s %-5s %-10s %-20s %-8u %-20s %s\n", t.credential_id.c_str(),
                std::string(OtpKindName(t.params.kind)).c_str(),
                std::string(TokenStateName(t.state)).c_str(),
                t.owner.empty() ? "-" : t.owner.c_str(), t.failures,
                FormatTime(t.lock_until > now ? t.lock_until : 0).c_str(),
                FormatTime(t.last_used_at).c_str());
  }
  return 0;
}

// unlock ID, or unlock --user U (every token of the user).
int UnlockTokens(Cli& cli, const AdminArgs& a) {
  if (a.user.empty() == a.credential_id.empty()) {
    return cli.Error(Status::InvalidArgument("give a credential ID or --user, not both"));
  }
  if (!a.credential_id.empty()) return cli.Done(cli.service().Unlock(a.credential_id), "unlocked");
  std::vector<std::string> unlocked;
  Status status = cli.service().UnlockUser(a.user, &unlocked);
  if (!status.ok()) return cli.Error(status);
  std::string json = "[", text;
  for (size_t i = 0; i < unlocked.size(); ++i) {
    json += (i > 0 ? "," : "") + JsonEscape(unlocked[i]);
    text += (i > 0 ? " " : "") + unlocked[i];
  }
  Fields f;
  f.AddBool("ok", true)
      .Add("result", unlocked.empty() ? "nothing was locked" : "unlocked")
      .AddRaw("unlocked", json + "]", unlocked.empty() ? "-" : text);
  return cli.Print(f, 0);
}

}  // namespace

void AddAdminCommands(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<AdminArgs>();
  // Commands that take one credential ID and report done or an error.
  auto simple = [&](const char* name, const char* help,
                    Status (*op)(OtpService&, const std::string&), const char* done,
                    CLI::App* parent = nullptr) {
    auto* sub = (parent != nullptr ? parent : &app)->add_subcommand(name, help);
    sub->add_option("credential_id", a->credential_id)->required();
    cli.Run(sub,
            [&cli, a, op, done] { return cli.Done(op(cli.service(), a->credential_id), done); });
  };
  auto* unlock = app.add_subcommand("unlock", "clear the failures and lock of a token or a user");
  unlock->add_option("credential_id", a->credential_id);
  unlock->add_option("--user", a->user, "every token of this user");
  cli.Run(unlock, [&cli, a] { return UnlockTokens(cli, *a); });
  // `token disable|enable ID`: the top-level enable/disable are for hosts
  // (cmd_enable.cc). REQUIRES: AddTokenCommands ran first (cli_main.cc).
  CLI::App* token = app.get_subcommand("token");
  simple(
      "disable", "refuse a registered token",
      [](OtpService& s, const std::string& id) { return s.SetEnabled(id, false); }, "disabled",
      token);
  simple(
      "enable", "accept a disabled token again",
      [](OtpService& s, const std::string& id) { return s.SetEnabled(id, true); }, "enabled",
      token);
  simple(
      "delete", "remove a token", [](OtpService& s, const std::string& id) { return s.Delete(id); },
      "deleted");
  simple(
      "unassign", "unbind a token without a code",
      [](OtpService& s, const std::string& id) { return s.Unassign(id); }, "unassigned");

  auto* assign = app.add_subcommand("assign", "bind a token to a user without a code");
  assign->add_option("credential_id", a->credential_id)->required();
  assign->add_option("user", a->user)->required();
  cli.Run(assign, [&cli, a] {
    return cli.Done(cli.service().Assign(a->credential_id, a->user), "assigned");
  });

  auto* show = app.add_subcommand("show", "show a token (never its secret unless --uri)");
  show->add_option("credential_id", a->credential_id)->required();
  show->add_flag("--uri", a->show_uri, "also print the key URI, which contains the secret");
  show->add_flag("--qr", a->show_qr, "with --uri: also print the URI as a terminal QR code");
  show->add_option("--qr-terminal", a->qr_terminal,
                   "terminal QR: ansi (default), dark or light background")
      ->check(CLI::IsMember({"ansi", "dark", "light"}));
  show->add_option("--qr-png", a->qr_files.png,
                   "with --uri: write the URI's QR code as PNG (mode 0600)");
  show->add_option("--qr-svg", a->qr_files.svg,
                   "with --uri: write the URI's QR code as SVG (mode 0600)");
  AddAsOfOption(show, a->as_of);
  cli.Run(show, [&cli, a] { return ShowToken(cli, *a); });

  auto* list = app.add_subcommand("list", "list tokens");
  list->add_option("--user", a->user, "only this user's tokens");
  list->add_flag("--locked", a->locked, "only tokens locked now");
  list->add_option("--state", a->state, "only tokens in this state")
      ->check(CLI::IsMember({"unassigned", "active", "disabled"}));
  AddAsOfOption(list, a->as_of);
  cli.Run(list, [&cli, a] { return ListTokens(cli, *a); });
}

}  // namespace otpgate::cli
