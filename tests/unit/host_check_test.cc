// SPDX-License-Identifier: GPL-2.0-or-later
#include "otpgate/host_check.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "host_tree.h"

namespace otpgate {
namespace {

using testing::HostTree;

constexpr const char* kModuleDir = "/lib/security";

TEST(HostCheckTest, FindsPamLinesAsLibpamReadsThem) {
  auto lines = FindPamOtpgateLines(
      "# auth required pam_otpgate.so commented\n"
      "@include common-auth\n"
      "auth [success=ok default=die] pam_otpgate.so [prompt=Verification code: ] debug # why\n"
      "account required /usr/lib/security/pam_otpgate.so \\\n"
      "    unenrolled=deny\n"
      "auth required pam_unix.so\n");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].line_number, 3);
  EXPECT_EQ(lines[0].module, "pam_otpgate.so");
  EXPECT_EQ(lines[0].arguments, (std::vector<std::string>{"prompt=Verification code: ", "debug"}));
  EXPECT_EQ(lines[1].line_number, 4);
  EXPECT_EQ(lines[1].module, "/usr/lib/security/pam_otpgate.so");
  EXPECT_EQ(lines[1].arguments, (std::vector<std::string>{"unenrolled=deny"}));
}

TEST(HostCheckTest, GoodStacksHaveNoProblems) {
  HostTree tree;
  tree.Write("/lib/security/pam_otpgate.so", "");
  tree.Write("/etc/pam.d/sudo",
             "@include common-auth\nauth required pam_otpgate.so "
             "[prompt=Code: ] unenrolled=deny\n");
  EXPECT_TRUE(CheckPamStacks(tree.host(), kModuleDir).empty());
}

TEST(HostCheckTest, MissingModuleAndBadOptionsAreProblems) {
  HostTree tree;
  tree.Write("/etc/pam.d/sudo", "auth required pam_otpgate.so windwo=3\n");
  tree.Write("/etc/pam.d/sudo.dpkg-old", "auth required pam_otpgate.so\n");  // not a service
  auto problems = CheckPamStacks(tree.host(), kModuleDir);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].what.find("/etc/pam.d/sudo line 1 loads /lib/security/pam_otpgate.so"),
            std::string::npos);
  EXPECT_NE(problems[0].fix.find("apt-get install libpam-otpgate"), std::string::npos);
  EXPECT_NE(problems[1].what.find("windwo"), std::string::npos);
}

TEST(HostCheckTest, SshdAskingForACodeNeedsKeyboardInteractive) {
  HostTree tree;
  EXPECT_TRUE(CheckSshd(tree.host()).empty());
  tree.Write("/etc/pam.d/sshd", "@include common-auth\nauth required pam_otpgate.so\n");
  auto problems = CheckSshd(tree.host());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].fix.find("otpgate enable sshd"), std::string::npos);
  // The pam-auth-update profile puts otpgate into common-auth: same need.
  HostTree profile;
  profile.Write("/etc/pam.d/common-auth", "auth required pam_otpgate.so nonroot=ignore\n");
  EXPECT_EQ(CheckSshd(profile.host()).size(), 1u);
}

// pam-auth-update's otpgate profile, then `otpgate enable sshd`, which
// writes the drop-in alone: nothing for doctor to report.
void EnableSshdUnderTheProfile(HostTree& tree) {
  tree.Write("/etc/pam.d/common-auth", "auth required pam_otpgate.so nonroot=ignore\n");
  ASSERT_TRUE(Enable(tree.host(), HostTarget::kSshd, {}).ok());
  EXPECT_TRUE(CheckSshd(tree.host()).empty());
}

TEST(HostCheckTest, SshdStackAskingTwiceIsAProblem) {
  HostTree tree;
  ASSERT_NO_FATAL_FAILURE(EnableSshdUnderTheProfile(tree));
  // A line of sshd's own besides the profile's (added by hand, or by an
  // `otpgate enable sshd` run before pam-auth-update --enable otpgate).
  tree.Write("/etc/pam.d/sshd", "@include common-auth\nauth required pam_otpgate.so\n");
  auto problems = CheckSshd(tree.host());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].what.find("twice"), std::string::npos);
  EXPECT_NE(problems[0].fix.find("pam-auth-update --disable otpgate"), std::string::npos);
  // common-auth reached as a substack counts; a commented include does not.
  tree.Write("/etc/pam.d/sshd", "auth substack common-auth\nauth required pam_otpgate.so\n");
  EXPECT_EQ(CheckSshd(tree.host()).size(), 1u);
  tree.Write("/etc/pam.d/sshd", "# @include common-auth\nauth required pam_otpgate.so\n");
  EXPECT_TRUE(CheckSshd(tree.host()).empty());
}

TEST(HostCheckTest, SshdCodeSourcesReadTypesAndControlsAsLibpamDoes) {
  HostTree tree;
  auto sources = [&] { return SshdCodeSourcesOf(tree.host()); };
  tree.Write("/etc/pam.d/common-auth", "-AUTH Required pam_otpgate.so nonroot=ignore\n");
  EXPECT_TRUE(sources().common_auth_requires);  // HostTree's sshd: "@include common-auth"
  tree.Write("/etc/pam.d/common-auth", "auth [success=ok default=die] pam_otpgate.so\n");
  EXPECT_TRUE(sources().common_auth);
  EXPECT_FALSE(sources().common_auth_requires);  // only required and requisite count
  tree.Write("/etc/pam.d/common-auth", "auth optional pam_otpgate.so\n");
  EXPECT_TRUE(sources().common_auth);
  EXPECT_FALSE(sources().common_auth_requires);
  tree.Write("/etc/pam.d/common-auth", "account required pam_otpgate.so\n");
  EXPECT_FALSE(sources().common_auth);  // asks for no code
  tree.Write("/etc/pam.d/common-auth", "auth requisite pam_otpgate.so\n");
  for (const char* include : {"AUTH Include /etc/pam.d/common-auth\n",
                              "-auth substack common-auth\n", "auth include common-auth\n"}) {
    tree.Write("/etc/pam.d/sshd", include);
    EXPECT_TRUE(sources().common_auth_requires) << include;
    EXPECT_FALSE(sources().own_line) << include;
  }
  tree.Write("/etc/pam.d/sshd", "auth include other-auth\naccount required pam_otpgate.so\n");
  EXPECT_FALSE(sources().any());  // an account line asks for no code
}

TEST(HostCheckTest, DropInWithoutACodeIsAProblem) {
  HostTree tree;
  ASSERT_NO_FATAL_FAILURE(EnableSshdUnderTheProfile(tree));
  // pam-auth-update --disable otpgate takes the profile's line out.
  tree.Write("/etc/pam.d/common-auth", "auth required pam_unix.so\n");
  auto problems = CheckSshd(tree.host());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].what.find("no second factor"), std::string::npos);
  EXPECT_NE(problems[0].fix.find("pam-auth-update --enable otpgate"), std::string::npos);
  // Made optional: a wrong code no longer stops the login either.
  tree.Write("/etc/pam.d/common-auth", "auth optional pam_otpgate.so\n");
  EXPECT_EQ(CheckSshd(tree.host()).size(), 1u);
  // openssh-server purged, the drop-in (no package's) left behind: no sshd
  // to warn about.
  std::filesystem::remove(tree.Path(kSshdConfig));
  EXPECT_TRUE(CheckSshd(tree.host()).empty());
}

TEST(HostCheckTest, EnabledRadiusNeedsModuleAndDictionary) {
  HostTree tree;
  EXPECT_TRUE(CheckRadius(tree.host(), "/usr/lib/freeradius").empty());
  ASSERT_TRUE(Enable(tree.host(), HostTarget::kRadius, {}).ok());
  auto problems = CheckRadius(tree.host(), "/usr/lib/freeradius");
  ASSERT_EQ(problems.size(), 1u);  // the module is not installed in this tree
  EXPECT_NE(problems[0].what.find("rlm_otpgate.so"), std::string::npos);
  tree.Write("/usr/lib/freeradius/rlm_otpgate.so", "");
  EXPECT_TRUE(CheckRadius(tree.host(), "/usr/lib/freeradius").empty());
}

TEST(HostCheckTest, LeftoversOfARemovedPackageAreProblems) {
  HostTree tree;
  ASSERT_TRUE(Enable(tree.host(), HostTarget::kRadius, {}).ok());
  // What a removal that forgot to disable leaves behind.
  ::unlink(tree.Path(kOtpgateDictionary).c_str());
  ::unlink(tree.Path("/etc/freeradius/3.0/mods-available/otpgate").c_str());
  auto problems = CheckRadius(tree.host(), "/usr/lib/freeradius");
  std::string all;
  for (const HostProblem& p : problems) all += p.what + "\n";
  EXPECT_NE(all.find("mods-enabled/otpgate is a dangling link"), std::string::npos) << all;
  EXPECT_NE(all.find("dictionary.otpgate, which does not exist"), std::string::npos) << all;
}

}  // namespace
}  // namespace otpgate
