#include "otpgate/token_import.h"

#include <gtest/gtest.h>

namespace otpgate {
namespace {

TEST(TokenCsvTest, ParsesColumnsAndDefaults) {
  auto parsed = ParseTokenCsv(
      "credential_id,secret,encoding,type,algorithm,digits,period_or_counter\n"
      "# comment\n"
      "VSST00000001,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n"
      "vsst00000002,3132333435363738393031323334353637383930,hex,hotp,SHA256,8,17\n"
      "VSST00000003,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,,totp,,7,60\n",
      "Bank");
  ASSERT_TRUE(parsed.rejected.empty()) << parsed.rejected[0].reason;
  ASSERT_EQ(parsed.tokens.size(), 3u);
  EXPECT_EQ(parsed.tokens[0].first.params.digits, 6);
  EXPECT_EQ(parsed.tokens[0].first.issuer, "Bank");
  EXPECT_EQ(parsed.tokens[1].first.credential_id, "VSST00000002");
  EXPECT_EQ(parsed.tokens[1].first.params.kind, OtpKind::kHotp);
  EXPECT_EQ(parsed.tokens[1].first.params.algorithm, HashAlgorithm::kSha256);
  EXPECT_EQ(parsed.tokens[1].first.initial_counter, 17u);
  EXPECT_EQ(parsed.tokens[1].second.size(), 20u);
  EXPECT_EQ(parsed.tokens[2].first.params.period, 60);
  EXPECT_EQ(parsed.tokens[2].first.params.digits, 7);
}

TEST(TokenCsvTest, RejectsBadLinesWithReasonsAndNoSecret) {
  auto parsed = ParseTokenCsv(
      "VSST00000001,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n"
      "VSST00000001,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n"  // duplicate in file
      "VSST_BAD,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n"
      "VSST00000004,NOT*BASE32\n"
      "VSST00000005,GEZDGNBVGY3TQOJQ\n"  // 10 bytes: ok
      "VSST00000006,GEZDGNBV\n"          // 5 bytes: too short
      "VSST00000007,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,,totp,,9\n"
      "just-one-column\n",
      "");
  EXPECT_EQ(parsed.tokens.size(), 2u);
  ASSERT_EQ(parsed.rejected.size(), 6u);
  EXPECT_EQ(parsed.rejected[0].line, 2u);
  EXPECT_NE(parsed.rejected[0].reason.find("more than once"), std::string::npos);
  for (const RejectedLine& r : parsed.rejected) {
    EXPECT_EQ(r.reason.find("GEZDGNBV"), std::string::npos) << r.reason;
  }
}

TEST(TokenUriTest, ParsesLines) {
  auto parsed = ParseTokenUris(
      "otpauth://totp/Bank:VSST00000001?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Bank\n"
      "otpauth://totp/Bank:bad_id?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n"
      "not a uri\n");
  ASSERT_EQ(parsed.tokens.size(), 1u);
  EXPECT_EQ(parsed.tokens[0].first.credential_id, "VSST00000001");
  EXPECT_EQ(parsed.tokens[0].first.issuer, "Bank");
  EXPECT_EQ(parsed.rejected.size(), 2u);
}

TEST(TokenCsvTest, Utf8ByteOrderMarkIsSkipped) {
  auto parsed =
      ParseTokenCsv("\xEF\xBB\xBFVSST00000001,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n", "Bank");
  EXPECT_TRUE(parsed.rejected.empty()) << parsed.rejected[0].reason;
  EXPECT_EQ(parsed.tokens.size(), 1u);
}

TEST(OathCsvTest, PrivacyIdeaAndLinOtpColumns) {
  auto parsed = ParseOathCsv(
      "# serial, seed, type, otplen, timestep\n"
      "OATH0001,3132333435363738393031323334353637383930\n"
      "OATH0002,3132333435363738393031323334353637383930,totp,8,60\n"
      "OATH0003,3132333435363738393031323334353637383930,hotp,6,,alice\n"
      "OATH0004,3132333435363738393031323334353637383930,hotp,6,30\n"
      "OATH0005,zz\n",
      "Bank");
  ASSERT_EQ(parsed.tokens.size(), 3u);
  EXPECT_EQ(parsed.tokens[0].first.params.kind, OtpKind::kHotp);
  EXPECT_EQ(parsed.tokens[1].first.params.kind, OtpKind::kTotp);
  EXPECT_EQ(parsed.tokens[1].first.params.digits, 8);
  EXPECT_EQ(parsed.tokens[1].first.params.period, 60);
  EXPECT_EQ(parsed.tokens[2].first.owner, "alice");
  ASSERT_EQ(parsed.rejected.size(), 2u);
  EXPECT_EQ(parsed.rejected[0].line, 5u);
  EXPECT_NE(parsed.rejected[0].reason.find("timestep on an HOTP"), std::string::npos);
}

TEST(ImportFormatTest, DetectedByContent) {
  EXPECT_EQ(DetectImportFormat("  \n<?xml version=\"1.0\"?><Whatever/>"), ImportFormat::kPskc);
  EXPECT_EQ(DetectImportFormat("\xEF\xBB\xBF<KeyContainer"), ImportFormat::kPskc);
  EXPECT_EQ(DetectImportFormat(std::string("\xFF\xFE<\0?\0", 6)), ImportFormat::kPskc);
  EXPECT_EQ(DetectImportFormat(std::string("<\0?\0x\0", 6)), ImportFormat::kPskc);
  EXPECT_EQ(DetectImportFormat("# tokens\notpauth://totp/x?secret=A"), ImportFormat::kUri);
  EXPECT_EQ(DetectImportFormat("VSST1,GEZDGNBV"), ImportFormat::kCsv);
}

}  // namespace
}  // namespace otpgate
