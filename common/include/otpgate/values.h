// The value types of otpgate's answers and administration (decisions,
// verdicts, token specifications and descriptions): a leaf header with no
// storage behind it, for the core's API and the tools that print them.
#ifndef OTPGATE_VALUES_H_
#define OTPGATE_VALUES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "otpgate/otp.h"

namespace otpgate {

// A replay mark (last accepted TOTP step or HOTP counter) that marks nothing.
constexpr int64_t kNoneAccepted = -1;

enum class TokenState : uint8_t {
  kUnassigned = 1,  // provisioned, not bound to anyone
  kActive = 2,      // bound to `owner`, used at login
  kDisabled = 3,    // bound to `owner`, but refused (admin action)
};
std::string_view TokenStateName(TokenState state);

enum class Decision {
  kAccept,   // the code was valid and is now consumed
  kReject,   // wrong code (a failure was counted)
  kReplay,   // the code was valid once but its step/counter is already used
  kLocked,   // too many failures: refused without looking at the code
  kNoToken,  // the user has no active token: the caller applies its policy
};
std::string_view DecisionName(Decision decision);

struct Verdict {
  Decision decision = Decision::kReject;
  std::string credential_id;  // the token that decided (empty for kNoToken)
  uint32_t failures = 0;      // after this request
  int64_t lock_until = 0;     // > now when locked
  // Tokens of the user that were passed over, with why: "ID:expired",
  // "ID:not-yet-valid", "ID:disabled", comma-separated (for the audit trail).
  std::string skipped;
};

// What an administrator provisions: parameters and secret of a new token.
struct TokenSpec {
  std::string credential_id;
  OtpParams params;
  std::string issuer;
  uint64_t initial_counter = 0;  // HOTP
  // TOTP, carried over from another system (PSKC TimeDrift, a migrated
  // user's file): the token clock's known offset in steps, and the last step
  // already used there, so that no code used before can be used again.
  int64_t drift = 0;
  int64_t last_used_step = kNoneAccepted;
  int64_t valid_from = 0;   // 0: valid from provisioning
  int64_t valid_until = 0;  // 0: no expiry
  // Optional: provision already bound to this user (hardware tokens mailed
  // to a known customer); empty for the usual unassigned token.
  std::string owner;
};

// What `show`/`list` report: everything except the secret.
struct TokenInfo {
  std::string credential_id;
  OtpParams params;
  TokenState state;
  std::string owner;
  std::string issuer;
  int64_t last_accepted;
  int64_t drift;
  uint32_t failures;
  int64_t lock_until;
  int64_t created_at;
  int64_t bound_at;
  int64_t last_used_at;
  int64_t valid_from;
  int64_t valid_until;
};

}  // namespace otpgate

#endif  // OTPGATE_VALUES_H_
