// The State of a RADIUS challenge (challenge.h), as a stranger sends it in
// round two: input = user length (1 byte) | user | State. Whatever the
// bytes, Check refuses them (forging a 128-bit tag is out of reach), never
// reads out of bounds; a State issued for that user passes, and the same
// State with the byte the input picks altered is refused again.
#include "challenge.h"
#include "fuzz_util.h"

using namespace otpgate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Challenges challenges(
      MasterKey::FromBytes(SecretBytes(std::vector<uint8_t>(kMasterKeyBytes, 0x42))));
  constexpr int64_t kNow = 1'800'000'000;
  if (size == 0) return 0;
  size_t user_length = std::min<size_t>(data[0], size - 1);
  std::string_view user = fuzz::Text(data + 1, user_length);
  std::span<const uint8_t> state(data + 1 + user_length, size - 1 - user_length);

  FUZZ_CHECK(challenges.Check(state, user, kNow).refusal == ChallengeRefusal::kForgedOrOtherUser);

  auto issued = challenges.Issue(user, kNow, 120);
  FUZZ_CHECK(issued.ok() && issued->size() == kChallengeBytes);
  FUZZ_CHECK(challenges.Check(*issued, user, kNow).refusal == ChallengeRefusal::kNone);
  FUZZ_CHECK(challenges.Check(*issued, user, kNow + 120).refusal == ChallengeRefusal::kExpired);
  if (!state.empty()) {
    std::vector<uint8_t> altered = *issued;
    altered[state[0] % altered.size()] ^= static_cast<uint8_t>(state.size() % 255 + 1);
    FUZZ_CHECK(challenges.Check(altered, user, kNow).refusal ==
               ChallengeRefusal::kForgedOrOtherUser);
  }
  return 0;
}
