// migrate google-authenticator / pam-oath: other systems' per-user files,
// each token bound to its user (core: migrate.h), through the one import
// flow (import_flow.h).
#include <pwd.h>
#include <sys/stat.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "import_flow.h"
#include "otpgate/migrate.h"
#include "otpgate/secret.h"

namespace otpgate::cli {
namespace {

struct MigrateArgs {
  std::vector<std::string> files;
  std::string user, id_prefix;
  ImportFlags flags;
};

// The owner of a ~/.google_authenticator file is its user.
Result<std::string> FileOwner(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::Unavailable("cannot stat " + path);
  struct passwd* pw = ::getpwuid(st.st_uid);
  if (pw == nullptr)
    return Status::NotFound(path + ": its owner (uid " + std::to_string(st.st_uid) +
                            ") has no name; give --user");
  return std::string(pw->pw_name);
}

void PrintNotes(const std::string& file, const std::vector<std::string>& notes, bool quiet) {
  if (quiet) return;
  for (const std::string& note : notes) std::cerr << file << ": note: " << note << "\n";
}

int MigrateGoogle(Cli& cli, const MigrateArgs& a) {
  if (!a.user.empty() && a.files.size() != 1) {
    return cli.Error(Status::InvalidArgument("--user names the user of a single file"));
  }
  MigrationOptions options{a.id_prefix.empty() ? "GA" : a.id_prefix, cli.config().issuer,
                           cli.clock().Now()};
  auto notes_printed = std::make_shared<bool>(false);
  EntrySource source = [&cli, a, options, notes_printed](const TokenVisitor& visit) -> Status {
    for (size_t i = 0; i < a.files.size(); ++i) {
      const std::string& file = a.files[i];
      auto user = a.user.empty() ? FileOwner(file) : Result<std::string>(a.user);
      auto text = ReadWholeFile(file);
      if (!user.ok() || !text.ok()) {
        visit(i + 1,
              Status::InvalidArgument(file + ": " + (!user.ok() ? user : text).status().message()));
        continue;
      }
      std::vector<std::string> notes;
      auto token = ParseGoogleAuthenticatorFile(*text, *user, options, &notes);
      WipeString(*text);
      if (!*notes_printed)
        PrintNotes(file + " (" + *user + ")", notes, a.flags.quiet || cli.globals().json);
      if (!token.ok()) token = Status::InvalidArgument(file + ": " + token.status().message());
      visit(i + 1, std::move(token));
    }
    *notes_printed = true;
    return Status::Ok();
  };
  return RunImport(
      cli, source,
      {a.files.size() == 1 ? a.files[0] : "google-authenticator", "google-authenticator", "file"},
      a.flags);
}

int MigrateOath(Cli& cli, const MigrateArgs& a) {
  MigrationOptions options{a.id_prefix.empty() ? "OATH" : a.id_prefix, cli.config().issuer,
                           cli.clock().Now()};
  auto notes_printed = std::make_shared<bool>(false);
  const std::string file = a.files.front();
  EntrySource source = [&cli, a, file, options,
                        notes_printed](const TokenVisitor& visit) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(file));
    MigrationNotes notes;
    ParseOathUsersFile(text, options, visit, &notes);
    WipeString(text);
    if (!*notes_printed && !a.flags.quiet && !cli.globals().json) {
      for (const RejectedLine& n : notes)
        std::cerr << file << ": line " << n.line << ": note: " << n.reason << "\n";
    }
    *notes_printed = true;
    return Status::Ok();
  };
  return RunImport(cli, source, {file, "pam-oath", "line"}, a.flags);
}

}  // namespace

void AddMigrateCommands(CLI::App& app, Cli& cli) {
  auto* migrate = app.add_subcommand(
      "migrate", "take over tokens from other OTP systems, bound to their users");
  migrate->require_subcommand(1);

  auto g = std::make_shared<MigrateArgs>();
  auto* google = migrate->add_subcommand(
      "google-authenticator", "users' ~/.google_authenticator files (google-authenticator-libpam)");
  google->add_option("files", g->files, "the files; each belongs to its owner")->required();
  google->add_option("--user", g->user, "the user of a single file (default: the file's owner)");
  google->add_option("--id-prefix", g->id_prefix, "credential ID = prefix + user (default GA)");
  AddImportFlags(*google, g->flags);
  cli.Run(google, [&cli, g] { return MigrateGoogle(cli, *g); });

  auto o = std::make_shared<MigrateArgs>();
  auto* oath =
      migrate->add_subcommand("pam-oath", "a pam_oath / liboath users file (e.g. /etc/users.oath)");
  oath->add_option("file", o->files, "the users file")->required()->expected(1);
  oath->add_option("--id-prefix", o->id_prefix, "credential ID = prefix + user (default OATH)");
  AddImportFlags(*oath, o->flags);
  cli.Run(oath, [&cli, o] { return MigrateOath(cli, *o); });
}

}  // namespace otpgate::cli
