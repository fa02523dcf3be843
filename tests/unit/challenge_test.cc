// The State of a RADIUS challenge (challenge.h): what it is made of, that
// every altered byte, another user, another key, the expiry and a second
// redemption each refuse it, and that two services sharing one store (two
// servers of a pool) finish each other's challenges exactly once.
#include "challenge.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "otpgate/operations.h"
#include "otpgate/otp.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::Bytes;
using testing::TempDir;

constexpr int64_t kStart = 1'800'000'000;  // a multiple of 30
constexpr int64_t kLifetime = 120;
const char kSecret[] = "12345678901234567890";

MasterKey Key(char fill) {
  return MasterKey::FromBytes(SecretBytes(std::vector<uint8_t>(32, fill)));
}

TEST(ChallengeTest, RoundTripCarriesNonceAndExpiry) {
  Challenges challenges(Key(1));
  auto state = challenges.Issue("alice", kStart, kLifetime);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  ASSERT_EQ(state->size(), kChallengeBytes);
  EXPECT_EQ(kChallengeBytes, 41u);  // fits RADIUS's State (<= 253 octets)
  EXPECT_EQ((*state)[0], 1) << "version";
  ChallengeCheck check = challenges.Check(*state, "alice", kStart);
  EXPECT_EQ(check.refusal, ChallengeRefusal::kNone);
  EXPECT_EQ(check.ticket.expires_at, kStart + kLifetime);
  EXPECT_TRUE(std::equal(check.ticket.nonce.begin(), check.ticket.nonce.end(), state->begin() + 1));
  // Two States never share a nonce (CSPRNG).
  auto other = challenges.Issue("alice", kStart, kLifetime);
  EXPECT_FALSE(std::equal(state->begin() + 1, state->begin() + 17, other->begin() + 1));
}

TEST(ChallengeTest, EveryAlteredByteIsRefused) {
  Challenges challenges(Key(1));
  std::vector<uint8_t> state = challenges.Issue("alice", kStart, kLifetime).value();
  for (size_t i = 0; i < state.size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      std::vector<uint8_t> altered = state;
      altered[i] ^= bit;
      EXPECT_EQ(challenges.Check(altered, "alice", kStart).refusal,
                ChallengeRefusal::kForgedOrOtherUser)
          << "byte " << i << " bit " << int(bit);
    }
  }
  std::vector<uint8_t> longer = state;
  longer.push_back(0);
  EXPECT_EQ(challenges.Check(longer, "alice", kStart).refusal,
            ChallengeRefusal::kForgedOrOtherUser);
  EXPECT_EQ(challenges.Check(std::span(state).first(40), "alice", kStart).refusal,
            ChallengeRefusal::kForgedOrOtherUser);
  EXPECT_EQ(challenges.Check({}, "alice", kStart).refusal, ChallengeRefusal::kForgedOrOtherUser);
  // 16 random bytes, as FreeRADIUS's own State is.
  EXPECT_EQ(challenges.Check(std::vector<uint8_t>(16, 0x5a), "alice", kStart).refusal,
            ChallengeRefusal::kForgedOrOtherUser);
}

TEST(ChallengeTest, AnotherUsersOrAnotherKeysStateIsRefused) {
  Challenges challenges(Key(1));
  std::vector<uint8_t> state = challenges.Issue("alice", kStart, kLifetime).value();
  EXPECT_EQ(challenges.Check(state, "bob", kStart).refusal, ChallengeRefusal::kForgedOrOtherUser);
  EXPECT_EQ(challenges.Check(state, "alice ", kStart).refusal,
            ChallengeRefusal::kForgedOrOtherUser);
  EXPECT_EQ(Challenges(Key(2)).Check(state, "alice", kStart).refusal,
            ChallengeRefusal::kForgedOrOtherUser);
  // Another pool's key (the same master key derives the same challenge key).
  EXPECT_EQ(Challenges(Key(1)).Check(state, "alice", kStart).refusal, ChallengeRefusal::kNone);
}

TEST(ChallengeTest, ExpiresAtItsExpirySecond) {
  Challenges challenges(Key(1));
  std::vector<uint8_t> state = challenges.Issue("alice", kStart, kLifetime).value();
  EXPECT_EQ(challenges.Check(state, "alice", kStart + kLifetime - 1).refusal,
            ChallengeRefusal::kNone);
  EXPECT_EQ(challenges.Check(state, "alice", kStart + kLifetime).refusal,
            ChallengeRefusal::kExpired);
  EXPECT_EQ(challenges.Check(state, "alice", kStart + 100 * kLifetime).refusal,
            ChallengeRefusal::kExpired);
  // The tag is checked before the expiry: an expired forgery is a forgery.
  state.back() ^= 1;
  EXPECT_EQ(challenges.Check(state, "alice", kStart + kLifetime).refusal,
            ChallengeRefusal::kForgedOrOtherUser);
}

TEST(ChallengeTest, ConsumedOnceInTheStore) {
  TempDir dir;
  auto store = Store::Open({.location = dir.File("s"), .create = true}).value();
  Challenges challenges(Key(1));
  ChallengeTicket ticket =
      challenges.Check(challenges.Issue("alice", kStart, kLifetime).value(), "alice", kStart)
          .ticket;
  auto consume = [&](int64_t now) {
    ChallengeRefusal refusal = ChallengeRefusal::kNone;
    EXPECT_TRUE(store
                    ->Write([&](Txn& txn) -> Status {
                      OTPGATE_ASSIGN_OR_RETURN(refusal, Challenges::Consume(txn, ticket, now));
                      return Status::Ok();
                    })
                    .ok());
    return refusal;
  };
  EXPECT_EQ(consume(kStart), ChallengeRefusal::kNone);
  EXPECT_EQ(consume(kStart + 1), ChallengeRefusal::kUsed);
  // Still remembered past its expiry within the pool's clock margin.
  EXPECT_EQ(consume(kStart + kLifetime + Challenges::kPruneMarginSeconds - 1),
            ChallengeRefusal::kUsed);
}

// Two services on one store: two servers of a pool.
class PoolChallengeTest : public ::testing::Test {
 protected:
  class RecordingSink : public AuditSink {
   public:
    void Record(const AuditEvent& e) override { lines.push_back(FormatAuditLine(e)); }
    std::vector<std::string> lines;
  };

  void SetUp() override {
    config_ = testing::TestConfig(dir_);
    config_.challenge_timeout = kLifetime;
    ASSERT_TRUE(InitializeDeployment(config_).ok());
    a_ = OtpService::Open(config_, clock_, false, &audit_).value();
    b_ = OtpService::Open(config_, clock_, false, &audit_).value();
    TokenSpec spec;
    spec.credential_id = "VSST00000001";
    spec.owner = "alice";
    ASSERT_TRUE(a_->Provision(spec, Bytes(kSecret)).ok());
  }

  std::string Code(int steps = 0) {
    return GenerateTotp(OtpParams{}, Bytes(kSecret), clock_.Now() + 30 * steps).value();
  }

  // The reason in the last audit line.
  std::string LastReason() {
    if (audit_.lines.empty()) return "";
    const std::string& line = audit_.lines.back();
    size_t at = line.find("reason=");
    return at == std::string::npos ? "" : line.substr(at + 7, line.find(' ', at) - at - 7);
  }

  TempDir dir_;
  Config config_;
  ManualClock clock_{kStart};
  RecordingSink audit_;
  std::unique_ptr<OtpService> a_, b_;
};

TEST_F(PoolChallengeTest, RoundTwoAtAnotherServerThenNowhereAgain) {
  std::vector<uint8_t> state = a_->IssueChallenge("alice").value();
  auto verdict = b_->VerifyChallenged("alice", state, Code());
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->decision, Decision::kAccept);
  clock_.Advance(30);  // a fresh code: only the State is used
  for (OtpService* server : {a_.get(), b_.get()}) {
    auto again = server->VerifyChallenged("alice", state, Code());
    EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(again.status().message(), "state-used");
    EXPECT_TRUE(IsChallengeRefusal(again.status()));
    EXPECT_EQ(LastReason(), "state-used");
    EXPECT_NE(audit_.lines.back().find("outcome=reject"), std::string::npos) << audit_.lines.back();
  }
  // The fresh code was not spent by the refused requests.
  EXPECT_EQ(a_->Verify("alice", Code()).value().decision, Decision::kAccept);
}

TEST_F(PoolChallengeTest, AWrongCodeSpendsTheState) {
  std::vector<uint8_t> state = a_->IssueChallenge("alice").value();
  EXPECT_EQ(b_->VerifyChallenged("alice", state, "000000").value().decision, Decision::kReject);
  auto again = a_->VerifyChallenged("alice", state, Code());
  EXPECT_EQ(again.status().message(), "state-used");
  EXPECT_EQ(a_->Show("VSST00000001").value().failures, 1u)
      << "the refused State counted no failure";
}

TEST_F(PoolChallengeTest, ForgedOtherUsersAndExpiredStatesAreRefused) {
  std::vector<uint8_t> state = a_->IssueChallenge("alice").value();
  std::vector<uint8_t> forged = state;
  forged[20] ^= 4;
  EXPECT_EQ(b_->VerifyChallenged("alice", forged, Code()).status().message(),
            "state-forged-or-other-user");
  EXPECT_EQ(LastReason(), "state-forged-or-other-user");
  EXPECT_EQ(b_->VerifyChallenged("bob", state, Code()).status().message(),
            "state-forged-or-other-user");
  clock_.Advance(kLifetime);
  EXPECT_EQ(b_->VerifyChallenged("alice", state, Code()).status().message(), "state-expired");
  EXPECT_EQ(LastReason(), "state-expired");
  EXPECT_EQ(a_->Show("VSST00000001").value().failures, 0u) << "no code was looked at";
}

TEST_F(PoolChallengeTest, AMalformedCodeLeavesTheStateUnspent) {
  // Refused before any token looked at a code: nothing to spend it on.
  std::vector<uint8_t> state = a_->IssueChallenge("alice").value();
  EXPECT_EQ(b_->VerifyChallenged("alice", state, "12a456").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(b_->VerifyChallenged("alice", state, Code()).value().decision, Decision::kAccept);
}

}  // namespace
}  // namespace otpgate
