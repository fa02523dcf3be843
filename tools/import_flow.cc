#include "import_flow.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>

#include "otpgate/credential_policy.h"

namespace otpgate::cli {
namespace {

constexpr size_t kQuietProblems = 10;

struct CheckResult {
  size_t good = 0;
  bool owners = false;    // some good entry is bound to an owner
  size_t would_skip = 0;  // dry run: already in the store
  std::vector<RejectedLine> problems;
};

// The same verdict on an entry in both passes: parsed and allowed.
Result<ParsedToken> Vet(const Config& config, Result<ParsedToken> entry) {
  if (!entry.ok()) return entry;
  Status policy = CheckCredentialId(config, entry->first.credential_id);
  if (!policy.ok())
    return Status::InvalidArgument(entry->first.credential_id + ": " + policy.message());
  return entry;
}

void Report(const ImportTarget& t, const std::vector<RejectedLine>& problems, bool quiet) {
  size_t shown = 0;
  for (const RejectedLine& r : problems) {
    if (quiet && shown == kQuietProblems) {
      std::cerr << t.file << ": ... and " << problems.size() - shown << " more problems\n";
      break;
    }
    ++shown;
    if (r.line > 0) {
      std::cerr << t.file << ": " << t.unit << " " << r.line << ": rejected: " << r.reason << "\n";
    } else {
      std::cerr << t.file << ": rejected: " << r.reason << "\n";
    }
  }
}

std::string ProblemsJson(const std::vector<RejectedLine>& problems, bool quiet) {
  std::string json = "[";
  for (size_t i = 0; i < problems.size() && !(quiet && i == kQuietProblems); ++i) {
    if (i > 0) json += ",";
    json += "{\"position\":" + std::to_string(problems[i].line) +
            ",\"reason\":" + JsonEscape(problems[i].reason) + "}";
  }
  return json + "]";
}

}  // namespace

void AddImportFlags(CLI::App& sub, ImportFlags& flags) {
  sub.add_flag("--replace", flags.replace, "replace tokens that already exist");
  sub.add_flag("--dry-run", flags.dry_run, "check everything, import nothing");
  sub.add_flag("--skip-bad", flags.skip_bad,
               "import the good entries even if some are rejected (default: all or nothing)");
  sub.add_flag("-q,--quiet", flags.quiet, "summary only: counts and the first problems");
}

int RunImport(Cli& cli, const EntrySource& source, const ImportTarget& target,
              const ImportFlags& flags) {
  const bool tty = ::isatty(STDERR_FILENO) != 0 && !cli.globals().json && !flags.quiet;
  CheckResult check;
  // New, unbound tokens are also sealed and sorted while they are checked
  // (PreparedImport): a large import of them is then stored without reading
  // the source again. Dropped at the first entry with an owner (that import
  // is one transaction, fed by a second pass). A dry run prepares them too,
  // so that it fails where the import would (no room for the temporary
  // file), and stores nothing.
  std::optional<PreparedImport> prepared;
  if (!flags.replace) prepared.emplace(cli.service().PrepareImport());
  Status read = source([&](size_t position, Result<ParsedToken> entry) {
    entry = Vet(cli.config(), std::move(entry));
    if (!entry.ok()) {
      check.problems.push_back({position, entry.status().message()});
      return;
    }
    if (flags.dry_run && !flags.replace) {
      auto fate = cli.service().FateOnImport(entry->first.credential_id);
      if (!fate.ok() || *fate == OtpService::ImportFate::kBeingImported) {
        check.problems.push_back({position, entry->first.credential_id + ": " +
                                                (fate.ok() ? "being imported by another process"
                                                           : fate.status().message())});
        return;
      }
      if (*fate == OtpService::ImportFate::kExists) ++check.would_skip;
    }
    ++check.good;
    check.owners = check.owners || !entry->first.owner.empty();
    // Nothing will be stored from an import already refused, nor staged
    // from one with an owner.
    if (check.owners || (!check.problems.empty() && !flags.skip_bad)) prepared.reset();
    // An error is kept in `prepared` and returned when it is stored.
    if (prepared.has_value()) (void)prepared->Add(entry->first, entry->second);
    if (tty && check.good % 10000 == 0) std::fprintf(stderr, "\rchecked %zu", check.good);
  });
  if (tty && check.good >= 10000) std::fputc('\n', stderr);
  if (!read.ok()) {
    Report(target, check.problems, flags.quiet);
    return cli.Error(read);
  }
  const bool refuse = check.good == 0 || (!check.problems.empty() && !flags.skip_bad);
  OtpService::ImportCounts counts;
  Status stored = Status::Ok();
  const bool staged =
      prepared.has_value() &&
      OtpService::Stages({.tokens = check.good, .binds_owners = check.owners}, flags.replace);
  if (!refuse && staged && flags.dry_run) {
    stored = prepared->status();
  } else if (!refuse && staged) {
    stored = cli.service().ProvisionPrepared(*prepared, &counts);
  } else if (!refuse && !flags.dry_run) {
    prepared.reset();
    stored = cli.service().ProvisionEach(
        [&](const OtpService::TokenPut& put) -> Status {
          Status first_error = Status::Ok();
          OTPGATE_RETURN_IF_ERROR(source([&](size_t, Result<ParsedToken> entry) {
            entry = Vet(cli.config(), std::move(entry));
            if (entry.ok() && first_error.ok()) first_error = put(entry->first, entry->second);
          }));
          return first_error;
        },
        {.tokens = check.good, .binds_owners = check.owners}, flags.replace, &counts);
  }
  if (!cli.globals().json) {
    Report(target, check.problems, flags.quiet);
    const std::vector<std::string>& listed = counts.first_skipped;
    size_t shown = 0;
    for (; shown < listed.size() && !(flags.quiet && shown == kQuietProblems); ++shown) {
      std::cerr << "skipped: " << listed[shown] << " already exists\n";
    }
    if (shown < counts.skipped) {
      std::cerr << "skipped: ... and " << counts.skipped - shown << " more that already exist\n";
    }
  }
  if (!stored.ok()) return cli.Error(stored);
  if (flags.dry_run) {
    counts.imported = refuse ? 0 : check.good - check.would_skip;
    counts.skipped = refuse ? 0 : check.would_skip;
  }
  Fields f;
  f.AddRaw("ok", refuse ? "false" : "true")
      .Add("format", target.format)
      .AddRaw("dry_run", flags.dry_run ? "true" : "false")
      .Add("imported", static_cast<int64_t>(counts.imported))
      .Add("skipped", static_cast<int64_t>(counts.skipped))
      .Add("rejected", static_cast<int64_t>(check.problems.size()));
  if (refuse) {
    f.Add("error",
          check.good == 0
              ? "no entry could be read: nothing imported"
              : "some entries are rejected: nothing imported (--skip-bad imports the others)");
  }
  if (cli.globals().json) f.AddRaw("rejected_items", ProblemsJson(check.problems, flags.quiet));
  return cli.Print(f, refuse ? ExitFor(Status::InvalidArgument("")) : 0);
}

}  // namespace otpgate::cli
