// The State of a RADIUS challenge that any server of a pool can redeem
// (private to the core).
//
// Round one (password accepted) issues a State for the user; round two
// brings it back with the code, perhaps to another server of the pool. Every
// server holds the same master key and the same store, so the State needs no
// server-side session: it carries what round two must check and is
// authenticated with a key derived from the master key.
//
//   State (41 bytes) = version (1, 0x01) | nonce (16, CSPRNG)
//                      | expiry (8, i64 Unix seconds, big-endian) | tag (16)
//   tag = HMAC-SHA256(challenge key, version | nonce | expiry | user)[0..16)
//   challenge key = MasterKey::Derive("otpgate radius challenge v1")
//
// The user is authenticated but not carried: round two names its user in
// User-Name, and a State issued to someone else fails the tag, exactly as a
// forged one does (the two cannot be told apart, and need not be). The tag
// is truncated to 128 bits: a forger must guess it online, one RADIUS round
// trip per guess, against 2^128 values, and a State lives for minutes; the
// shorter State keeps well inside RADIUS's 253-octet attribute.
//
// Redemption, in this order: length and version, tag (for this user),
// expiry (valid while now < expiry), then the nonce is consumed in the
// shared store (Txn::ConsumeChallenge) inside the transaction that decides
// the code, so a State is used at most once across the pool and an accepted
// code and its used State are committed together or not at all.
#ifndef OTPGATE_SRC_CHALLENGE_H_
#define OTPGATE_SRC_CHALLENGE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "otpgate/sealing.h"
#include "otpgate/secret.h"
#include "otpgate/status.h"
#include "otpgate/store.h"

namespace otpgate {

constexpr size_t kChallengeNonceBytes = 16;
constexpr size_t kChallengeTagBytes = 16;
constexpr size_t kChallengeBytes = 1 + kChallengeNonceBytes + 8 + kChallengeTagBytes;  // 41

// Why a State was refused: each is audited as reason=<name>.
enum class ChallengeRefusal {
  kNone,
  kForgedOrOtherUser,  // malformed, unknown version, or the tag does not
                       // verify for this user
  kExpired,
  kUsed,  // already redeemed at some server of the pool
};
std::string_view ChallengeRefusalName(ChallengeRefusal refusal);  // "state-expired", ...

// A State that passed its checks, ready to be consumed.
struct ChallengeTicket {
  std::array<uint8_t, kChallengeNonceBytes> nonce{};
  int64_t expires_at = 0;
};

// Checked without the store: kNone and the ticket, or the refusal.
struct ChallengeCheck {
  ChallengeRefusal refusal = ChallengeRefusal::kForgedOrOtherUser;
  ChallengeTicket ticket;
};

class Challenges {
 public:
  explicit Challenges(const MasterKey& master);

  // A new State for `user`, valid for `lifetime` seconds from `now`.
  // kUnavailable if the CSPRNG or the MAC fails.
  Result<std::vector<uint8_t>> Issue(std::string_view user, int64_t now, int64_t lifetime) const;
  // Format, tag (constant-time compare) and expiry, in that order. A tag
  // that cannot be computed refuses the State.
  ChallengeCheck Check(std::span<const uint8_t> state, std::string_view user, int64_t now) const;
  // Consumes a checked ticket in `txn`: kNone the first time, kUsed after.
  // Entries are pruned only once they expired `kPruneMarginSeconds` before
  // `now`, so a pool whose clocks disagree by less than that never forgets a
  // nonce that a server with a slower clock would still accept.
  static Result<ChallengeRefusal> Consume(Txn& txn, const ChallengeTicket& ticket, int64_t now);
  static constexpr int64_t kPruneMarginSeconds = 300;

 private:
  // nullopt if the MAC cannot be computed (no key, OpenSSL failed).
  std::optional<std::array<uint8_t, kChallengeTagBytes>> Tag(std::span<const uint8_t> signed_part,
                                                             std::string_view user) const;

  SecretBytes key_;  // wiped with the object
};

}  // namespace otpgate

#endif  // OTPGATE_SRC_CHALLENGE_H_
