// The CLI's shared context: global options, the one config reader, the
// service, and how results become output and exit codes. Each command group
// lives in its own cmd_*.cc and registers itself through an Add*Commands
// function (commands.h).
//
// Exit codes (documented in otpgate(8)):
//   0 success / code accepted      1 code rejected        2 usage error
//   3 replayed code                4 token locked         5 user has no token
//   10 + status code for an operation that could not be carried out
//   (11 invalid input, 12 not found, 13 exists, 14 already bound, 15 not bound,
//    16 unsafe permissions, 17 store/key unavailable, 18 corrupt, 19 wrong key,
//    20 store full, 21 internal, 22 precondition failed)
#ifndef OTPGATE_TOOLS_CLI_H_
#define OTPGATE_TOOLS_CLI_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "otpgate/config.h"
#include "otpgate/operations.h"
#include "output.h"

namespace otpgate::cli {

constexpr int kExitUsage = 2;

int ExitFor(Decision decision);
int ExitFor(const Status& status);

// Options that every command accepts.
struct Globals {
  std::string config_path = kDefaultConfigPath;
  bool config_given = false;
  std::string store;
  std::string master_key;
  std::vector<std::string> options;
  bool json = false;
};

// `--time T` of the commands that write nothing (code, show, list): what they
// print is evaluated at T instead of now. Commands that change the store have
// no such option; they run on the clock the CLI was given (cli_main.h).
struct AsOf {
  int64_t time = -1;  // -1: now
};
void AddAsOfOption(CLI::App* command, AsOf& as_of);

// Audit trail of the CLI: syslog, authpriv facility, like the modules.
class SyslogAudit final : public AuditSink {
 public:
  SyslogAudit();
  ~SyslogAudit() override;
  void Record(const AuditEvent& event) override;
};

class Cli {
 public:
  // `clock` is the time every decision and journal entry is made at.
  Cli(Globals& globals, const Clock& clock) : g_(globals), clock_(clock) {}

  const Globals& globals() const { return g_; }
  const Config& config() const { return config_; }
  const Clock& clock() const { return clock_; }
  // The time a read-only command evaluates at: `as_of`, else now.
  int64_t Now(const AsOf& as_of) const { return as_of.time >= 0 ? as_of.time : clock_.Now(); }
  // REQUIRES: OpenService() or OpenStore() succeeded.
  OtpService& service() { return *service_; }
  int exit_code() const { return exit_code_; }

  // Reads the config file and applies the global overrides.
  Status LoadConfig();
  // LoadConfig(), then OpenStore().
  Status OpenService();
  // REQUIRES: LoadConfig() succeeded.
  Status OpenStore();

  // Makes `fn` the action of `sub`: the store is opened first unless
  // `needs_store` is false (the command then loads what it needs itself);
  // fn's return value is the process's exit code.
  void Run(CLI::App* sub, std::function<int()> fn, bool needs_store = true);

  // Prints an operation error and returns its exit code.
  int Error(const Status& status);
  int Print(Fields& fields, int exit_code);
  int Done(const Status& status, std::string_view what);
  int ReportVerdict(const Result<Verdict>& verdict, std::string_view accepted_text);

  static std::string Absolute(const std::string& path);

 private:
  Globals& g_;
  Config config_;
  const Clock& clock_;
  SyslogAudit audit_;
  std::unique_ptr<OtpService> service_;
  int exit_code_ = 0;
};

// Fields of `show` and `list --json`: everything but the secret; `locked`
// as of `now`.
Fields InfoFields(const TokenInfo& info, int64_t now);

// Who runs the CLI, for the journal: $SUDO_USER, else the login name.
std::string AdministratorName();

// A whole file (or "-" for standard input), at most kMaxImportBytes.
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace otpgate::cli

#endif  // OTPGATE_TOOLS_CLI_H_
