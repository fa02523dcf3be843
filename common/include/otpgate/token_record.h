// The stored form of one token: a compact, versioned binary record.
#ifndef OTPGATE_TOKEN_RECORD_H_
#define OTPGATE_TOKEN_RECORD_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "otpgate/otp.h"
#include "otpgate/status.h"
#include "otpgate/values.h"

namespace otpgate {

struct TokenRecord {
  std::string credential_id;
  OtpParams params;
  std::vector<uint8_t> sealed_secret;  // see sealing.h; never the clear secret
  TokenState state = TokenState::kUnassigned;
  std::string owner;   // empty unless active or disabled
  std::string issuer;  // for display
  // Replay mark: last accepted TOTP step or HOTP counter, kNoneAccepted if none.
  // For HOTP a new token's mark is (initial counter - 1).
  int64_t last_accepted = kNoneAccepted;
  int64_t drift = 0;       // TOTP: offset in steps of the token's clock, learnt at accept/resync
  uint32_t failures = 0;   // consecutive failed verifications
  int64_t lock_until = 0;  // epoch seconds; locked while now < lock_until
  // Keyed fingerprint of the last wrong code, so that resubmitting the same
  // wrong code counts as one failure (never the code itself).
  std::array<uint8_t, 8> last_failure_fingerprint{};
  int64_t created_at = 0;
  int64_t bound_at = 0;
  int64_t last_used_at = 0;
  int64_t valid_from = 0;   // 0: no start date
  int64_t valid_until = 0;  // 0: no expiry
  // Non-zero: written by a staged import (Store::WriteStaged) of this number
  // and visible only once that import is published. A backend returns
  // visible records with 0 here; callers never set it.
  uint64_t staged_by = 0;

  bool LockedAt(int64_t now) const { return lock_until > now; }
  bool ExpiredAt(int64_t now) const { return valid_until != 0 && now > valid_until; }
  bool NotYetValidAt(int64_t now) const { return valid_from != 0 && now < valid_from; }
};

// Format version 1, little-endian:
//   u8 version=1 | u8 state | u8 kind | u8 algorithm | u8 digits | u8 reserved=0
//   | i64 period | i64 t0 | i64 last_accepted | i64 drift | u32 failures
//   | i64 lock_until | 8 bytes fingerprint | i64 created | i64 bound
//   | i64 last_used | i64 valid_from | i64 valid_until
//   | (u16 length, bytes) for: credential_id, owner, issuer, sealed_secret
// Version 2 is version 1 followed by u64 staged_by (non-zero); a record
// with staged_by 0 is always written as version 1, so stores that never
// staged an import hold only version 1 records.
// Decoding checks every length and value: a truncated, padded or
// out-of-range record is kCorrupt, never a partly filled struct.
std::vector<uint8_t> EncodeTokenRecord(const TokenRecord& record);
Result<TokenRecord> DecodeTokenRecord(std::span<const uint8_t> bytes);
// The record a store found under `credential_id`: decoded, and kCorrupt
// (naming the token) if it does not decode or belongs to another ID (a
// record moved between keys). Every backend reads tokens through this.
Result<TokenRecord> DecodeStoredToken(std::string_view credential_id,
                                      std::span<const uint8_t> bytes);

}  // namespace otpgate

#endif  // OTPGATE_TOKEN_RECORD_H_
