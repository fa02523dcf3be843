#include "otpgate/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "otpgate/credential_policy.h"
#include "test_util.h"

namespace otpgate {
namespace {

TEST(ConfigTest, DefaultsMatchTheTable) {
  Config config;
  for (const OptionSpec& spec : OptionTable()) {
    EXPECT_EQ(OptionValue(config, spec.name), spec.default_value) << spec.name;
  }
}

TEST(ConfigTest, SetOptionValidates) {
  Config config;
  EXPECT_TRUE(SetOption(config, "window", "3").ok());
  EXPECT_EQ(config.window, 3);
  EXPECT_FALSE(SetOption(config, "window", "11").ok());
  EXPECT_FALSE(SetOption(config, "window", "-1").ok());
  EXPECT_FALSE(SetOption(config, "window", "2x").ok());
  EXPECT_FALSE(SetOption(config, "store", "relative/path").ok());
  EXPECT_TRUE(SetOption(config, "unenrolled", "deny").ok());
  EXPECT_EQ(config.unenrolled, UnenrolledPolicy::kDeny);
  EXPECT_FALSE(SetOption(config, "unenrolled", "maybe").ok());
  auto unknown = SetOption(config, "windwo", "1");
  EXPECT_EQ(unknown.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("windwo"), std::string::npos);
}

TEST(ConfigTest, PamStyleArguments) {
  Config config;
  EXPECT_TRUE(ApplyArgument(config, "debug").ok());
  EXPECT_TRUE(config.debug);
  EXPECT_TRUE(ApplyArgument(config, "action=register").ok());
  EXPECT_EQ(config.action, Action::kRegister);
  EXPECT_FALSE(ApplyArgument(config, "window").ok());  // needs a value
  EXPECT_FALSE(ApplyArgument(config, "nonsense").ok());
}

TEST(ConfigTest, ParsesFileText) {
  Config config;
  Status status =
      ParseConfigText(config,
                      "# comment\n\nstore = /srv/otp\nprompt = \"ワンタイムパスワード: \"\n"
                      "max_failures=3\r\n",
                      "test.conf");
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(config.store, "/srv/otp");
  EXPECT_EQ(config.prompt, "ワンタイムパスワード: ");
  EXPECT_EQ(config.max_failures, 3);
  auto bad = ParseConfigText(config, "store = /a\nbogus\n", "test.conf");
  EXPECT_NE(bad.message().find("test.conf:2"), std::string::npos);
}

TEST(ConfigTest, FileMustNotBeWritableByOthers) {
  testing::TempDir dir;
  std::string path = dir.File("otpgate.conf");
  { std::ofstream(path) << "window = 2\n"; }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  Config config;
  ASSERT_TRUE(LoadConfigFile(config, path, false).ok());
  EXPECT_EQ(config.window, 2);
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  EXPECT_EQ(LoadConfigFile(config, path, false).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(LoadConfigFile(config, dir.File("absent.conf"), true).ok());
  EXPECT_EQ(LoadConfigFile(config, dir.File("absent.conf"), false).code(),
            StatusCode::kUnavailable);
}

}  // namespace
}  // namespace otpgate

namespace otpgate {
namespace {

TEST(CredentialPolicyTest, PrefixesAndLength) {
  Config config;
  EXPECT_TRUE(CheckCredentialId(config, "ANYTHING1").ok()) << "no allowlist: anything";
  ASSERT_TRUE(SetOption(config, "credential_prefixes", "VSST VSMT SYMC SYDC SYMZ UBHE").ok());
  ASSERT_TRUE(SetOption(config, "credential_length", "12").ok());
  EXPECT_TRUE(CheckCredentialId(config, "VSST12345678").ok());
  EXPECT_TRUE(CheckCredentialId(config, "UBHE00000001").ok());
  Status wrong_prefix = CheckCredentialId(config, "ABCD12345678");
  EXPECT_EQ(wrong_prefix.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong_prefix.message().find("must look like VSST12345678"), std::string::npos)
      << wrong_prefix.message();
  EXPECT_FALSE(CheckCredentialId(config, "VSST1234567").ok()) << "one digit short";
}

}  // namespace
}  // namespace otpgate
