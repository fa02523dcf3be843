// One verification attempt against one token: the window, replay, drift and
// lockout rules (private to the core; operations.cc runs it inside a write
// transaction and stores what it changed).
#ifndef OTPGATE_SRC_VERIFICATION_H_
#define OTPGATE_SRC_VERIFICATION_H_

#include <cstdint>
#include <string_view>

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
//    code as the previous failure. Reaching max_failures locks the token for
//    lockout_seconds, doubling per further failure up to lockout_max_seconds.
// kFailedPrecondition if the token has expired.
Result<Attempt> ApplyAttempt(TokenRecord& record, const HmacKey& key, std::string_view code,
                             int64_t now, const Config& config);

// Re-anchors drift (TOTP) or the counter (HOTP) from two consecutive codes
// found within the configured resync window.
Result<Attempt> ApplyResync(TokenRecord& record, const HmacKey& key, std::string_view code1,
                            std::string_view code2, int64_t now, const Config& config);

// Clears failures and lock.
void ClearFailures(TokenRecord& record);

}  // namespace otpgate

#endif  // OTPGATE_SRC_VERIFICATION_H_
