#include "otpgate/soft_token.h"

#include <gtest/gtest.h>

#include <set>

namespace otpgate {
namespace {

TokenSpec Base() {
  TokenSpec base;
  base.params.kind = OtpKind::kTotp;
  base.issuer = "Bank";
  return base;
}

TEST(SoftTokenTest, RandomIdsHavePrefixEightDigitsAndAreDistinct) {
  auto tokens = GenerateSoftTokens(Base(), "", "VSST", 500);
  ASSERT_TRUE(tokens.ok()) << tokens.status().message();
  ASSERT_EQ(tokens->size(), 500u);
  std::set<std::string> ids;
  std::set<std::vector<uint8_t>> secrets;
  for (const auto& [spec, secret] : *tokens) {
    ASSERT_EQ(spec.credential_id.size(), 12u);
    EXPECT_EQ(spec.credential_id.substr(0, 4), "VSST");
    EXPECT_EQ(spec.credential_id.find_first_not_of("0123456789", 4), std::string::npos);
    EXPECT_EQ(spec.issuer, "Bank");
    EXPECT_EQ(secret.size(), kSoftTokenSecretBytes);
    ids.insert(spec.credential_id);
    secrets.insert(std::vector<uint8_t>(secret.data(), secret.data() + secret.size()));
  }
  EXPECT_EQ(ids.size(), 500u);
  EXPECT_EQ(secrets.size(), 500u);
}

TEST(SoftTokenTest, FixedIdIsNormalisedAndMakesExactlyOne) {
  auto tokens = GenerateSoftTokens(Base(), "vsst 1234 5678", "", 1);
  ASSERT_TRUE(tokens.ok()) << tokens.status().message();
  ASSERT_EQ(tokens->size(), 1u);
  EXPECT_EQ(tokens->front().first.credential_id, "VSST12345678");
  EXPECT_EQ(GenerateSoftTokens(Base(), "VSST12345678", "", 2).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateSoftTokens(Base(), "", "VSST", 0).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(SoftTokenTest, DigitsAreRoughlyUniform) {
  auto tokens = GenerateSoftTokens(Base(), "", "", 2000);
  ASSERT_TRUE(tokens.ok());
  int counts[10] = {};
  for (const auto& [spec, secret] : *tokens) {
    for (char c : spec.credential_id) ++counts[c - '0'];
  }
  // 16,000 digits: 1,600 expected per digit; a modulo bias of 256 % 10 would
  // put digits 0-5 near 1,650 and 6-9 near 1,525. 5 sigma is about +-190.
  for (int count : counts) {
    EXPECT_GT(count, 1410);
    EXPECT_LT(count, 1790);
  }
}

}  // namespace
}  // namespace otpgate
