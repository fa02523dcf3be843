// The one import flow of `token import` and `migrate`: check the whole
// source first, then store it, all or nothing.
#ifndef OTPGATE_TOOLS_IMPORT_FLOW_H_
#define OTPGATE_TOOLS_IMPORT_FLOW_H_

#include <functional>
#include <string>

#include "cli.h"
#include "otpgate/token_import.h"

namespace otpgate::cli {

struct ImportFlags {
  bool replace = false;   // replace tokens that already exist (else: skipped)
  bool dry_run = false;   // check only
  bool skip_bad = false;  // import the good entries even if some are rejected
  bool quiet = false;     // a summary and the first problems only
};

// A source of entries that can be read more than once (the flow reads it
// twice so as never to hold a whole file in memory): visits every entry and
// returns a file-level error, if any.
using EntrySource = std::function<Status(const TokenVisitor& visit)>;

struct ImportTarget {
  std::string file;    // for messages
  std::string format;  // reported as "format"
  std::string unit;    // "line", "key", "user"
};

// Pass 1 checks every entry (parse, credential-ID policy) and lists every
// problem. Unless flags.skip_bad, any problem means nothing is stored and the
// exit code is 11; a source without a single good entry is always an error.
// Pass 2 stores the good entries, all at once: a large import of new,
// unbound tokens is staged from what pass 1 prepared (OtpService::
// ProvisionPrepared: the source is not read again); any other is one
// transaction fed by a second reading (OtpService::ProvisionEach).
int RunImport(Cli& cli, const EntrySource& source, const ImportTarget& target,
              const ImportFlags& flags);

void AddImportFlags(CLI::App& sub, ImportFlags& flags);

}  // namespace otpgate::cli

#endif  // OTPGATE_TOOLS_IMPORT_FLOW_H_
