// The brute-force bound of the lockout rule (common/src/lockout.cc), driven
// through the injected time of each attempt. docs/security.md derives the
// same figures; if the rule is loosened, these tests fail.
#include "lockout.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <utility>

#include "otpgate/clock.h"
#include "otpgate/operations.h"
#include "test_util.h"
#include "verification.h"

namespace otpgate {
namespace {

using testing::Bytes;

constexpr int64_t kStart = 1'800'000'000;  // a multiple of 30
constexpr int64_t kDay = 86'400;
const char kSecret[] = "12345678901234567890";

// docs/security.md, "Brute force": with the default policy (max_failures 5,
// lockout 60 s doubling to 3,600 s) an attacker gets at most 33 guesses on
// the first day and 24 on each later one, 8,769 in a year.
constexpr int kDocumentedGuessesFirstDay = 33;
constexpr int kDocumentedGuessesPerYear = 8'769;
// ... and each guess matches with probability at most (2 * window + 1) / 10^6.
constexpr double kDocumentedYearProbability = 0.027;

// The schedule in closed form: the n-th failure is possible at the sum of
// the locks imposed by the failures before it.
int MaxGuessesWithin(int64_t seconds, const Config& config) {
  int64_t at = 0;
  int guesses = 0;
  for (uint32_t failure = 1; at < seconds; ++failure) {
    ++guesses;
    at += LockoutSeconds(failure, config);
  }
  return guesses;
}

TEST(LockoutTest, ScheduleDoublesAndCaps) {
  Config config;
  EXPECT_EQ(LockoutSeconds(4, config), 0);
  EXPECT_EQ(LockoutSeconds(5, config), 60);
  EXPECT_EQ(LockoutSeconds(6, config), 120);
  EXPECT_EQ(LockoutSeconds(10, config), 1920);
  EXPECT_EQ(LockoutSeconds(11, config), 3600);
  EXPECT_EQ(LockoutSeconds(UINT32_MAX, config), 3600);
  EXPECT_EQ(MaxGuessesWithin(kDay, config), kDocumentedGuessesFirstDay);
  EXPECT_EQ(MaxGuessesWithin(365 * kDay, config), kDocumentedGuessesPerYear);
  EXPECT_LE(kDocumentedGuessesPerYear * (2 * config.window + 1) / 1e6, kDocumentedYearProbability);
}

TEST(LockoutTest, LockUntilSaturates) {
  FailureState state;
  state.failures = 10;
  CountFailure(state, std::nullopt, INT64_MAX - 5, Config());
  EXPECT_EQ(state.lock_until, INT64_MAX);
}

TEST(LockoutTest, FailureStateRoundTripsAndRefusesDamage) {
  FailureState state;
  state.failures = 7;
  state.lock_until = kStart + 120;
  auto bytes = EncodeFailureState(state);
  auto decoded = DecodeFailureState(bytes);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->failures, 7u);
  EXPECT_EQ(decoded->lock_until, kStart + 120);
  bytes.pop_back();
  EXPECT_EQ(DecodeFailureState(bytes).status().code(), StatusCode::kCorrupt);
  bytes.push_back(0x80);  // negative lock time
  EXPECT_EQ(DecodeFailureState(bytes).status().code(), StatusCode::kCorrupt);
}

// An attacker who knows the password and guesses codes for one TOTP token,
// one strategy per case. The clock moves as the attacker chooses (never
// backwards); a guess counts as "effective" when the code was looked at
// (not refused as locked) and the (code, window) pair is new: only such a
// guess can succeed.
class GuessingTest : public ::testing::Test {
 protected:
  using Strategy = std::function<std::string(int attempt, int64_t step)>;

  void SetUp() override {
    record_.credential_id = "VSST00000001";
    record_.state = TokenState::kActive;
    record_.owner = "alice";
    record_.params.kind = OtpKind::kTotp;
    key_.emplace(HmacKey::Create(HashAlgorithm::kSha1, Bytes(kSecret)).value());
    // Codes valid at some step of the simulated period are never guessed:
    // the bound is about failures, not luck.
    for (int64_t t = kStart - 3600; t < kStart + 2 * kDay; t += 30) {
      valid_.insert(GenerateTotp(record_.params, Bytes(kSecret), t).value());
    }
  }

  std::string WrongCode(int n) {
    for (int candidate = n;; candidate += 1'000) {
      char code[8];
      std::snprintf(code, sizeof(code), "%06d", candidate % 1'000'000);
      if (!valid_.count(code)) return code;
    }
  }

  // Runs `strategy` for `seconds`, one attempt per `pace` seconds while not
  // locked, jumping to the end of each lock. Returns the effective guesses.
  int Run(const Strategy& strategy, int64_t seconds, int64_t pace) {
    std::set<std::pair<std::string, int64_t>> tried;
    int64_t now = kStart;
    for (int attempt = 0; now < kStart + seconds; ++attempt) {
      const int64_t step = TotpStep(now, 0, 30);
      std::string code = strategy(attempt, step);
      auto result = ApplyAttempt(record_, *key_, code, now, config_);
      EXPECT_TRUE(result.ok());
      EXPECT_NE(result->decision, Decision::kAccept);
      if (result->decision == Decision::kLocked) {
        now = record_.lock_until;
        continue;
      }
      tried.insert({code, step + record_.drift});
      now += pace;
    }
    return static_cast<int>(tried.size());
  }

  Config config_;
  TokenRecord record_;
  std::optional<HmacKey> key_;
  std::set<std::string> valid_;
};

TEST_F(GuessingTest, FreshCodesAsFastAsAllowedMeetTheBoundExactly) {
  int guesses = Run([&](int attempt, int64_t) { return WrongCode(attempt); }, kDay, 0);
  EXPECT_EQ(guesses, kDocumentedGuessesFirstDay);
}

// Regression (red team): one fixed wrong code repeated for ever never
// counted a second failure, so the token never locked and every new step
// gave a fresh chance (639 guesses in 10 s over RADIUS).
TEST_F(GuessingTest, OneFixedCodeRepeatedEverySecondStillLocks) {
  const std::string code = WrongCode(0);
  int guesses = Run([&](int, int64_t) { return code; }, kDay, 1);
  EXPECT_LE(guesses, kDocumentedGuessesFirstDay);
  EXPECT_GE(record_.failures, 5u);
  EXPECT_GT(record_.lock_until, kStart);
}

TEST_F(GuessingTest, OneFixedCodeOncePerStepCountsEachStep) {
  const std::string code = WrongCode(0);
  int guesses = Run([&](int, int64_t) { return code; }, kDay, 30);
  EXPECT_LE(guesses, kDocumentedGuessesFirstDay);
  EXPECT_GE(record_.failures, static_cast<uint32_t>(guesses));
}

TEST_F(GuessingTest, AlternatingCodesAndMixedPacesStayWithinTheBound) {
  const std::string a = WrongCode(1), b = WrongCode(2);
  for (int64_t pace : {0, 1, 7, 29, 31, 61}) {
    SetUp();
    record_.failures = 0;
    record_.lock_until = 0;
    int guesses = Run([&](int attempt, int64_t step) { return (attempt + step) % 3 == 0 ? a : b; },
                      kDay, pace);
    EXPECT_LE(guesses, kDocumentedGuessesFirstDay) << "pace " << pace;
  }
}

TEST_F(GuessingTest, AYearOfGuessingStaysWithinTheYearlyBound) {
  int guesses = Run([&](int attempt, int64_t) { return WrongCode(attempt); }, 365 * kDay, 0);
  EXPECT_EQ(guesses, kDocumentedGuessesPerYear);
}

// The same rule through the service and its injected clock (the real store,
// the real Verify): a fixed wrong code typed every 10 s for a day.
TEST(LockoutServiceTest, VerifyThroughTheInjectedClockLocksARepeatedCode) {
  testing::TempDir dir;
  Config config = testing::TestConfig(dir);
  ASSERT_TRUE(InitializeDeployment(config).ok());
  ManualClock clock(kStart);
  auto service = OtpService::Open(config, clock).value();
  TokenSpec spec;
  spec.credential_id = "VSST00000001";
  spec.owner = "alice";
  ASSERT_TRUE(service->Provision(spec, Bytes(kSecret)).ok());
  std::set<std::string> valid;
  for (int64_t t = kStart - 60; t < kStart + kDay + 60; t += 30) {
    valid.insert(GenerateTotp(OtpParams(), Bytes(kSecret), t).value());
  }
  std::string code = "000000";
  while (valid.count(code)) code[0]++;
  int looked_at = 0;
  std::set<int64_t> steps;
  while (clock.Now() < kStart + kDay) {
    auto verdict = service->Verify("alice", code);
    ASSERT_TRUE(verdict.ok());
    ASSERT_NE(verdict->decision, Decision::kAccept);
    if (verdict->decision == Decision::kLocked) {
      clock.Set(verdict->lock_until);
      continue;
    }
    ++looked_at;
    steps.insert(TotpStep(clock.Now(), 0, 30));
    clock.Advance(10);
  }
  EXPECT_LE(static_cast<int>(steps.size()), kDocumentedGuessesFirstDay);
  EXPECT_GE(service->Show("VSST00000001")->failures, 5u);
}

}  // namespace
}  // namespace otpgate
