// Fault injection: OpenSSL can compute no MAC and no cipher. Before any
// test runs, the default property query is set to one that no provider
// satisfies, so every later fetch fails as it would with a broken or
// misconfigured OpenSSL. Set up before that, while OpenSSL still works: the
// random generator (so that failures below come from the MAC or the cipher,
// not from a nonce), and a State issuer and a journal holding keys derived
// for real (so that their MAC fails when it is computed, not because they
// have no key). Every keyed operation must then fail closed: no derived key,
// no RADIUS State issued or accepted (in particular not one whose tag is all
// zeros, which an unchecked failed MAC would also be), no journal entry
// written, nothing sealed or opened.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>
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

MasterKey Key() { return MasterKey::FromBytes(SecretBytes(std::vector<uint8_t>(32, 7))); }

// Made before the injection, with working OpenSSL.
struct MadeBefore {
  bool random_works = false;
  std::unique_ptr<Challenges> challenges;
  std::unique_ptr<Journal> journal;
  bool fetches_fail = false;
};

// Runs before main(), so before any test.
const MadeBefore& Before() {
  static const MadeBefore made = [] {
    MadeBefore m;
    uint8_t warm[32];
    m.random_works = RAND_bytes(warm, sizeof(warm)) == 1;
    m.challenges = std::make_unique<Challenges>(Key());
    m.journal = std::make_unique<Journal>(Key());
    m.fetches_fail = EVP_set_default_properties(nullptr, "provider=otpgate-test-none") == 1;
    return m;
  }();
  return made;
}
const MadeBefore& kBefore = Before();

TEST(CryptoFailureTest, TheInjectionTakesHold) {
  ASSERT_TRUE(kBefore.random_works);
  ASSERT_TRUE(kBefore.fetches_fail);
  EXPECT_EQ(EVP_MD_fetch(nullptr, "SHA256", nullptr), nullptr);
  EXPECT_EQ(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr), nullptr);
  uint8_t mac[64];
  const uint8_t key[16] = {1}, message[4] = {2};
  EXPECT_EQ(ComputeHmac(HashAlgorithm::kSha256, key, message, mac), 0u);
  // The random generator made before still works: the failures below are
  // the MAC's and the cipher's.
  uint8_t nonce[12];
  EXPECT_EQ(RAND_bytes(nonce, sizeof(nonce)), 1);
}

TEST(CryptoFailureTest, NoKeyIsDerived) { EXPECT_TRUE(Key().Derive("any label").empty()); }

// A State of the right shape, for "alice", unexpired at kStart, whose tag
// is all `fill` bytes.
std::vector<uint8_t> StateWithTag(uint8_t fill) {
  std::vector<uint8_t> state(kChallengeBytes, fill);
  state[0] = 1;  // the current version
  std::fill(state.begin() + 1 + kChallengeNonceBytes, state.begin() + 1 + kChallengeNonceBytes + 8,
            0x7f);  // an expiry far in the future
  return state;
}

// The issuer holds a real key; its MAC fails when computed.
TEST(CryptoFailureTest, NoStateIsIssuedAndNoneIsAcceptedWhenTheMacFails) {
  auto issued = kBefore.challenges->Issue("alice", kStart, 120);
  EXPECT_EQ(issued.status().code(), StatusCode::kUnavailable) << issued.status().ToString();
  EXPECT_NE(issued.status().message().find("tag cannot be computed"), std::string::npos)
      << issued.status().ToString();
  for (uint8_t fill : {0x00, 0xff}) {
    ChallengeCheck check = kBefore.challenges->Check(StateWithTag(fill), "alice", kStart);
    EXPECT_EQ(check.refusal, ChallengeRefusal::kForgedOrOtherUser) << int(fill);
  }
}

// An issuer made now has no key at all: the same refusals.
TEST(CryptoFailureTest, NoStateIsIssuedAndNoneIsAcceptedWithoutAKey) {
  Challenges challenges(Key());
  EXPECT_EQ(challenges.Issue("alice", kStart, 120).status().code(), StatusCode::kUnavailable);
  for (uint8_t fill : {0x00, 0xff}) {
    ChallengeCheck check = challenges.Check(StateWithTag(fill), "alice", kStart);
    EXPECT_EQ(check.refusal, ChallengeRefusal::kForgedOrOtherUser) << int(fill);
  }
}

TEST(CryptoFailureTest, NoJournalEntryIsWritten) {
  TempDir dir;
  auto store = Store::Open(StoreOptions{.location = dir.path() + "/store", .create = true});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  JournalEntry entry;
  entry.time = kStart;
  entry.action = "login";
  entry.user = "alice";
  entry.outcome = "accept";
  Status appended = (*store)->Write([&](Txn& txn) { return kBefore.journal->Append(txn, entry); });
  EXPECT_EQ(appended.code(), StatusCode::kUnavailable) << appended.ToString();
  EXPECT_NE(appended.message().find("chain value cannot be computed"), std::string::npos)
      << appended.ToString();
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
  EXPECT_NE(sealed.status().message().find("encryption failed"), std::string::npos)
      << sealed.status().ToString();
  // A well-formed sealed value: the failure is reported as OpenSSL's, not as
  // a record that does not authenticate (which would send an operator
  // looking for tampering or a wrong key).
  std::vector<uint8_t> value(1 + 12 + 20 + 16, 0);
  value[0] = 1;
  auto opened = key.Open(value, "VSST12345678");
  EXPECT_EQ(opened.status().code(), StatusCode::kInternal) << opened.status().ToString();
  EXPECT_NE(opened.status().message().find("OpenSSL"), std::string::npos)
      << opened.status().ToString();
}

}  // namespace
}  // namespace otpgate
