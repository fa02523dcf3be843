#include "external_sorter.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"

namespace otpgate {
namespace {

using testing::TempDir;

std::span<const uint8_t> AsBytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// Everything ForEach hands back, in its order.
std::vector<std::pair<std::string, std::string>> Drain(ExternalSorter& sorter) {
  std::vector<std::pair<std::string, std::string>> out;
  Status status = sorter.ForEach([&](std::string_view key, std::span<const uint8_t> value) {
    out.emplace_back(std::string(key), std::string(value.begin(), value.end()));
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok()) << status.message();
  return out;
}

TEST(ExternalSorterTest, OneRunIsSortedInMemoryBytewise) {
  TempDir dir;
  ExternalSorter sorter(dir.path(), 1 << 20);
  // Bytewise, as LMDB orders keys: a prefix first, a high byte last.
  for (std::string key : {"B", "AB", "\xC3\xA9", "A", "AA", ""}) {
    ASSERT_TRUE(sorter.Add(key, AsBytes("v" + key)).ok());
  }
  auto out = Drain(sorter);
  std::vector<std::string> keys;
  for (const auto& [key, value] : out) {
    keys.push_back(key);
    EXPECT_EQ(value, "v" + key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"", "A", "AA", "AB", "B", "\xC3\xA9"}));
  EXPECT_EQ(sorter.runs_written(), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

// Many runs merged agree with a plain sort, entry for entry, and a second
// ForEach gives the same again.
TEST(ExternalSorterTest, ManyRunsMergeIntoOneOrder) {
  TempDir dir;
  ExternalSorter sorter(dir.path(), 8 << 10);
  std::vector<std::pair<std::string, std::string>> reference;
  uint64_t x = 42;
  for (int i = 0; i < 20000; ++i) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    std::string key = "VSST" + std::to_string((x >> 33) % 1000000);
    std::string value = std::to_string(i);
    reference.emplace_back(key, value);
    ASSERT_TRUE(sorter.Add(key, AsBytes(value)).ok());
  }
  EXPECT_GT(sorter.runs_written(), 10u);
  EXPECT_EQ(sorter.size(), 20000u);
  auto out = Drain(sorter);
  ASSERT_EQ(out.size(), reference.size());
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; }));
  // Equal keys may come in any order: compare as sorted (key, value) lists.
  auto got = out;
  std::sort(got.begin(), got.end());
  std::sort(reference.begin(), reference.end());
  EXPECT_EQ(got, reference);
  EXPECT_EQ(Drain(sorter), out);
}

// An entry larger than a reader's buffer (64 KiB at least) is read back
// whole across several reads.
TEST(ExternalSorterTest, EntriesLargerThanAReadBufferComeBackWhole) {
  TempDir dir;
  ExternalSorter sorter(dir.path(), 1 << 10);
  std::string big_a(200 << 10, 'a'), big_b(150 << 10, 'b');
  ASSERT_TRUE(sorter.Add("k2", AsBytes(big_b)).ok());
  ASSERT_TRUE(sorter.Add("k1", AsBytes(big_a)).ok());
  ASSERT_TRUE(sorter.Add("k3", {}).ok());
  auto out = Drain(sorter);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], std::make_pair(std::string("k1"), big_a));
  EXPECT_EQ(out[1], std::make_pair(std::string("k2"), big_b));
  EXPECT_EQ(out[2], std::make_pair(std::string("k3"), std::string()));
}

// The spilled runs live in a file with no name: the directory stays empty
// while they are read, and nothing is left to remove after a kill -9.
TEST(ExternalSorterTest, TheTemporaryFileHasNoName) {
  TempDir dir;
  ExternalSorter sorter(dir.path(), 64);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(sorter.Add(std::to_string(i), AsBytes("x")).ok());
  ASSERT_GT(sorter.runs_written(), 1u);
  size_t seen = 0;
  Status status = sorter.ForEach([&](std::string_view, std::span<const uint8_t>) {
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
    ++seen;
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(seen, 100u);
}

TEST(ExternalSorterTest, StopsAtTheVisitorsError) {
  TempDir dir;
  ExternalSorter sorter(dir.path(), 64);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(sorter.Add(std::to_string(100 + i), AsBytes("")).ok());
  int calls = 0;
  Status status = sorter.ForEach([&](std::string_view key, std::span<const uint8_t>) {
    ++calls;
    return key == "105" ? Status::InvalidArgument("stop here") : Status::Ok();
  });
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 6);
  EXPECT_EQ(sorter.Add("late", AsBytes("")).code(), StatusCode::kInternal);
}

// A directory that cannot take the file fails the Add that first needs it,
// naming the directory and what to do.
TEST(ExternalSorterTest, ADirectoryItCannotWriteIsAClearError) {
  TempDir dir;
  ExternalSorter sorter(dir.File("missing"), 64);
  Status status;
  for (int i = 0; i < 100 && status.ok(); ++i) status = sorter.Add(std::to_string(i), AsBytes("x"));
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_NE(status.message().find(dir.File("missing")), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("TMPDIR"), std::string::npos) << status.message();
  // Broken for good: the runs it had are no longer known.
  EXPECT_EQ(sorter.Add("more", AsBytes("x")).message(), status.message());
  EXPECT_EQ(sorter.ForEach([](std::string_view, std::span<const uint8_t>) { return Status::Ok(); })
                .message(),
            status.message());
}

// Told how many entries will come, it refuses at the first spill if the
// file system cannot take them all and keep kTemporarySpaceReserve free.
TEST(ExternalSorterTest, RefusesToSpillWithoutRoomForEverything) {
  TempDir dir;
  ExternalSorter sorter(dir.path(), 64, /*expected_entries=*/size_t{1} << 50);
  Status status;
  for (int i = 0; i < 100 && status.ok(); ++i) status = sorter.Add(std::to_string(i), AsBytes("x"));
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("of temporary space in " + dir.path()), std::string::npos)
      << status.message();
  ExternalSorter modest(dir.path(), 64, /*expected_entries=*/100);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(modest.Add(std::to_string(i), AsBytes("x")).ok());
  EXPECT_GT(modest.runs_written(), 1u);
}

TEST(ExternalSorterTest, TemporaryDirectoryIsTmpdirIfAbsolute) {
  const char* saved = std::getenv("TMPDIR");
  std::string restore = saved != nullptr ? saved : "";
  ::setenv("TMPDIR", "/srv/scratch", 1);
  EXPECT_EQ(TemporaryDirectory(), "/srv/scratch");
  ::setenv("TMPDIR", "relative/dir", 1);
  EXPECT_EQ(TemporaryDirectory(), "/var/tmp");
  ::unsetenv("TMPDIR");
  EXPECT_EQ(TemporaryDirectory(), "/var/tmp");
  if (saved != nullptr) ::setenv("TMPDIR", restore.c_str(), 1);
}

}  // namespace
}  // namespace otpgate
