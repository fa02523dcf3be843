// init, config, selftest: commands about the installation itself.
#include <sys/stat.h>

#include "commands.h"
#include "otpgate/self_test.h"
#include "otpgate/store_copy.h"

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

// Opens the copy `to` with the configured master key (its key check) and
// verifies its journal's chain: a copy that does not verify is an error,
// though it stays in `to`.
Result<JournalCheck> VerifyCopiedJournal(Cli& cli, const StoreOptions& to) {
  Config copied = cli.config();
  copied.store = to.location;
  copied.store_timeout_ms = to.postgres.timeout_ms;
  auto service = OtpService::Open(copied, cli.clock());
  if (!service.ok()) {
    return Status(service.status().code(), "the copy in " + to.location +
                                               " was made but does "
                                               "not open with " +
                                               copied.master_key + ": " +
                                               service.status().message());
  }
  OTPGATE_ASSIGN_OR_RETURN(JournalCheck check, (*service)->VerifyJournal());
  if (!check.ok) {
    return Status::Corrupt("the copy's journal (copied byte for byte) does not verify at entry " +
                           std::to_string(check.first_bad) + ": " + check.problem);
  }
  return check;
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
        return cli.Done(status,
                        (changed ? "initialised " : "already initialised: nothing changed in ") +
                            cli.config().store);
      },
      false);

  auto* store = app.add_subcommand("store", "operations on a whole store");
  store->require_subcommand(1);
  auto* copy = store->add_subcommand(
      "copy",
      "copy every token, binding, key check and journal entry from one store to an "
      "empty one (LMDB directory or PostgreSQL location), then verify the copy");
  static std::string copy_from, copy_to;
  copy->add_option("FROM", copy_from, "source store")->required();
  copy->add_option("TO", copy_to, "destination store (created; must hold no token)")->required();
  cli.Run(
      copy,
      [&cli] {
        Status status = cli.LoadConfig();
        auto location = [](const std::string& s) {
          return IsPostgresLocation(s) ? s : Cli::Absolute(s);
        };
        CopyReport report;
        StoreOptions from{.location = location(copy_from)};
        StoreOptions to{.location = location(copy_to)};
        from.postgres = to.postgres = {
            .pool_size = 2, .timeout_ms = std::max(cli.config().store_timeout_ms, 30000)};
        if (status.ok()) status = CopyStore(from, to, &report);
        if (!status.ok()) return cli.Error(status);
        auto journal = VerifyCopiedJournal(cli, to);
        if (!journal.ok()) return cli.Error(journal.status());
        Fields f;
        f.Add("tokens", static_cast<int64_t>(report.tokens))
            .Add("bindings", static_cast<int64_t>(report.bindings))
            .Add("journal_entries", static_cast<int64_t>(report.journal_entries))
            .Add("journal_head",
                 std::to_string(journal->last_sequence) + ":" + JournalHashHex(journal->head))
            .Add("verified",
                 "every record, binding and journal entry matches the source; "
                 "the copy opens with the master key and its journal verifies");
        return cli.Print(f, 0);
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
