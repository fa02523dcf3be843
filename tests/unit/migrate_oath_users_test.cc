#include <gtest/gtest.h>

#include "otpgate/migrate.h"

namespace otpgate {
namespace {

constexpr char kKey[] = "3132333435363738393031323334353637383930";

ParsedTokens Parse(const std::string& text, MigrationNotes* notes = nullptr) {
  ParsedTokens out;
  ParseOathUsersFile(text, MigrationOptions{"OATH", "", 0}, CollectInto(out), notes);
  return out;
}

TEST(OathUsersTest, HotpAfterALogin) {
  // RFC 4226: counter 5 -> 254676. liboath stores the used counter.
  auto parsed =
      Parse(std::string("HOTP\tcarol\t-\t") + kKey + "\t5\t254676\t2026-11-28T00:41:03L\n");
  ASSERT_EQ(parsed.tokens.size(), 1u) << parsed.rejected[0].reason;
  EXPECT_EQ(parsed.tokens[0].first.initial_counter, 6u);
  EXPECT_EQ(parsed.tokens[0].first.owner, "carol");
  EXPECT_EQ(parsed.tokens[0].first.credential_id, "OATHCAROL");
}

TEST(OathUsersTest, AlteredLastOtpIsRejected) {
  auto parsed = Parse(std::string("HOTP carol - ") + kKey + " 5 111111 2026-11-28T00:41:03L\n");
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_NE(parsed.rejected[0].reason.find("altered"), std::string::npos);
}

TEST(OathUsersTest, TotpFindsTheUsedStep) {
  // RFC 6238 SHA-1, T = 59 s: step 1, 6 digits of 94287082 -> 287082.
  ::setenv("TZ", "UTC", 1);
  auto parsed =
      Parse(std::string("HOTP/T30/6 dave - ") + kKey + " 0 287082 1970-01-01T00:00:59L\n");
  ASSERT_EQ(parsed.tokens.size(), 1u) << parsed.rejected[0].reason;
  EXPECT_EQ(parsed.tokens[0].first.params.kind, OtpKind::kTotp);
  EXPECT_EQ(parsed.tokens[0].first.last_used_step, 1);
}

TEST(OathUsersTest, TypesPinsAndNotes) {
  MigrationNotes notes;
  auto parsed = Parse(std::string("# comment\nHOTP/E/8 erin - ") + kKey + "\nHOTP frank 1234 " +
                          kKey + "\nMOTP gina - " + kKey + "\nHOTP/T60 hank - " + kKey +
                          "\nHOTP/E erin - " + kKey + "\n",
                      &notes);
  ASSERT_EQ(parsed.tokens.size(), 2u);
  EXPECT_EQ(parsed.tokens[0].first.params.digits, 8);
  EXPECT_EQ(parsed.tokens[1].first.params.period, 60);
  ASSERT_EQ(parsed.rejected.size(), 3u);
  EXPECT_NE(parsed.rejected[0].reason.find("PIN"), std::string::npos);
  EXPECT_NE(parsed.rejected[1].reason.find("MOTP"), std::string::npos);
  EXPECT_NE(parsed.rejected[2].reason.find("more than once"), std::string::npos);
  EXPECT_FALSE(notes.empty());
}

}  // namespace
}  // namespace otpgate
