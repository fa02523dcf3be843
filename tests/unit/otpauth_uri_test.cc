#include "otpgate/otpauth_uri.h"

#include <gtest/gtest.h>

#include "otpgate/base32.h"

namespace otpgate {
namespace {

TEST(KeyUriTest, ParsesFullTotpUri) {
  auto key = ParseKeyUri(
      "otpauth://totp/Example%20Bank:VSST12345678?secret=JBSWY3DPEHPK3PXP&issuer=Example%20Bank"
      "&algorithm=SHA256&digits=8&period=60");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->params.kind, OtpKind::kTotp);
  EXPECT_EQ(key->params.algorithm, HashAlgorithm::kSha256);
  EXPECT_EQ(key->params.digits, 8);
  EXPECT_EQ(key->params.period, 60);
  EXPECT_EQ(key->issuer, "Example Bank");
  EXPECT_EQ(key->account, "VSST12345678");
  EXPECT_EQ(Base32Encode(key->secret.span()), "JBSWY3DPEHPK3PXP");
}

TEST(KeyUriTest, DefaultsAndHotpCounter) {
  auto key = ParseKeyUri("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->params.digits, 6);
  EXPECT_EQ(key->params.period, 30);
  EXPECT_EQ(key->params.algorithm, HashAlgorithm::kSha1);
  auto hotp = ParseKeyUri("otpauth://hotp/x:y?secret=JBSWY3DPEHPK3PXP&counter=42");
  ASSERT_TRUE(hotp.ok());
  EXPECT_EQ(hotp->counter, 42u);
  EXPECT_FALSE(ParseKeyUri("otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP").ok());
}

// Found by fuzz/key_uri_fuzz: raw bytes in a label were accepted, then
// percent-encoded by FormatKeyUri into a URI longer than ParseKeyUri takes.
TEST(KeyUriTest, EveryAcceptedKeyFormatsIntoAnAcceptedUri) {
  std::string raw(160, '\xff');
  std::string uri = "otpauth://totp/" + raw + ":" + raw + "?secret=JBSWY3DPEHPK3PXP&issuer=" + raw;
  auto key = ParseKeyUri(uri);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  auto again = ParseKeyUri(FormatKeyUri(*key));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->account, key->account);
  EXPECT_EQ(again->issuer, key->issuer);
  std::string longer(161, 'a');
  EXPECT_EQ(ParseKeyUri("otpauth://totp/" + longer + "?secret=JBSWY3DPEHPK3PXP").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(KeyUriTest, RoundTrip) {
  KeyUri key;
  key.params.kind = OtpKind::kHotp;
  key.params.algorithm = HashAlgorithm::kSha512;
  key.params.digits = 7;
  key.issuer = "信用組合 Bank";
  key.account = "VSST00000001";
  key.counter = 9;
  key.secret = Base32Decode("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").value();
  auto parsed = ParseKeyUri(FormatKeyUri(key));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->issuer, key.issuer);
  EXPECT_EQ(parsed->account, key.account);
  EXPECT_EQ(parsed->counter, 9u);
  EXPECT_EQ(parsed->params.digits, 7);
  EXPECT_EQ(parsed->params.algorithm, HashAlgorithm::kSha512);
  EXPECT_TRUE(parsed->secret == key.secret);
}

TEST(KeyUriTest, RejectsMalformed) {
  for (const char* bad : {"http://totp/x?secret=JBSWY3DP", "otpauth://totp/x",
                          "otpauth://totp/x?secret=", "otpauth://totp/x?secret=!!!",
                          "otpauth://motp/x?secret=JBSWY3DPEHPK3PXP",
                          "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=9",
                          "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0",
                          "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
                          "otpauth://totp/x%2?secret=JBSWY3DPEHPK3PXP", "otpauth://"}) {
    EXPECT_FALSE(ParseKeyUri(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseKeyUri("otpauth://totp/x?secret=" + std::string(5000, 'A')).ok());
}

TEST(KeyUriTest, ColonsInIssuerAndAccountRoundTrip) {
  KeyUri key;
  key.params.kind = OtpKind::kTotp;
  key.secret = SecretBytes(std::vector<uint8_t>(20, 7));
  key.issuer = "Bank: Retail";
  key.account = "a:b";
  std::string uri = FormatKeyUri(key);
  auto back = ParseKeyUri(uri);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->issuer, "Bank: Retail");
  EXPECT_EQ(back->account, "a:b");
  // "Issuer%3Aaccount" with the same issuer parameter (Key URI format).
  auto encoded = ParseKeyUri("otpauth://totp/Bank%3Aalice?secret=JBSWY3DPEHPK3PXP&issuer=Bank");
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(encoded->account, "alice");
}

TEST(KeyUriTest, T0CannotBeExpressed) {
  OtpParams params;
  EXPECT_TRUE(CheckExpressibleAsKeyUri(params).ok());
  params.t0 = 1000;
  EXPECT_EQ(CheckExpressibleAsKeyUri(params).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace otpgate
