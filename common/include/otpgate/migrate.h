// Migration from other OTP systems' per-user files, binding each token to
// its user so that nobody re-enrols and no code used before can be used
// again:
//  - google-authenticator-libpam: a user's ~/.google_authenticator file;
//  - pam_oath / liboath: a users file (/etc/users.oath).
// (privacyIDEA / LinOTP OATH CSV is a seed file: token_import.h.)
//
// What the old system did that otpgate does per deployment instead (window,
// rate limit) or not at all (scratch codes, PINs in the users file) is
// reported as a note, never silently dropped; what would change which codes
// are accepted rejects the entry.
#ifndef OTPGATE_MIGRATE_H_
#define OTPGATE_MIGRATE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "otpgate/token_import.h"

namespace otpgate {

struct MigrationOptions {
  std::string id_prefix;  // credential ID = prefix + user name folded to [A-Z0-9]
  std::string issuer;
  // Now (epoch seconds): for TOTP files that do not record the steps used,
  // every step up to now (plus the old window) counts as used.
  int64_t now = 0;
};

// prefix + user folded to [A-Z0-9] ("alice.b" -> "GAALICEB"), normalised.
Result<std::string> MigrationCredentialId(std::string_view prefix, std::string_view user);

// A note about one entry (1-based position; the file's line for users
// files, the file's index for google-authenticator files).
using MigrationNotes = std::vector<RejectedLine>;

// One ~/.google_authenticator file of `user` (the text: secret line,
// '" OPTION' lines, scratch codes). HOTP_COUNTER is the next counter;
// DISALLOW_REUSE's steps (or, without it, now) mark the last used step;
// TIME_SKEW becomes the drift; STEP_SIZE the period. kInvalidArgument with
// the reason for a file otpgate cannot take over.
Result<ParsedToken> ParseGoogleAuthenticatorFile(std::string_view text, std::string_view user,
                                                 const MigrationOptions& options,
                                                 std::vector<std::string>* notes);

// A liboath users file: "TYPE USER PIN SECRET_HEX [COUNTER [LAST_OTP
// [LAST_TIME]]]" per line, TYPE HOTP, HOTP/E[/digits] or HOTP/T<step>[/digits].
// HOTP: the counter after the last used one (checked against LAST_OTP);
// TOTP: the step whose code was LAST_OTP near LAST_TIME. A PIN other than
// '-' rejects the line (otpgate has no OTP PIN).
void ParseOathUsersFile(std::string_view text, const MigrationOptions& options,
                        const TokenVisitor& visit, MigrationNotes* notes);

}  // namespace otpgate

#endif  // OTPGATE_MIGRATE_H_
