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
  auto store = Store::Open({.path = dir.File("absent")});
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  struct stat st;
  EXPECT_NE(::stat(dir.File("absent").c_str(), &st), 0) << "must not create anything";
}

TEST(LmdbStoreTest, CreatesPrivateFilesAndRoundTrips) {
  TempDir dir;
  auto store = Store::Open({.path = dir.File("s"), .create = true});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  struct stat st;
  ASSERT_EQ(::stat(dir.File("s").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat(dir.File("s/data.mdb").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  ASSERT_TRUE((*store)->Write([](Txn& txn) {
    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("A1")));
    OTPGATE_RETURN_IF_ERROR(txn.AddUserToken("alice", "A1"));
    OTPGATE_RETURN_IF_ERROR(txn.AddUserToken("alice", "A2"));
    return txn.AddUserToken("alice", "A1");  // duplicate: no-op
  }).ok());
  ASSERT_TRUE((*store)->Read([](Txn& txn) -> Status {
    EXPECT_TRUE(txn.GetToken("A1").ok());
    EXPECT_EQ(txn.GetToken("B").status().code(), StatusCode::kNotFound);
    EXPECT_EQ(txn.UserTokens("alice").value(), (std::vector<std::string>{"A1", "A2"}));
    EXPECT_TRUE(txn.UserTokens("nobody").value().empty());
    EXPECT_FALSE(txn.PutToken(Record("X")).ok()) << "read-only transaction wrote";
    return Status::Ok();
  }).ok());
}

TEST(LmdbStoreTest, FailedWriteChangesNothing) {
  TempDir dir;
  auto store = Store::Open({.path = dir.File("s"), .create = true}).value();
  Status status = store->Write([](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("A1")));
    return Status::InvalidArgument("changed my mind");
  });
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(store->Read([](Txn& txn) {
    EXPECT_FALSE(txn.HasToken("A1"));
    return Status::Ok();
  }).ok());
}

TEST(LmdbStoreTest, WriteGroupIsolatesAFailingMember) {
  TempDir dir;
  auto store = Store::Open({.path = dir.File("s"), .create = true}).value();
  std::function<Status(Txn&)> put_a = [](Txn& txn) { return txn.PutToken(Record("A")); };
  std::function<Status(Txn&)> put_b_then_fail = [](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("B")));
    return Status::InvalidArgument("bad request");
  };
  // Sees A, written by an earlier member of the same group.
  std::function<Status(Txn&)> put_c_if_a = [](Txn& txn) -> Status {
    if (!txn.HasToken("A")) return Status::Internal("A not visible");
    return txn.PutToken(Record("C"));
  };
  std::vector<const std::function<Status(Txn&)>*> fns = {&put_a, &put_b_then_fail, &put_c_if_a};
  std::vector<Status> results(3);
  ASSERT_TRUE(store->WriteGroup(fns, results).ok());
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(results[2].ok()) << results[2].ToString();
  ASSERT_TRUE(store->Read([](Txn& txn) {
    EXPECT_TRUE(txn.HasToken("A"));
    EXPECT_FALSE(txn.HasToken("B"));
    EXPECT_TRUE(txn.HasToken("C"));
    return Status::Ok();
  }).ok());
}

TEST(LmdbStoreTest, RefusesStoreReadableByOthers) {
  TempDir dir;
  { ASSERT_TRUE(Store::Open({.path = dir.File("s"), .create = true}).ok()); }
  ASSERT_EQ(::chmod(dir.File("s/data.mdb").c_str(), 0644), 0);
  // A fresh process would not reuse the cached environment: use a child.
  pid_t pid = ::fork();
  if (pid == 0) {
    auto store = Store::Open({.path = dir.File("s")});
    _exit(store.status().code() == StatusCode::kPermissionDenied ? 0 : 1);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
}

TEST(LmdbStoreTest, GrowsTheMapWhenFull) {
  TempDir dir;
  StoreOptions options{.path = dir.File("s"), .create = true, .initial_map_bytes = 256 * 1024};
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
  StoreOptions options{.path = dir.File("s"), .create = true, .initial_map_bytes = 128 * 1024,
                       .max_map_bytes = 256 * 1024};
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
  auto a = Store::Open({.path = dir.File("s"), .create = true}).value();
  auto b = Store::Open({.path = dir.File("s")}).value();
  EXPECT_EQ(a.get(), b.get());
  pid_t pid = ::fork();
  if (pid == 0) {
    // The inherited handle refuses to work; Open gives the child its own.
    bool inherited_refused = !a->Read([](Txn&) { return Status::Ok(); }).ok();
    auto c = Store::Open({.path = dir.File("s")});
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

TEST(LmdbStoreTest, RejectsUnknownSchema) {
  TempDir dir;
  {
    auto store = Store::Open({.path = dir.File("s"), .create = true}).value();
    uint8_t v2[4] = {2, 0, 0, 0};
    ASSERT_TRUE(store->Write([&](Txn& txn) { return txn.PutMeta("schema", v2); }).ok());
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    auto store = Store::Open({.path = dir.File("s")});
    _exit(store.status().code() == StatusCode::kCorrupt ? 0 : 1);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
}

}  // namespace
}  // namespace otpgate
