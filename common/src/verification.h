// One verification attempt against one token: the window, replay, drift and
// lockout rules (private to the core; operations.cc runs it inside a write
// transaction and stores what it changed).
#ifndef OTPGATE_SRC_VERIFICATION_H_
#define OTPGATE_SRC_VERIFICATION_H_

#include <cstdint>
#include <string_view>

#include "lockout.h"
#include "otpgate/config.h"
#include "otpgate/operations.h"
#include "otpgate/otp.h"
#include "otpgate/token_record.h"

namespace otpgate {

struct Attempt {
  Decision decision = Decision::kReject;
  bool changed = false;  // the record must be written back
};

// Decides on `code` (normalised, exactly record.params.digits digits) at time
// `now` and updates `record`:
//  - locked (now < lock_until): kLocked, nothing changes, the code is not
//    looked at, so a correct code is not consumed;
//  - a fresh match: kAccept; the replay mark moves to the matched step or
//    counter, TOTP drift is learnt, failures and lock are cleared;
//  - a match at or below the replay mark: kReplay, counted as a failure;
//  - otherwise kReject, counted as a failure unless it is the same wrong
//    code as the previous failure typed against the same window (the same
//    TOTP step and drift, or the same next HOTP counter): such a repeat could
//    not have matched, and the same code in a later step counts again.
//    Reaching max_failures locks the token (lockout.h).
// kFailedPrecondition if the token has expired; kInvalidArgument if the
// record's counter or the time puts the window outside int64 (fails closed,
// changes nothing).
Result<Attempt> ApplyAttempt(TokenRecord& record, const HmacKey& key, std::string_view code,
                             int64_t now, const Config& config);

// Registration of an unassigned token by a user: the same window and replay
// rules, but failures (wrong code, replay) count against `registrant`, the
// registering user, never against the token, so that nobody can lock a
// token that its customer has not registered yet. Every failure counts
// (there is no token-keyed fingerprint to forgive a repeat with). While the
// registrant is locked: kLocked, the code is not looked at. On accept the
// registrant's failures are cleared. `changed` is true only on accept.
Result<Attempt> ApplyRegistration(TokenRecord& record, const HmacKey& key, std::string_view code,
                                  int64_t now, const Config& config, FailureState& registrant);

// Re-anchors drift (TOTP) or the counter (HOTP) from two consecutive codes
// found within the configured resync window.
Result<Attempt> ApplyResync(TokenRecord& record, const HmacKey& key, std::string_view code1,
                            std::string_view code2, int64_t now, const Config& config);

// Clears failures and lock.
void ClearFailures(TokenRecord& record);

}  // namespace otpgate

#endif  // OTPGATE_SRC_VERIFICATION_H_
