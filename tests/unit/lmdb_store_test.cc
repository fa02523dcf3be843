// LMDB-specific behaviour of the store; the contract shared by every backend
// is tested in store_test.cc.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "otpgate/store.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::TempDir;

TokenRecord Record(const std::string& id, size_t secret_bytes = 49) {
  TokenRecord r;
  r.credential_id = id;
  r.sealed_secret = std::vector<uint8_t>(secret_bytes, 7);
  return r;
}

TEST(LmdbStoreTest, MissingStoreIsUnavailable) {
  TempDir dir;
  auto store = Store::Open({.location = dir.File("absent")});
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  struct stat st;
  EXPECT_NE(::stat(dir.File("absent").c_str(), &st), 0) << "must not create anything";
}

TEST(LmdbStoreTest, CreatesPrivateFiles) {
  TempDir dir;
  auto store = Store::Open({.location = dir.File("s"), .create = true});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  struct stat st;
  ASSERT_EQ(::stat(dir.File("s").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat(dir.File("s/data.mdb").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(LmdbStoreTest, RefusesStoreReadableByOthers) {
  TempDir dir;
  { ASSERT_TRUE(Store::Open({.location = dir.File("s"), .create = true}).ok()); }
  ASSERT_EQ(::chmod(dir.File("s/data.mdb").c_str(), 0644), 0);
  // A fresh process would not reuse the cached environment: use a child.
  pid_t pid = ::fork();
  if (pid == 0) {
    auto store = Store::Open({.location = dir.File("s")});
    _exit(store.status().code() == StatusCode::kPermissionDenied ? 0 : 1);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
}

TEST(LmdbStoreTest, GrowsTheMapWhenFull) {
  TempDir dir;
  StoreOptions options{.location = dir.File("s"), .create = true,
                       .lmdb = {.initial_map_bytes = 256 * 1024}};
  auto store = Store::Open(options).value();
  size_t before = store->map_size();
  // ~20,000 records of ~200 bytes: several MiB, far more than 256 KiB.
  for (int batch = 0; batch < 20; ++batch) {
    Status status = store->Write([&](Txn& txn) -> Status {
      for (int i = 0; i < 1000; ++i) {
        OTPGATE_RETURN_IF_ERROR(
            txn.PutToken(Record("T" + std::to_string(batch * 1000 + i), 120)));
      }
      return Status::Ok();
    });
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
  EXPECT_GT(store->map_size(), before);
  size_t count = 0;
  ASSERT_TRUE(store->Read([&](Txn& txn) {
    return txn.ForEachToken([&](const TokenRecord&) {
      ++count;
      return Status::Ok();
    });
  }).ok());
  EXPECT_EQ(count, 20000u);
}

TEST(LmdbStoreTest, FullAtMaximumIsStoreFullAndChangesNothing) {
  TempDir dir;
  StoreOptions options{.location = dir.File("s"), .create = true,
                       .lmdb = {.initial_map_bytes = 128 * 1024, .max_map_bytes = 256 * 1024}};
  auto store = Store::Open(options).value();
  Status status = store->Write([&](Txn& txn) -> Status {
    for (int i = 0; i < 5000; ++i) {
      OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("T" + std::to_string(i), 120)));
    }
    return Status::Ok();
  });
  EXPECT_EQ(status.code(), StatusCode::kStoreFull);
  ASSERT_TRUE(store->Read([](Txn& txn) {
    EXPECT_FALSE(txn.HasToken("T0"));
    return Status::Ok();
  }).ok());
}

TEST(LmdbStoreTest, OneEnvironmentPerPathAndANewOneAfterFork) {
  TempDir dir;
  auto a = Store::Open({.location = dir.File("s"), .create = true}).value();
  auto b = Store::Open({.location = dir.File("s")}).value();
  EXPECT_EQ(a.get(), b.get());
  pid_t pid = ::fork();
  if (pid == 0) {
    // The inherited handle refuses to work; Open gives the child its own.
    bool inherited_refused = !a->Read([](Txn&) { return Status::Ok(); }).ok();
    auto c = Store::Open({.location = dir.File("s")});
    bool fresh = c.ok() && c->get() != a.get();
    bool works = fresh && (*c)->Write([](Txn& txn) { return txn.PutToken(Record("child")); }).ok();
    _exit(inherited_refused && works ? 0 : 1);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  ASSERT_TRUE(a->Read([](Txn& txn) {
    EXPECT_TRUE(txn.HasToken("child"));
    return Status::Ok();
  }).ok());
}

}  // namespace
}  // namespace otpgate
