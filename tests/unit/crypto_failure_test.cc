// Fault injection: OpenSSL can compute no MAC and no cipher. Before anything
// in this process fetches an algorithm, the default property query is set to
// one that no provider satisfies, so every fetch fails as it would with a
// broken or misconfigured OpenSSL. Every keyed operation of the core must
// then fail closed: no derived key, no RADIUS State issued or accepted (in
// particular not one whose tag is all zeros, which an unchecked failed MAC
// would also be), no journal entry written, nothing sealed or opened.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "challenge.h"
#include "journal.h"
#include "otpgate/otp.h"
#include "otpgate/sealing.h"
#include "otpgate/store.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::TempDir;

constexpr int64_t kStart = 1'800'000'000;

// Runs before main(), so before any fetch of this process.
const bool kFetchesFail = EVP_set_default_properties(nullptr, "provider=otpgate-test-none") == 1;

MasterKey Key() { return MasterKey::FromBytes(SecretBytes(std::vector<uint8_t>(32, 7))); }

TEST(CryptoFailureTest, TheInjectionTakesHold) {
  ASSERT_TRUE(kFetchesFail);
  EXPECT_EQ(EVP_MAC_fetch(nullptr, "HMAC", nullptr), nullptr);
  uint8_t mac[64];
  const uint8_t key[16] = {1}, message[4] = {2};
  EXPECT_EQ(ComputeHmac(HashAlgorithm::kSha256, key, message, mac), 0u);
}

TEST(CryptoFailureTest, NoKeyIsDerived) { EXPECT_TRUE(Key().Derive("any label").empty()); }

TEST(CryptoFailureTest, NoStateIsIssuedAndNoneIsAccepted) {
  Challenges challenges(Key());
  auto issued = challenges.Issue("alice", kStart, 120);
  EXPECT_FALSE(issued.ok());
  // A State of the right shape with an all-zero tag, and one with a tag of
  // ones: both refused, as is every other.
  for (uint8_t fill : {0x00, 0xff}) {
    std::vector<uint8_t> state(kChallengeBytes, fill);
    state[0] = 1;  // the current version
    std::fill(state.begin() + 1 + kChallengeNonceBytes,
              state.begin() + 1 + kChallengeNonceBytes + 8,
              0x7f);  // an expiry far in the future
    ChallengeCheck check = challenges.Check(state, "alice", kStart);
    EXPECT_EQ(check.refusal, ChallengeRefusal::kForgedOrOtherUser) << int(fill);
  }
}

TEST(CryptoFailureTest, NoJournalEntryIsWritten) {
  TempDir dir;
  auto store = Store::Open(StoreOptions{.location = dir.path() + "/store", .create = true});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Journal journal(Key());
  JournalEntry entry;
  entry.time = kStart;
  entry.action = "login";
  entry.user = "alice";
  entry.outcome = "accept";
  Status appended = (*store)->Write([&](Txn& txn) { return journal.Append(txn, entry); });
  EXPECT_EQ(appended.code(), StatusCode::kUnavailable) << appended.ToString();
  Status read = (*store)->Read([](Txn& txn) -> Status {
    auto last = txn.LastJournalEntry();
    if (!last.ok()) return last.status();
    EXPECT_FALSE(last->has_value()) << "a journal entry was written";
    return Status::Ok();
  });
  EXPECT_TRUE(read.ok()) << read.ToString();
}

TEST(CryptoFailureTest, NothingIsSealedOrOpened) {
  MasterKey key = Key();
  const uint8_t secret[20] = {1, 2, 3};
  auto sealed = key.Seal(secret, "VSST12345678");
  EXPECT_EQ(sealed.status().code(), StatusCode::kInternal) << sealed.status().ToString();
  // A well-formed sealed value: the failure is reported as OpenSSL's, not as
  // a record that does not authenticate (which would send an operator
  // looking for tampering or a wrong key).
  std::vector<uint8_t> value(1 + 12 + 20 + 16, 0);
  value[0] = 1;
  auto opened = key.Open(value, "VSST12345678");
  EXPECT_EQ(opened.status().code(), StatusCode::kInternal) << opened.status().ToString();
}

}  // namespace
}  // namespace otpgate
