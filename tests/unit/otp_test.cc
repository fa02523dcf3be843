#include "otpgate/otp.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <random>

#include "otpgate/base32.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::Bytes;

const char kSeed20[] = "12345678901234567890";
const char kSeed32[] = "12345678901234567890123456789012";
const char kSeed64[] = "1234567890123456789012345678901234567890123456789012345678901234";

// RFC 4226 Appendix D.
TEST(HotpTest, Rfc4226AppendixD) {
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (uint64_t counter = 0; counter < 10; ++counter) {
    auto code = GenerateHotp(HashAlgorithm::kSha1, Bytes(kSeed20), counter, 6);
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, expected[counter]) << "counter " << counter;
  }
}

// RFC 6238 Appendix B: each hash uses a seed of its own output length.
// RFC 4231 §4.2 (test case 1) and §4.3 (test case 2, a key shorter than the
// block): HMAC-SHA-256 and HMAC-SHA-512.
TEST(ComputeHmacTest, Rfc4231TestCases) {
  const std::array<uint8_t, 20> key1 = [] {
    std::array<uint8_t, 20> k;
    k.fill(0x0b);
    return k;
  }();
  const std::string hi = "Hi There";
  uint8_t mac[64];
  auto hex = [&](size_t n) {
    std::string out;
    char byte[3];
    for (size_t i = 0; i < n; ++i) {
      std::snprintf(byte, sizeof(byte), "%02x", mac[i]);
      out += byte;
    }
    return out;
  };
  ASSERT_EQ(ComputeHmac(HashAlgorithm::kSha256, key1,
                        {reinterpret_cast<const uint8_t*>(hi.data()), hi.size()}, mac),
            32u);
  EXPECT_EQ(hex(32), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  const std::string jefe = "Jefe", what = "what do ya want for nothing?";
  ASSERT_EQ(ComputeHmac(HashAlgorithm::kSha512,
                        {reinterpret_cast<const uint8_t*>(jefe.data()), jefe.size()},
                        {reinterpret_cast<const uint8_t*>(what.data()), what.size()}, mac),
            64u);
  EXPECT_EQ(hex(64),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f"
            "65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
}

TEST(ComputeHmacTest, AnEmptyKeyIsRefused) {
  uint8_t mac[64];
  const uint8_t message[1] = {0};
  EXPECT_EQ(ComputeHmac(HashAlgorithm::kSha256, {}, message, mac), 0u);
}

TEST(TotpTest, Rfc6238AppendixB) {
  struct Row {
    int64_t time;
    const char* sha1;
    const char* sha256;
    const char* sha512;
  };
  const Row rows[] = {
      {59, "94287082", "46119246", "90693936"},
      {1111111109, "07081804", "68084774", "25091201"},
      {1111111111, "14050471", "67062674", "99943326"},
      {1234567890, "89005924", "91819424", "93441116"},
      {2000000000, "69279037", "90698825", "38618901"},
      {20000000000, "65353130", "77737706", "47863826"},  // beyond 32-bit time
  };
  for (const Row& row : rows) {
    OtpParams params;
    params.digits = 8;
    params.algorithm = HashAlgorithm::kSha1;
    EXPECT_EQ(GenerateTotp(params, Bytes(kSeed20), row.time).value(), row.sha1) << row.time;
    params.algorithm = HashAlgorithm::kSha256;
    EXPECT_EQ(GenerateTotp(params, Bytes(kSeed32), row.time).value(), row.sha256) << row.time;
    params.algorithm = HashAlgorithm::kSha512;
    EXPECT_EQ(GenerateTotp(params, Bytes(kSeed64), row.time).value(), row.sha512) << row.time;
  }
}

TEST(TotpTest, StepUsesT0AndPeriodWithFloorDivision) {
  EXPECT_EQ(TotpStep(59, 0, 30), 1);
  EXPECT_EQ(TotpStep(60, 0, 30), 2);
  EXPECT_EQ(TotpStep(100, 40, 60), 1);
  EXPECT_EQ(TotpStep(39, 40, 60), -1);
  OtpParams params;
  params.t0 = 100;
  EXPECT_FALSE(GenerateTotp(params, Bytes(kSeed20), 50).ok());
}

TEST(OtpParamsTest, RejectsOutOfRange) {
  OtpParams params;
  params.digits = 5;
  EXPECT_FALSE(params.Validate().ok());
  params.digits = 9;
  EXPECT_FALSE(params.Validate().ok());
  params.digits = 7;
  EXPECT_TRUE(params.Validate().ok());
  params.period = 0;
  EXPECT_FALSE(params.Validate().ok());
}

TEST(HashAlgorithmTest, ParsesCommonSpellings) {
  EXPECT_EQ(ParseHashAlgorithm("sha1").value(), HashAlgorithm::kSha1);
  EXPECT_EQ(ParseHashAlgorithm("SHA-256").value(), HashAlgorithm::kSha256);
  EXPECT_EQ(ParseHashAlgorithm("Sha512").value(), HashAlgorithm::kSha512);
  EXPECT_FALSE(ParseHashAlgorithm("md5").ok());
}

class ScanWindowTest : public ::testing::Test {
 protected:
  HmacKey key_ = HmacKey::Create(HashAlgorithm::kSha1, Bytes(kSeed20)).value();
};

TEST_F(ScanWindowTest, AcceptsInsideWindowOnly) {
  // HOTP(5) = 254676.
  auto match = ScanWindow(key_, 6, "254676", 4, 6, 5, -1).value();
  ASSERT_TRUE(match.accepted.has_value());
  EXPECT_EQ(*match.accepted, 5);
  EXPECT_FALSE(match.replay);
  match = ScanWindow(key_, 6, "254676", 6, 8, 7, -1).value();
  EXPECT_FALSE(match.accepted.has_value());
  EXPECT_FALSE(match.replay);
}

TEST_F(ScanWindowTest, AtOrBelowLastAcceptedIsReplay) {
  auto match = ScanWindow(key_, 6, "254676", 4, 6, 5, 5).value();
  EXPECT_FALSE(match.accepted.has_value());
  EXPECT_TRUE(match.replay);
  match = ScanWindow(key_, 6, "254676", 4, 6, 5, 4).value();
  EXPECT_EQ(match.accepted, 5);
}

TEST_F(ScanWindowTest, WrongLengthIsAnError) {
  EXPECT_FALSE(ScanWindow(key_, 6, "25467", 0, 9, 5, -1).ok());
}

TEST_F(ScanWindowTest, NegativeValuesAreSkipped) {
  auto match = ScanWindow(key_, 6, "755224", -3, 0, -1, -1).value();
  EXPECT_EQ(match.accepted, 0);
}

TEST_F(ScanWindowTest, FindsConsecutiveCodes) {
  // HOTP(7), HOTP(8) = 162583, 399871.
  auto found = FindConsecutive(key_, 6, "162583", "399871", 0, 100).value();
  EXPECT_EQ(found, 8);
  EXPECT_FALSE(FindConsecutive(key_, 6, "399871", "162583", 0, 100).value().has_value());
  EXPECT_FALSE(FindConsecutive(key_, 6, "162583", "399871", 0, 6).value().has_value());
}

// Cross-check against oathtool (an independent implementation) on random
// secrets, hashes, digit counts, periods and times.
std::string RunOathtool(const std::string& args) {
  std::string command = "oathtool " + args + " 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  char buffer[64] = {};
  std::string out;
  if (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) out = buffer;
  ::pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

TEST(OathtoolCrossCheck, RandomTotpAndHotp) {
  if (std::system("command -v oathtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "oathtool is not installed (scripts/test.sh installs it)";
  }
  std::mt19937_64 rng(20261127);
  const HashAlgorithm algorithms[] = {HashAlgorithm::kSha1, HashAlgorithm::kSha256,
                                      HashAlgorithm::kSha512};
  const char* names[] = {"SHA1", "SHA256", "SHA512"};
  for (int i = 0; i < 30; ++i) {
    size_t length = 10 + rng() % 55;
    SecretBytes secret(length);
    for (size_t k = 0; k < length; ++k) secret.data()[k] = static_cast<uint8_t>(rng());
    int which = static_cast<int>(rng() % 3);
    int digits = 6 + static_cast<int>(rng() % 3);
    OtpParams params;
    params.algorithm = algorithms[which];
    params.digits = digits;
    params.period = (i % 2 == 0) ? 30 : 60;
    int64_t now = static_cast<int64_t>(rng() % 4000000000ULL);
    std::string hex = HexEncode(secret.span());
    std::string expected = RunOathtool(
        "--totp=" + std::string(names[which]) + " -d " + std::to_string(digits) + " -s " +
        std::to_string(params.period) + "s -N @" + std::to_string(now) + " " + hex);
    EXPECT_EQ(GenerateTotp(params, secret, now).value(), expected)
        << names[which] << " digits " << digits << " time " << now;
    uint64_t counter = rng() % 1000000;
    std::string hotp = RunOathtool("--hotp -d " + std::to_string(digits) + " -c " +
                                   std::to_string(counter) + " " + hex);
    EXPECT_EQ(GenerateHotp(HashAlgorithm::kSha1, secret, counter, digits).value(), hotp);
  }
}

}  // namespace
}  // namespace otpgate

#include "otpgate/self_test.h"

namespace otpgate {
namespace {

TEST(SelfTest, PassesOnThisBuild) { EXPECT_TRUE(RunSelfTest().ok()) << RunSelfTest().ToString(); }

}  // namespace
}  // namespace otpgate
