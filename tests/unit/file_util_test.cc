// The file checks shared by the key, config and store (file_util.h).
#include "file_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "otpgate/config.h"
#include "otpgate/sealing.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::TempDir;

std::string MakeFile(const TempDir& dir, const std::string& name, mode_t mode) {
  std::string path = dir.File(name);
  std::ofstream(path) << "x";
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

// Issue 11: a FIFO at the key or config path hung the CLI and the modules
// for ever. Run in a child with an alarm so that a regression fails rather
// than hangs.
TEST(FileUtilTest, FifoAtKeyOrConfigPathIsRefusedWithoutBlocking) {
  TempDir dir;
  std::string fifo = dir.File("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(5);
    auto key = MasterKey::Load(fifo);
    Config config;
    Status loaded = LoadConfigFile(config, fifo, false);
    _exit(!key.ok() && key.status().code() == StatusCode::kPermissionDenied &&
                  loaded.code() == StatusCode::kPermissionDenied
              ? 0
              : 1);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  ASSERT_TRUE(WIFEXITED(wstatus)) << "blocked (killed by the alarm)";
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
}

TEST(FileUtilTest, SymlinkedKeyIsRefused) {
  TempDir dir;
  std::string real = MakeFile(dir, "real.key", 0600);
  ASSERT_EQ(::symlink(real.c_str(), dir.File("link.key").c_str()), 0);
  auto fd = OpenPrivateFile(dir.File("link.key"), "master key");
  EXPECT_EQ(fd.status().code(), StatusCode::kPermissionDenied);
}

TEST(FileUtilTest, OversizedFileIsRefused) {
  TempDir dir;
  std::string path = dir.File("big");
  std::ofstream(path) << std::string(70 * 1024, 'x');
  ::chmod(path.c_str(), 0600);
  EXPECT_EQ(OpenPrivateFile(path, "master key").status().code(), StatusCode::kInvalidArgument);
}

// The message names the exact commands for both models.
TEST(FileUtilTest, LooseModesAreRefusedWithTheExactFix) {
  TempDir dir;
  struct Case {
    FileRole role;
    mode_t mode;
    const char* private_fix;
    const char* group_fix;
  };
  for (const Case& c : {Case{FileRole::kSecret, 0644, "chmod 0600", "chmod 0640"},
                        Case{FileRole::kStoreFile, 0660, "chmod 0600", "chmod 0660"},
                        Case{FileRole::kPolicy, 0666, "chmod 0644", "chmod 0640"}}) {
    std::string path = MakeFile(dir, "f" + std::to_string(c.mode), c.mode);
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    if (InGroupModel(st)) continue;  // a host whose root group is `otpgate`
    Status status = CheckAccess(st, path, "file", c.role);
    ASSERT_EQ(status.code(), StatusCode::kPermissionDenied) << c.mode;
    EXPECT_NE(status.message().find(std::string("chown root:root ") + path + " && " +
                                    c.private_fix + " " + path),
              std::string::npos)
        << status.message();
    EXPECT_NE(status.message().find(std::string("chown root:otpgate ") + path + " && " +
                                    c.group_fix + " " + path),
              std::string::npos)
        << status.message();
  }
}

TEST(FileUtilTest, PrivateModesAreAccepted) {
  TempDir dir;
  for (mode_t mode : {0600, 0400}) {
    std::string path = MakeFile(dir, "k" + std::to_string(mode), mode);
    EXPECT_TRUE(OpenPrivateFile(path, "master key").ok()) << mode;
  }
  std::string config = MakeFile(dir, "c", 0644);  // policy may be world-readable
  EXPECT_TRUE(OpenCheckedFile(config, "config file", FileRole::kPolicy, 1024).ok());
}

TEST(FileUtilTest, AncestorOthersCanWriteIsRefusedUnlessSticky) {
  TempDir dir;
  std::string open_dir = dir.File("open");
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0700), 0);
  std::string key = open_dir + "/master.key";
  std::ofstream(key) << "x";
  ::chmod(key.c_str(), 0600);
  ASSERT_EQ(::chmod(open_dir.c_str(), 0777), 0);
  EXPECT_EQ(CheckPathIsSafe(key, "master key").code(), StatusCode::kPermissionDenied);
  ASSERT_EQ(::chmod(open_dir.c_str(), 01777), 0);  // like /tmp
  EXPECT_TRUE(CheckPathIsSafe(key, "master key").ok());
}

}  // namespace
}  // namespace otpgate
