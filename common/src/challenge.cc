#include "challenge.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "otpgate/otp.h"

namespace otpgate {
namespace {

constexpr uint8_t kChallengeVersion = 1;
constexpr std::string_view kKeyLabel = "otpgate radius challenge v1";
constexpr size_t kSignedBytes = kChallengeBytes - kChallengeTagBytes;  // version | nonce | expiry
constexpr size_t kExpiryAt = 1 + kChallengeNonceBytes;

}  // namespace

std::string_view ChallengeRefusalName(ChallengeRefusal refusal) {
  switch (refusal) {
    case ChallengeRefusal::kNone:
      return "state-ok";
    case ChallengeRefusal::kForgedOrOtherUser:
      return "state-forged-or-other-user";
    case ChallengeRefusal::kExpired:
      return "state-expired";
    case ChallengeRefusal::kUsed:
      return "state-used";
  }
  return "state-forged-or-other-user";
}

Challenges::Challenges(const MasterKey& master) : key_(master.Derive(kKeyLabel)) {}

std::optional<std::array<uint8_t, kChallengeTagBytes>> Challenges::Tag(
    std::span<const uint8_t> signed_part, std::string_view user) const {
  if (key_.empty()) return std::nullopt;
  std::vector<uint8_t> message(signed_part.begin(), signed_part.end());
  message.insert(message.end(), user.begin(), user.end());
  SecretBytes full(64);
  if (ComputeHmac(HashAlgorithm::kSha256, key_.span(), message, full.data()) < kChallengeTagBytes) {
    return std::nullopt;
  }
  std::array<uint8_t, kChallengeTagBytes> tag;
  std::copy_n(full.data(), tag.size(), tag.begin());
  return tag;
}

Result<std::vector<uint8_t>> Challenges::Issue(std::string_view user, int64_t now,
                                               int64_t lifetime) const {
  OTPGATE_ASSIGN_OR_RETURN(SecretBytes nonce, RandomBytes(kChallengeNonceBytes));
  std::vector<uint8_t> state;
  state.reserve(kChallengeBytes);
  state.push_back(kChallengeVersion);
  state.insert(state.end(), nonce.data(), nonce.data() + nonce.size());
  uint64_t expiry = static_cast<uint64_t>(now + lifetime);
  for (int shift = 56; shift >= 0; shift -= 8)
    state.push_back(static_cast<uint8_t>(expiry >> shift));
  auto tag = Tag(state, user);
  if (!tag.has_value()) return Status::Unavailable("the challenge tag cannot be computed");
  state.insert(state.end(), tag->begin(), tag->end());
  return state;
}

ChallengeCheck Challenges::Check(std::span<const uint8_t> state, std::string_view user,
                                 int64_t now) const {
  ChallengeCheck check;  // kForgedOrOtherUser until proven otherwise
  if (state.size() != kChallengeBytes || state[0] != kChallengeVersion) return check;
  auto expected = Tag(state.first(kSignedBytes), user);
  if (!expected.has_value() ||
      CRYPTO_memcmp(expected->data(), state.data() + kSignedBytes, expected->size()) != 0) {
    return check;
  }
  uint64_t expiry = 0;
  for (size_t i = 0; i < 8; ++i) expiry = expiry << 8 | state[kExpiryAt + i];
  check.ticket.expires_at = static_cast<int64_t>(expiry);
  std::copy_n(state.data() + 1, kChallengeNonceBytes, check.ticket.nonce.begin());
  check.refusal =
      now < check.ticket.expires_at ? ChallengeRefusal::kNone : ChallengeRefusal::kExpired;
  return check;
}

Result<ChallengeRefusal> Challenges::Consume(Txn& txn, const ChallengeTicket& ticket, int64_t now) {
  OTPGATE_ASSIGN_OR_RETURN(
      bool first, txn.ConsumeChallenge(ticket.nonce, ticket.expires_at, now - kPruneMarginSeconds));
  return first ? ChallengeRefusal::kNone : ChallengeRefusal::kUsed;
}

}  // namespace otpgate
