// Configuration: one option table, three front ends (PAM module arguments,
// the config file /etc/otpgate/otpgate.conf, FreeRADIUS CONF_PARSER strings,
// and the CLI's --option flags). Unknown or out-of-range options are errors.
#ifndef OTPGATE_CONFIG_H_
#define OTPGATE_CONFIG_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "otpgate/otp.h"
#include "otpgate/status.h"

namespace otpgate {

inline constexpr const char* kDefaultConfigPath = "/etc/otpgate/otpgate.conf";
inline constexpr const char* kDefaultStorePath = "/var/lib/otpgate";
inline constexpr const char* kDefaultMasterKeyPath = "/etc/otpgate/master.key";

enum class UnenrolledPolicy { kAllow, kDeny, kRegister };
// PAM: what a caller that is not root gets when it cannot open the store.
enum class NonRootPolicy { kFail, kIgnore };
enum class Action { kLogin, kRegister, kStop };

struct Config {
  // Store and key.
  std::string store = kDefaultStorePath;
  // PostgreSQL store only (store.h PostgresOptions).
  int store_timeout_ms = 1500;  // every store request fails closed after this
  int store_pool_size = 32;     // connections per process
  std::string master_key = kDefaultMasterKeyPath;
  // Verification.
  int window = 1;                 // TOTP: steps either side of the drift
  int hotp_lookahead = 10;        // HOTP: counters ahead of the next expected
  int64_t resync_window = 600;    // TOTP resync: seconds either side
  int hotp_resync_window = 1000;  // HOTP resync: counters ahead
  // Lockout.
  int max_failures = 5;
  int64_t lockout_seconds = 60;  // first lock; doubles per further failure
  int64_t lockout_max_seconds = 3600;
  // Defaults for tokens made by `otpgate token new`.
  std::string credential_prefix = "OTPG";
  // Allowlist of credential IDs (import and registration): space-separated
  // prefixes (empty: any) and exact length (0: any).
  std::string credential_prefixes;
  int credential_length = 0;
  std::string issuer = "otpgate";
  HashAlgorithm algorithm = HashAlgorithm::kSha1;
  int digits = 6;
  int64_t period = 30;
  // Front ends (PAM, RADIUS).
  Action action = Action::kLogin;
  UnenrolledPolicy unenrolled = UnenrolledPolicy::kAllow;
  std::string prompt = "One-time password: ";
  std::string token_prompt = "Token ID (credential ID): ";
  int64_t challenge_timeout = 120;  // RADIUS: lifetime of a challenge's State
  int fail_delay_ms = 2000;         // PAM: pam_fail_delay on failure
  NonRootPolicy nonroot = NonRootPolicy::kFail;
  bool debug = false;
  bool split = false;
  bool use_first_pass = false;
  bool try_first_pass = false;
};

// kStoreLocation: an absolute path (LMDB) or a PostgreSQL location (store.h).
enum class OptionType { kString, kPath, kStoreLocation, kInt, kBool, kEnum };
// Where an option means something: everywhere, or only in the PAM module
// (a RADIUS module section refuses it; the shared file may carry it).
enum class OptionScope { kAll, kPam };

struct OptionSpec {
  std::string_view name;
  OptionType type;
  std::string_view default_value;  // as it would be written in the config file
  int64_t min = 0;                 // kInt bounds
  int64_t max = 0;
  std::string_view choices;  // kEnum: "a|b|c"
  std::string_view help;
  OptionScope scope = OptionScope::kAll;
};

// Every option, in the order the sample config file lists them.
std::span<const OptionSpec> OptionTable();

// Sets one option by name from its text form. kInvalidArgument names the
// option and says what was expected.
Status SetOption(Config& config, std::string_view name, std::string_view value);
// A PAM-style argument: "name=value", or a bare "name" for a boolean.
Status ApplyArgument(Config& config, std::string_view argument);
// Reads "name = value" lines ('#' comments, blank lines) from a file that
// must be a regular file, not a symlink, owned by root or the effective user,
// not writable by group or others, and at most 64 KiB. `missing_ok`: a
// missing file is not an error (defaults apply).
Status LoadConfigFile(Config& config, const std::string& path, bool missing_ok);
// Parses file contents (used by LoadConfigFile; exposed for tests/fuzzing).
Status ParseConfigText(Config& config, std::string_view text, std::string_view origin);

// The current value of an option in its text form (for `otpgate config`).
std::string OptionValue(const Config& config, std::string_view name);

}  // namespace otpgate

#endif  // OTPGATE_CONFIG_H_
