// otpgate audit: read, verify and prune the tamper-evident journal
// (common/src/journal.h).
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"

namespace otpgate::cli {
namespace {

struct AuditArgs {
  std::string since, user, token, prune_before, expect_head;
  bool verify = false;
};

Fields EntryFields(const JournalEntry& e) {
  Fields f;
  f.Add("sequence", static_cast<int64_t>(e.sequence))
      .AddTime("time", e.time)
      .Add("action", e.action)
      .AddOptional("user", e.user)
      .AddOptional("token", e.token)
      .Add("outcome", e.outcome)
      .AddOptional("reason", e.reason)
      .AddOptional("frontend", e.front_end)
      .AddOptional("client", e.client);
  return f;
}

// A time option: epoch seconds or ISO 8601 UTC.
Result<int64_t> TimeOption(std::string_view name, const std::string& text) {
  ParsedTime t = ParseTime(text);
  if (!t.ok) {
    return Status::InvalidArgument(std::string(name) + ": '" + text +
                                   "' is not a time (Unix seconds or 2026-11-27T21:41:05Z)");
  }
  return t.value;
}

int ListEntries(Cli& cli, const AuditArgs& a) {
  JournalFilter filter;
  if (!a.since.empty()) {
    auto since = TimeOption("--since", a.since);
    if (!since.ok()) return cli.Error(since.status());
    filter.since = *since;
  }
  if (!a.user.empty()) filter.user = a.user;
  if (!a.token.empty()) filter.token = a.token;
  auto entries = cli.service().ReadJournal(filter);
  if (!entries.ok()) return cli.Error(entries.status());
  if (cli.globals().json) {
    std::vector<Fields> rows;
    for (const JournalEntry& e : *entries) rows.push_back(EntryFields(e));
    std::cout << JsonArray(rows) << "\n";
    return 0;
  }
  for (const JournalEntry& e : *entries) {
    std::printf("%llu %s action=%s user=%s token=%s outcome=%s frontend=%s client=%s%s%s\n",
                static_cast<unsigned long long>(e.sequence), FormatTime(e.time).c_str(),
                e.action.c_str(), e.user.empty() ? "-" : e.user.c_str(),
                e.token.empty() ? "-" : e.token.c_str(), e.outcome.c_str(),
                e.front_end.empty() ? "-" : e.front_end.c_str(),
                e.client.empty() ? "-" : e.client.c_str(),
                e.reason.empty() ? "" : " reason=", e.reason.c_str());
  }
  return 0;
}

// --expect-head SEQ:HEX, a head recorded earlier off-host: the journal must
// still hold that entry with that chain value (catches removal of the newest
// entries and a rollback of the store, which the chain alone cannot).
Status CheckExpectedHead(Cli& cli, const std::string& expected, const JournalCheck& check) {
  size_t colon = expected.find(':');
  ParsedTime seq = ParseTime(expected.substr(0, colon));
  if (colon == std::string::npos || !seq.ok || seq.value == 0) {
    return Status::InvalidArgument("--expect-head: expected SEQUENCE:HEX as printed by --verify");
  }
  const uint64_t sequence = static_cast<uint64_t>(seq.value);
  if (sequence > check.last_sequence) {
    return Status::Corrupt("journal ends at entry " + std::to_string(check.last_sequence) +
                           " but entry " + std::to_string(sequence) +
                           " was recorded: newest entries removed or store rolled back");
  }
  if (sequence <= check.checkpoint) return Status::Ok();  // pruned since; cannot compare
  JournalFilter all;
  auto entries = cli.service().ReadJournal(all);
  if (!entries.ok()) return entries.status();
  for (const JournalEntry& e : *entries) {
    if (e.sequence == sequence && JournalHashHex(e.chain) != expected.substr(colon + 1)) {
      return Status::Corrupt("entry " + std::to_string(sequence) +
                             " differs from the recorded head: journal rewritten");
    }
  }
  return Status::Ok();
}

int VerifyEntries(Cli& cli, const AuditArgs& a) {
  auto check = cli.service().VerifyJournal();
  if (!check.ok()) return cli.Error(check.status());
  Status head = check->ok && !a.expect_head.empty() ? CheckExpectedHead(cli, a.expect_head, *check)
                                                    : Status::Ok();
  if (head.code() == StatusCode::kInvalidArgument) return cli.Error(head);
  const bool ok = check->ok && head.ok();
  Fields f;
  f.AddBool("ok", ok)
      .Add("entries", static_cast<int64_t>(check->entries))
      .Add("first", static_cast<int64_t>(check->first_sequence))
      .Add("last", static_cast<int64_t>(check->last_sequence))
      .Add("checkpoint", static_cast<int64_t>(check->checkpoint));
  if (check->ok) {
    f.Add("head", std::to_string(check->last_sequence) + ":" + JournalHashHex(check->head));
  }
  if (!check->ok) {
    f.Add("first_bad", static_cast<int64_t>(check->first_bad)).Add("problem", check->problem);
  } else if (!head.ok()) {
    f.Add("problem", head.message());
  }
  return cli.Print(f, ok ? 0 : ExitFor(Status::Corrupt("")));
}

int Prune(Cli& cli, const AuditArgs& a) {
  auto before = TimeOption("--prune-before", a.prune_before);
  if (!before.ok()) return cli.Error(before.status());
  auto removed = cli.service().PruneJournal(*before);
  if (!removed.ok()) return cli.Error(removed.status());
  Fields f;
  f.AddBool("ok", true).Add("removed", static_cast<int64_t>(*removed)).AddTime("before", *before);
  return cli.Print(f, 0);
}

}  // namespace

void AddAuditCommand(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<AuditArgs>();
  auto* audit = app.add_subcommand("audit", "read, verify or prune the audit journal");
  audit->add_option("--since", a->since, "entries from this time (Unix seconds or ISO 8601 UTC)");
  audit->add_option("--user", a->user, "entries about this user");
  audit->add_option("--token", a->token, "entries about this credential ID");
  auto* verify = audit->add_flag("--verify", a->verify,
                                 "check the chain; report the first removed, reordered or "
                                 "edited entry");
  audit
      ->add_option("--expect-head", a->expect_head,
                   "with --verify: a head (SEQ:HEX) recorded earlier must still be there")
      ->needs(verify);
  audit
      ->add_option("--prune-before", a->prune_before,
                   "remove entries older than this time, keeping the rest verifiable")
      ->excludes(verify);
  cli.Run(audit, [&cli, a] {
    if (a->verify) return VerifyEntries(cli, *a);
    if (!a->prune_before.empty()) return Prune(cli, *a);
    return ListEntries(cli, *a);
  });
}

}  // namespace otpgate::cli
