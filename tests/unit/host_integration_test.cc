// SPDX-License-Identifier: GPL-2.0-or-later
#include "otpgate/host_integration.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "host_tree.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::HostTree;

TEST(HostIntegrationTest, EnableSshdThenDisableRestoresEveryByte) {
  HostTree tree;
  ::chmod(tree.Path("/etc/pam.d/sshd").c_str(), 0640);
  const std::string pam_before = tree.Read("/etc/pam.d/sshd");

  auto changes = Enable(tree.host(), HostTarget::kSshd, {});
  ASSERT_TRUE(changes.ok()) << changes.status().message();
  EXPECT_TRUE(IsEnabled(tree.host(), HostTarget::kSshd));
  const std::string pam = tree.Read("/etc/pam.d/sshd");
  // The code comes right after the password.
  EXPECT_NE(
      pam.find("@include common-auth\n# otpgate: added by `otpgate enable sshd`; "
               "`otpgate disable sshd` removes it.\nauth       required     pam_otpgate.so\n"),
      std::string::npos);
  const std::string drop_in = tree.Read(kSshdDropIn);
  EXPECT_NE(drop_in.find("KbdInteractiveAuthentication yes\n"), std::string::npos);
  EXPECT_NE(drop_in.find("AuthenticationMethods keyboard-interactive\n"), std::string::npos);
  EXPECT_EQ(tree.Mode("/etc/pam.d/sshd"), 0640);  // the edit keeps the file's mode
  EXPECT_EQ(tree.Read(EnableBackupDir(HostTarget::kSshd) + "/orig/etc/pam.d/sshd"), pam_before);

  auto report = Disable(tree.host(), HostTarget::kSshd);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_FALSE(report->backup_kept);
  EXPECT_EQ(tree.Read("/etc/pam.d/sshd"), pam_before);
  EXPECT_EQ(tree.Mode("/etc/pam.d/sshd"), 0640);
  EXPECT_FALSE(tree.Exists(kSshdDropIn));
  EXPECT_FALSE(tree.Exists(EnableBackupDir(HostTarget::kSshd)));
  EXPECT_FALSE(IsEnabled(tree.host(), HostTarget::kSshd));
}

TEST(HostIntegrationTest, EnableSshdUnderThePamAuthUpdateProfileWritesOnlyTheDropIn) {
  HostTree tree;
  tree.Write("/etc/pam.d/common-auth",
             "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\n"
             "auth required pam_permit.so\nauth required pam_otpgate.so nonroot=ignore\n");
  const std::string pam_before = tree.Read(kPamSshd);
  auto changes = Enable(tree.host(), HostTarget::kSshd, {});
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].path, kSshdDropIn);
  EXPECT_EQ(tree.Read(kPamSshd), pam_before);  // common-auth asks for the code already
  EXPECT_TRUE(tree.Exists(kSshdDropIn));
  ASSERT_TRUE(Disable(tree.host(), HostTarget::kSshd).ok());
  EXPECT_FALSE(tree.Exists(kSshdDropIn));
  EXPECT_EQ(tree.Read(kPamSshd), pam_before);
  EXPECT_FALSE(tree.Exists(EnableBackupDir(HostTarget::kSshd)));
}

TEST(HostIntegrationTest, EnableSshdAddsItsLineWhereCommonAuthDoesNotRequireTheCode) {
  HostTree tree;  // e.g. a trial rollout: a wrong code does not stop the login
  tree.Write("/etc/pam.d/common-auth", "auth required pam_unix.so\nauth optional pam_otpgate.so\n");
  auto changes = Enable(tree.host(), HostTarget::kSshd, {});
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  EXPECT_EQ(changes->size(), 2u);
  EXPECT_NE(tree.Read(kPamSshd).find("auth       required     pam_otpgate.so"), std::string::npos);
}

TEST(HostIntegrationTest, PublickeyVariantAsksForKeyThenCode) {
  HostTree tree;
  EnableOptions options;
  options.publickey = true;
  ASSERT_TRUE(Enable(tree.host(), HostTarget::kSshd, options).ok());
  EXPECT_NE(tree.Read(kSshdDropIn).find("AuthenticationMethods publickey,keyboard-interactive\n"),
            std::string::npos);
}

TEST(HostIntegrationTest, EnableRadiusThenDisableRestoresEveryByte) {
  HostTree tree;
  const std::string dictionary = std::string(kRaddbDir) + "/dictionary";
  const std::string before = tree.Read(dictionary);
  ASSERT_TRUE(Enable(tree.host(), HostTarget::kRadius, {}).ok());
  EXPECT_EQ(tree.Read(dictionary),
            before +
                "# otpgate: added by `otpgate enable radius`; `otpgate disable radius` "
                "removes it.\n$INCLUDE /usr/share/freeradius/dictionary.otpgate\n");
  EXPECT_EQ(tree.LinkTarget(std::string(kRaddbDir) + "/mods-enabled/otpgate"),
            "../mods-available/otpgate");
  EXPECT_EQ(tree.LinkTarget(std::string(kRaddbDir) + "/sites-enabled/otpgate"),
            "../sites-available/otpgate");
  // The default site is untouched: the otpgate site has its own port.
  ASSERT_TRUE(Disable(tree.host(), HostTarget::kRadius).ok());
  EXPECT_EQ(tree.Read(dictionary), before);
  EXPECT_FALSE(tree.Exists(std::string(kRaddbDir) + "/mods-enabled/otpgate"));
  EXPECT_FALSE(tree.Exists(std::string(kRaddbDir) + "/sites-enabled/otpgate"));
}

TEST(HostIntegrationTest, EnableTwiceIsRefusedAndChangesNothing) {
  HostTree tree;
  ASSERT_TRUE(Enable(tree.host(), HostTarget::kSshd, {}).ok());
  const std::string pam = tree.Read("/etc/pam.d/sshd");
  auto again = Enable(tree.host(), HostTarget::kSshd, {});
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(tree.Read("/etc/pam.d/sshd"), pam);
}

TEST(HostIntegrationTest, DisableWhenNotEnabledIsNotFound) {
  HostTree tree;
  EXPECT_EQ(Disable(tree.host(), HostTarget::kRadius).status().code(), StatusCode::kNotFound);
}

TEST(HostIntegrationTest, RefusesHostsItCannotEditSafely) {
  HostTree tree;
  tree.Write(kSshdConfig, "PermitRootLogin no\n");  // no Include of sshd_config.d
  auto no_include = Enable(tree.host(), HostTarget::kSshd, {});
  EXPECT_EQ(no_include.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(no_include.status().message().find("Include /etc/ssh/sshd_config.d/*.conf"),
            std::string::npos);
  EXPECT_FALSE(tree.Exists(kSshdDropIn));

  HostTree hand_edited;
  hand_edited.Write("/etc/pam.d/sshd", "@include common-auth\nauth required pam_otpgate.so\n");
  EXPECT_EQ(Enable(hand_edited.host(), HostTarget::kSshd, {}).status().code(),
            StatusCode::kAlreadyExists);

  HostTree no_anchor;
  no_anchor.Write("/etc/pam.d/sshd", "auth required pam_unix.so\n");
  EXPECT_EQ(Enable(no_anchor.host(), HostTarget::kSshd, {}).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_FALSE(no_anchor.Exists(kSshdDropIn));

  HostTree no_module;
  ::unlink(no_module.Path(kOtpgateDictionary).c_str());
  EXPECT_EQ(Enable(no_module.host(), HostTarget::kRadius, {}).status().code(),
            StatusCode::kNotFound);
}

TEST(HostIntegrationTest, DisableKeepsAnAdministratorsLaterChange) {
  HostTree tree;
  const std::string before = tree.Read("/etc/pam.d/sshd");
  ASSERT_TRUE(Enable(tree.host(), HostTarget::kSshd, {}).ok());
  tree.Write("/etc/pam.d/sshd", tree.Read("/etc/pam.d/sshd") + "session optional pam_foo.so\n");
  auto report = Disable(tree.host(), HostTarget::kSshd);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->backup_kept);
  EXPECT_EQ(tree.Read("/etc/pam.d/sshd"), before + "session optional pam_foo.so\n");
  EXPECT_EQ(tree.Read(EnableBackupDir(HostTarget::kSshd) + "/orig/etc/pam.d/sshd"), before);
  EXPECT_FALSE(IsEnabled(tree.host(), HostTarget::kSshd));
  // Enabling again keeps those copies one generation back.
  ASSERT_TRUE(Enable(tree.host(), HostTarget::kSshd, {}).ok());
  EXPECT_EQ(tree.Read(EnableBackupDir(HostTarget::kSshd) + ".previous/orig/etc/pam.d/sshd"),
            before);
}

TEST(HostIntegrationTest, UnknownTargetIsAnError) {
  EXPECT_EQ(ParseHostTarget("nginx").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseHostTarget("radius").value(), HostTarget::kRadius);
}

}  // namespace
}  // namespace otpgate
