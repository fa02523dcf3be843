// The window, replay and overflow rules of one attempt (common/src/verification.cc).
#include "verification.h"

#include <gtest/gtest.h>

#include <chrono>

#include "otpgate/otpauth_uri.h"
#include "otpgate/pskc.h"
#include "otpgate/token_import.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::Bytes;

constexpr int64_t kNow = 1'800'000'000;
const char kSecret[] = "12345678901234567890";
// The value the red team fed in: the window's end overflowed int64 and the
// scan looped for ever holding the write lock.
constexpr int64_t kRedTeamCounter = 9223372036854775797;

HmacKey Key() { return HmacKey::Create(HashAlgorithm::kSha1, Bytes(kSecret)).value(); }

TokenRecord HotpRecord(int64_t last_accepted) {
  TokenRecord record;
  record.credential_id = "HOTP00000001";
  record.params.kind = OtpKind::kHotp;
  record.state = TokenState::kActive;
  record.owner = "alice";
  record.last_accepted = last_accepted;
  return record;
}

std::string Hotp(int64_t counter) {
  return GenerateHotp(HashAlgorithm::kSha1, Bytes(kSecret), static_cast<uint64_t>(counter), 6)
      .value();
}

TEST(VerificationOverflowTest, HotpCounterNearInt64MaxFailsClosedAtOnce) {
  for (int64_t last : {kRedTeamCounter, INT64_MAX - 1, INT64_MAX, kMaxHotpCounter}) {
    TokenRecord record = HotpRecord(last);
    const TokenRecord before = record;
    auto started = std::chrono::steady_clock::now();
    auto attempt = ApplyAttempt(record, Key(), "123456", kNow, Config());
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
    ASSERT_FALSE(attempt.ok()) << last;
    EXPECT_EQ(attempt.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(EncodeTokenRecord(record), EncodeTokenRecord(before)) << "nothing changes";
    auto resync = ApplyResync(record, Key(), "123456", "654321", kNow, Config());
    EXPECT_EQ(resync.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(VerificationOverflowTest, HotpAcceptsUpToTheLargestCounter) {
  TokenRecord record = HotpRecord(kMaxHotpCounter - 1);
  auto attempt = ApplyAttempt(record, Key(), Hotp(kMaxHotpCounter), kNow, Config());
  ASSERT_TRUE(attempt.ok()) << attempt.status().message();
  EXPECT_EQ(attempt->decision, Decision::kAccept);
  EXPECT_EQ(record.last_accepted, kMaxHotpCounter);
  // Exhausted: the next attempt is refused, not wrapped.
  EXPECT_FALSE(ApplyAttempt(record, Key(), Hotp(0), kNow, Config()).ok());
}

TEST(VerificationOverflowTest, TotpStepAndDriftAtTheEdgesOfTime) {
  EXPECT_EQ(TotpStep(INT64_MAX, 0, 1), INT64_MAX);
  EXPECT_EQ(TotpStep(INT64_MIN, kMaxT0, 1), INT64_MIN) << "clamped, no overflow";
  EXPECT_EQ(TotpStep(INT64_MIN, INT64_MAX, 30), -614891469123651721);  // floor((2^64 - 1) / -30)
  EXPECT_EQ(TotpStep(-1, 0, 30), -1);
  EXPECT_EQ(TotpStep(59, 0, 30), 1);
  TokenRecord record = HotpRecord(kNoneAccepted);
  record.params.kind = OtpKind::kTotp;
  record.params.period = 1;
  record.drift = kMaxDriftSteps;
  for (int64_t now : {INT64_MAX, INT64_MAX - 1}) {
    TokenRecord copy = record;
    auto attempt = ApplyAttempt(copy, Key(), "123456", now, Config());
    EXPECT_EQ(attempt.status().code(), StatusCode::kInvalidArgument) << now;
  }
  // Long before T0: every step is negative, nothing matches.
  record.params.t0 = kMaxT0;
  auto attempt = ApplyAttempt(record, Key(), "123456", kNow, Config());
  ASSERT_TRUE(attempt.ok());
  EXPECT_EQ(attempt->decision, Decision::kReject);
}

TEST(VerificationOverflowTest, ScanWindowRunsByCount) {
  auto top = ScanWindow(Key(), 6, Hotp(0), INT64_MAX - 2, INT64_MAX, INT64_MAX - 1, -1);
  ASSERT_TRUE(top.ok()) << "three values ending at INT64_MAX, no endless loop";
  EXPECT_FALSE(top->accepted.has_value());
  EXPECT_EQ(ScanWindow(Key(), 6, Hotp(0), 0, INT64_MAX, 0, -1).status().code(),
            StatusCode::kInvalidArgument);
  auto empty = ScanWindow(Key(), 6, Hotp(0), 5, 4, 5, -1);
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->accepted.has_value());
  EXPECT_FALSE(FindConsecutive(Key(), 6, Hotp(0), Hotp(1), INT64_MAX - 3, INT64_MAX).ok());
}

// The twins at the import boundary: a counter the window could not hold is
// refused where it enters (CSV, key URI, PSKC) with a reason.
TEST(VerificationOverflowTest, ImportsRefuseCountersBeyondTheRange) {
  const std::string big = std::to_string(kRedTeamCounter);
  auto csv = ParseTokenCsv("HOTP00000001,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,,hotp,,6," + big, "x");
  EXPECT_TRUE(csv.tokens.empty());
  ASSERT_EQ(csv.rejected.size(), 1u);
  EXPECT_NE(csv.rejected[0].reason.find("counter"), std::string::npos);
  auto uri = ParseKeyUri(
      "otpauth://hotp/x:HOTP00000001?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
      "&counter=" +
      big);
  EXPECT_EQ(uri.status().code(), StatusCode::kInvalidArgument);
  auto ok = ParseKeyUri(
      "otpauth://hotp/x:HOTP00000001?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
      "&counter=" +
      std::to_string(kMaxHotpCounter));
  EXPECT_TRUE(ok.ok());
  OtpParams params;
  params.t0 = kMaxT0 + 1;
  EXPECT_FALSE(params.Validate().ok());
}

}  // namespace
}  // namespace otpgate
