// The failure counter and backoff: how many wrong answers a subject (a token,
// or a user registering a token) may give before it is locked, and for how
// long (private to the core).
//
// The bound this rule gives, per account and day, is derived and tested in
// docs/security.md and tests/unit/lockout_test.cc.
#ifndef OTPGATE_SRC_LOCKOUT_H_
#define OTPGATE_SRC_LOCKOUT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "otpgate/config.h"
#include "otpgate/otp.h"
#include "otpgate/status.h"

namespace otpgate {

using FailureFingerprint = std::array<uint8_t, 8>;

struct FailureState {
  uint32_t failures = 0;   // consecutive failures since the last accept
  int64_t lock_until = 0;  // locked while now < lock_until
  FailureFingerprint last_fingerprint{};

  bool LockedAt(int64_t now) const { return lock_until > now; }
};

// A keyed fingerprint of a wrong code typed against one window position (the
// TOTP window centre, or the next HOTP counter). Equal fingerprints mean the
// same code against the same set of acceptable values: a repeat that could
// not have succeeded, so it is not counted again. The same code in a later
// TOTP step is a new guess and counts. Keyed by the token's own secret, so
// the stored 8 bytes say nothing about the code.
FailureFingerprint FingerprintWrongCode(const HmacKey& key, std::string_view code,
                                        int64_t window_centre);

// Counts one failure at `now`. With a fingerprint equal to the last one (and
// failures > 0) nothing changes; without a fingerprint every call counts.
// From the max_failures-th failure on, the subject is locked for
// lockout_seconds, doubling with each further failure up to
// lockout_max_seconds.
void CountFailure(FailureState& state, const std::optional<FailureFingerprint>& fingerprint,
                  int64_t now, const Config& config);

// The lock that the `failures`-th consecutive failure imposes (0 below
// max_failures).
int64_t LockoutSeconds(uint32_t failures, const Config& config);

// A registering user's failure state, kept in the store's meta table:
//   u8 version=1 | u32 failures | i64 lock_until   (little-endian)
// Decoding checks length, version and range: anything else is kCorrupt.
std::vector<uint8_t> EncodeFailureState(const FailureState& state);
Result<FailureState> DecodeFailureState(std::span<const uint8_t> bytes);

}  // namespace otpgate

#endif  // OTPGATE_SRC_LOCKOUT_H_
