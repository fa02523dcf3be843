#include "otpgate/sealing.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "test_util.h"

namespace otpgate {
namespace {

using testing::Bytes;
using testing::TempDir;

MasterKey KeyOf(char fill) {
  return MasterKey::FromBytes(SecretBytes(std::vector<uint8_t>(32, static_cast<uint8_t>(fill))));
}

TEST(SealingTest, RoundTripAndBinding) {
  MasterKey key = KeyOf(1);
  auto sealed = key.Seal(Bytes("seed of token A").span(), "otpgate:token:A");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), 1 + 12 + 15 + 16u);
  EXPECT_TRUE(key.Open(*sealed, "otpgate:token:A").value() == Bytes("seed of token A"));
  // Moved to another credential ID: does not open.
  EXPECT_EQ(key.Open(*sealed, "otpgate:token:B").status().code(), StatusCode::kCorrupt);
  // Another key: does not open.
  EXPECT_FALSE(KeyOf(2).Open(*sealed, "otpgate:token:A").ok());
  // Any flipped bit: does not open.
  for (size_t i = 0; i < sealed->size(); ++i) {
    std::vector<uint8_t> tampered = *sealed;
    tampered[i] ^= 0x01;
    EXPECT_FALSE(key.Open(tampered, "otpgate:token:A").ok()) << "byte " << i;
  }
  EXPECT_FALSE(key.Open(std::vector<uint8_t>(10, 1), "x").ok());
}

TEST(SealingTest, NoncesDiffer) {
  MasterKey key = KeyOf(1);
  EXPECT_NE(key.Seal(Bytes("same").span(), "a").value(),
            key.Seal(Bytes("same").span(), "a").value());
}

TEST(MasterKeyFileTest, CreateLoadAndRefuseOverwrite) {
  TempDir dir;
  std::string path = dir.File("keys/master.key");
  ASSERT_TRUE(MasterKey::Create(path).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  EXPECT_TRUE(MasterKey::Load(path).ok());
  EXPECT_EQ(MasterKey::Create(path).code(), StatusCode::kAlreadyExists);
}

TEST(MasterKeyFileTest, RefusesReadableByOthersSymlinksAndWrongSize) {
  TempDir dir;
  std::string path = dir.File("master.key");
  ASSERT_TRUE(MasterKey::Create(path).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  auto loaded = MasterKey::Load(path);
  EXPECT_EQ(loaded.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(loaded.status().message().find("0640"), std::string::npos);
  ASSERT_EQ(::chmod(path.c_str(), 0604), 0);
  EXPECT_EQ(MasterKey::Load(path).status().code(), StatusCode::kPermissionDenied);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);

  std::string link = dir.File("link.key");
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  EXPECT_EQ(MasterKey::Load(link).status().code(), StatusCode::kPermissionDenied);

  std::string short_key = dir.File("short.key");
  { std::ofstream(short_key) << "too short"; }
  ASSERT_EQ(::chmod(short_key.c_str(), 0600), 0);
  EXPECT_EQ(MasterKey::Load(short_key).status().code(), StatusCode::kCorrupt);

  EXPECT_EQ(MasterKey::Load(dir.File("missing.key")).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace otpgate
