#include <gtest/gtest.h>

#include "otpgate/migrate.h"

namespace otpgate {
namespace {

MigrationOptions Options() { return MigrationOptions{"GA", "Bank", 1'800'000'000}; }

TEST(GoogleAuthenticatorTest, TotpWithUsedSteps) {
  std::vector<std::string> notes;
  auto token = ParseGoogleAuthenticatorFile(
      "QD4LHSTZ6NCFVECG753BI5AJS4\n\" RATE_LIMIT 3 30 1795827087\n\" WINDOW_SIZE 3\n"
      "\" DISALLOW_REUSE 59860902 59860900\n\" TOTP_AUTH\n\" TIME_SKEW -1\n63668860\n75413364\n",
      "alice", Options(), &notes);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(token->first.credential_id, "GAALICE");
  EXPECT_EQ(token->first.owner, "alice");
  EXPECT_EQ(token->first.params.kind, OtpKind::kTotp);
  EXPECT_EQ(token->first.last_used_step, 59860902);
  EXPECT_EQ(token->first.drift, -1);
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_NE(notes[2].find("2 scratch"), std::string::npos);
  for (const std::string& note : notes)
    EXPECT_EQ(note.find("63668860"), std::string::npos) << "never a code";
}

TEST(GoogleAuthenticatorTest, TotpWithoutReuseListCountsNowAsUsed) {
  std::vector<std::string> notes;
  auto token = ParseGoogleAuthenticatorFile(
      "QD4LHSTZ6NCFVECG753BI5AJS4\n\" TOTP_AUTH\n\" STEP_SIZE 60\n", "bob", Options(), &notes);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->first.params.period, 60);
  EXPECT_EQ(token->first.last_used_step,
            1'800'000'000 / 60 + 1);  // default window 3: one step ahead
}

TEST(GoogleAuthenticatorTest, HotpCounterIsTheNextOne) {
  std::vector<std::string> notes;
  auto token = ParseGoogleAuthenticatorFile(
      "OD34V6KCJ7QHKGB22O6YJZ7KWI\n\" WINDOW_SIZE 5\n\" HOTP_COUNTER 3\n", "bob", Options(),
      &notes);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->first.params.kind, OtpKind::kHotp);
  EXPECT_EQ(token->first.initial_counter, 3u);
}

TEST(GoogleAuthenticatorTest, RejectsWhatItCannotTakeOver) {
  std::vector<std::string> notes;
  for (const char* bad : {"not base32!\n", "QD4LHSTZ6NCFVECG753BI5AJS4\n\" NEW_OPTION\n",
                          "QD4LHSTZ6NCFVECG753BI5AJS4\n\" HOTP_COUNTER x\n",
                          "QD4LHSTZ6NCFVECG753BI5AJS4\n123\n", "GEZDGNBV\n"}) {
    auto token = ParseGoogleAuthenticatorFile(bad, "alice", Options(), &notes);
    EXPECT_FALSE(token.ok()) << bad;
  }
  MigrationOptions no_prefix = Options();
  no_prefix.id_prefix = "";
  EXPECT_FALSE(
      ParseGoogleAuthenticatorFile("QD4LHSTZ6NCFVECG753BI5AJS4\n", "...", no_prefix, &notes).ok())
      << "no credential ID can be made";
}

}  // namespace
}  // namespace otpgate
