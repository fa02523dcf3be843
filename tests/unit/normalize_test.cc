#include "otpgate/normalize.h"

#include <gtest/gtest.h>

namespace otpgate {
namespace {

TEST(NormalizeCodeTest, FullWidthDigitsSpacesAndHyphens) {
  EXPECT_EQ(NormalizeCode("123456", 6).value(), "123456");
  EXPECT_EQ(NormalizeCode("１２３４５６", 6).value(), "123456");  // full-width
  EXPECT_EQ(NormalizeCode("123 456", 6).value(), "123456");
  EXPECT_EQ(NormalizeCode("123-456", 6).value(), "123456");
  EXPECT_EQ(NormalizeCode("１２３\u3000４５６", 6).value(), "123456");  // ideographic space
  EXPECT_EQ(NormalizeCode("１２３－４５６", 6).value(), "123456");      // full-width hyphen
  EXPECT_EQ(NormalizeCode("123ー456", 6).value(), "123456");            // prolonged sound mark
}

TEST(NormalizeCodeTest, MalformedIsAnError) {
  for (const char* bad : {"12345a", "12345６x", "１２３４５", "1234567", "", "12.3456", "١٢٣٤٥٦",
                          "\xff\xfe"
                          "123456",
                          "123456\n"}) {
    auto code = NormalizeCode(bad, 6);
    EXPECT_FALSE(code.ok()) << bad;
    EXPECT_EQ(code.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(NormalizeCode(std::string(10000, '1'), 6).ok());
  EXPECT_NE(NormalizeCode("12345a", 6).status().message().find("malformed"), std::string::npos);
}

TEST(NormalizeCodeTest, AnyLength) {
  EXPECT_EQ(NormalizeCodeAnyLength("1234567").value(), "1234567");
  EXPECT_FALSE(NormalizeCodeAnyLength("12345").ok());
  EXPECT_FALSE(NormalizeCodeAnyLength("123456789").ok());
}

TEST(NormalizeCredentialIdTest, FoldsCaseAndWidth) {
  EXPECT_EQ(NormalizeCredentialId("VSST12345678").value(), "VSST12345678");
  EXPECT_EQ(NormalizeCredentialId("vsst-1234 5678").value(), "VSST12345678");
  EXPECT_EQ(NormalizeCredentialId("ＶＳＳＴ１２３４５６７８").value(), "VSST12345678");
  EXPECT_EQ(NormalizeCredentialId("ｖｓｓｔ１２３４５６７８").value(), "VSST12345678");
  EXPECT_FALSE(NormalizeCredentialId("VSST_1234").ok());
  EXPECT_FALSE(NormalizeCredentialId("").ok());
  EXPECT_FALSE(NormalizeCredentialId("   ").ok());
  EXPECT_FALSE(NormalizeCredentialId(std::string(65, 'A')).ok());
}

TEST(ValidateUserNameTest, RejectsEmptyLongAndControl) {
  EXPECT_TRUE(ValidateUserName("alice").ok());
  EXPECT_TRUE(ValidateUserName("契約12345").ok());
  EXPECT_FALSE(ValidateUserName("").ok());
  EXPECT_FALSE(ValidateUserName(std::string(256, 'a')).ok());
  EXPECT_FALSE(ValidateUserName("ali\nce").ok());
  EXPECT_FALSE(ValidateUserName(std::string("ali\0ce", 6)).ok());
}

}  // namespace
}  // namespace otpgate
